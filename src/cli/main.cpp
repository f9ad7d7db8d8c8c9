// `attune`: one binary, one subcommand per file of src/cli. Errors a user can cause print one line
// ("attune: error: PATH: what was wrong") and exit 1; usage errors exit 2.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <map>
#include <thread>

#include "attune/error.h"
#include "attune/version.h"
#include "cli/command.h"
#include "common/logging.h"
#include "common/memory.h"

namespace attune::cli {
namespace {
std::vector<Command>& registry() {
  static std::vector<Command> commands;
  return commands;
}
GlobalOptions& mutable_global_options() {
  static GlobalOptions options;
  return options;
}
}  // namespace

bool register_command(Command command) {
  registry().push_back(std::move(command));
  return true;
}

std::vector<Command> registered_commands() {
  auto commands = registry();
  std::sort(commands.begin(), commands.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return commands;
}

const GlobalOptions& global_options() { return mutable_global_options(); }

}  // namespace attune::cli

int main(int argc, char** argv) {
  using namespace attune;
  CLI::App app{"attune: emotionally intelligent spoken dialogue (IEAT, arXiv 2601.04960)", "attune"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("attune ") + kVersion);
  auto& globals = cli::mutable_global_options();
  app.add_option("--threads", globals.threads, "Worker threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--log-level", globals.log_level, "trace, debug, info, warn, error or off")->capture_default_str();

  std::map<CLI::App*, cli::Action> actions;
  for (auto& command : cli::registered_commands()) {
    CLI::App* sub = app.add_subcommand(command.name, command.description);
    sub->fallthrough();  // global options may also follow the subcommand
    actions[sub] = command.setup(*sub);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);  // prints help, version or the usage error
    return code == 0 ? 0 : 2;
  }

  try {
    common::set_log_level(globals.log_level);
    if (globals.threads == 0) globals.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (auto& [sub, action] : actions) {
      if (!sub->parsed()) continue;
      if (sub->get_name() == "train") common::reexec_with_huge_page_malloc(argv);  // 4x faster steps
      return action();
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "attune: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "attune: internal error: %s\n", e.what());
    return 3;
  }
  return 0;
}
