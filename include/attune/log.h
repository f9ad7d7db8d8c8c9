// Where attune's log lines go. By default they go to stderr (warnings and errors; info with
// `attune --verbose`). An embedding program can take them instead, e.g. into its own logger.
#pragma once

#include <functional>
#include <string_view>

#include "attune/export.h"

namespace attune {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// Called once per log line, without the trailing newline, from whichever thread logged it (so it must
// be thread-safe). An empty function restores the default (stderr).
using LogCallback = std::function<void(LogLevel level, std::string_view line)>;
ATTUNE_API void set_log_callback(LogCallback callback);
// Lines below `level` are dropped (default kInfo).
ATTUNE_API void set_log_level(LogLevel level);

}  // namespace attune
