#include "support/test_support.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

namespace fs = std::filesystem;

namespace attune::testing {

std::optional<fs::path> shared_dir() {
  const char* env = std::getenv("ATTUNE_SHARED_DIR");
  fs::path dir = env ? fs::path(env) : fs::path(ATTUNE_DEFAULT_SHARED_DIR);
  if (fs::is_directory(dir / "fixtures") || fs::is_directory(dir / "data")) return fs::canonical(dir);
  return std::nullopt;
}

fs::path source_dir() {
  const char* env = std::getenv("ATTUNE_SOURCE_DIR");
  return env ? fs::path(env) : fs::path(ATTUNE_DEFAULT_SOURCE_DIR);
}

fs::path fixtures_dir() { return source_dir() / "tests" / "fixtures"; }

TempDir::TempDir() {
  std::random_device rd;
  path_ = fs::temp_directory_path() / ("attune_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

static std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string attune_bin() {
  const char* bin = std::getenv("ATTUNE_BIN");
  return bin ? bin : ATTUNE_DEFAULT_BIN;
}

CommandResult run_attune(const std::string& args, const std::optional<std::string>& stdin_text,
                         const std::string& env) {
  return run_shell(env + attune_bin() + " " + args, stdin_text);
}

CommandResult run_shell(const std::string& command, const std::optional<std::string>& stdin_text) {
  TempDir tmp;
  std::string in = "/dev/null";
  if (stdin_text) {
    write_bytes(tmp / "stdin", *stdin_text);
    in = (tmp / "stdin").string();
  }
  const std::string cmd = command + " <" + in + " >" + (tmp / "out").string() + " 2>" + (tmp / "err").string();
  int status = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(tmp / "out");
  r.err = slurp(tmp / "err");
  return r;
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

bool running_in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string_view(ci) == "true";
}

std::vector<std::string> ascii_chars(const std::string& s) {
  std::vector<std::string> out;
  for (char c : s) out.emplace_back(1, c);
  return out;
}

}  // namespace attune::testing
