// Subcommand registry of the `attune` binary. Each subcommand lives in its own file and registers
// itself at start-up:
//
//   static const bool registered = register_command({"features", "Analyse audio files",
//       [](CLI::App& app) -> Action { auto opts = std::make_shared<Opts>(); app.add_option(...);
//                                     return [opts] { ...; return 0; }; }});
//
// `setup` adds the subcommand's options and returns the action main() runs after parsing.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace attune::cli {

using Action = std::function<int()>;

struct Command {
  std::string name;
  std::string description;
  std::function<Action(CLI::App&)> setup;
};

bool register_command(Command command);
// Sorted by name.
std::vector<Command> registered_commands();

// Options every subcommand honours, parsed by main().
struct GlobalOptions {
  int threads = 0;  // 0: all cores
  std::string log_level = "info";
};
const GlobalOptions& global_options();

}  // namespace attune::cli
