// Helpers shared by the test suites: where ../shared and the source tree are, temp dirs, and
// running the `attune` binary.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "attune/error.h"

namespace attune::testing {

// The message of the E that `fn` throws, or "(no error)" when it throws none.
template <typename E = Error, typename Fn>
std::string error_message_of(Fn&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}

// ../shared (ATTUNE_SHARED_DIR), or nullopt when it is absent on this machine.
std::optional<std::filesystem::path> shared_dir();
// The repository root (ATTUNE_SOURCE_DIR).
std::filesystem::path source_dir();
// tests/fixtures in the source tree.
std::filesystem::path fixtures_dir();

// A fresh directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};
// The `attune` binary under test (ATTUNE_BIN, else the one this build made).
std::string attune_bin();
// Runs `attune ARGS` (ATTUNE_BIN) through the shell; stdin from /dev/null unless `stdin_text` is set.
// `env` ("NAME=value ...") goes in front of the command.
CommandResult run_attune(const std::string& args, const std::optional<std::string>& stdin_text = std::nullopt,
                         const std::string& env = "");

// Runs a shell command line with stdin from /dev/null (or `stdin_text`), capturing both outputs.
CommandResult run_shell(const std::string& command, const std::optional<std::string>& stdin_text = std::nullopt);

// True when the environment says CI=true (as CI services set it).
bool running_in_ci();

// An ASCII string as one string per character, as the CTC transcripts are held ("ab" -> {"a", "b"}).
std::vector<std::string> ascii_chars(const std::string& s);

// Writes bytes to a file (for building malformed inputs).
void write_bytes(const std::filesystem::path& path, const std::string& bytes);

}  // namespace attune::testing

// Skips the current test, with a message saying why, when ../shared is absent; under CI (CI=true),
// where ../shared is always there, its absence fails the test instead of hiding it as a skip.
#define ATTUNE_REQUIRE_SHARED(var)                                                                           \
  auto var##_opt = ::attune::testing::shared_dir();                                                          \
  if (!var##_opt && ::attune::testing::running_in_ci()) GTEST_FAIL() << "../shared not found under CI=true"; \
  if (!var##_opt) GTEST_SKIP() << "../shared not found (set ATTUNE_SHARED_DIR); skipping this check";        \
  const std::filesystem::path var = *var##_opt
