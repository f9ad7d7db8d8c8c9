#include "common/logging.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>

#include "attune/error.h"
#include "attune/log.h"

namespace attune {
namespace {

LogLevel level_of(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return LogLevel::kDebug;
    case spdlog::level::info:
      return LogLevel::kInfo;
    case spdlog::level::warn:
      return LogLevel::kWarning;
    default:
      return LogLevel::kError;
  }
}

// Hands each formatted line's text to the embedding program.
class CallbackSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit CallbackSink(LogCallback callback) : callback_(std::move(callback)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    callback_(level_of(msg.level), std::string_view(msg.payload.data(), msg.payload.size()));
  }
  void flush_() override {}

 private:
  LogCallback callback_;
};

std::shared_ptr<spdlog::logger> stderr_logger() {
  auto logger = std::make_shared<spdlog::logger>("attune", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  logger->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
  return logger;
}

std::mutex& logger_mutex() {
  static std::mutex m;
  return m;
}

// The default logger is attune's from the first use on (the level survives a change of sink).
void install(std::shared_ptr<spdlog::logger> logger) {
  logger->set_level(spdlog::default_logger()->level());
  spdlog::set_default_logger(std::move(logger));
}

void ensure_configured() {
  static const bool configured = [] {
    install(stderr_logger());
    return true;
  }();
  (void)configured;
}

}  // namespace

void set_log_callback(LogCallback callback) {
  std::lock_guard lock(logger_mutex());
  ensure_configured();
  install(callback ? std::make_shared<spdlog::logger>("attune", std::make_shared<CallbackSink>(std::move(callback)))
                   : stderr_logger());
}

void set_log_level(LogLevel level) {
  std::lock_guard lock(logger_mutex());
  ensure_configured();
  constexpr spdlog::level::level_enum kLevels[] = {spdlog::level::debug, spdlog::level::info, spdlog::level::warn,
                                                   spdlog::level::err};
  spdlog::set_level(kLevels[static_cast<int>(level)]);
}

}  // namespace attune

namespace attune::common {

void set_log_level(const std::string& level) {
  {
    std::lock_guard lock(logger_mutex());
    ensure_configured();
  }
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    throw ConfigError("--log-level: unknown level '" + level + "', expected trace, debug, info, warn, error or off");
  }
  spdlog::set_level(parsed);
}

}  // namespace attune::common
