#include "common/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "attune/error.h"

namespace attune::common {

void set_log_level(const std::string& level) {
  static const bool configured = [] {
    auto logger = spdlog::stderr_color_mt("attune");
    logger->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    spdlog::set_default_logger(logger);
    return true;
  }();
  (void)configured;
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    throw ConfigError("--log-level: unknown level '" + level + "', expected trace, debug, info, warn, error or off");
  }
  spdlog::set_level(parsed);
}

}  // namespace attune::common
