// Logging goes to stderr through spdlog; results go to stdout. One place sets the level.
#pragma once

#include <string>

namespace attune::common {

// Accepts trace, debug, info, warn, error, off (what `--log-level` takes); throws ConfigError otherwise.
void set_log_level(const std::string& level);

}  // namespace attune::common
