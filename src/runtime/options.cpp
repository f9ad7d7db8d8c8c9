// Names of the runtime's enums (attune/runtime.h), as the CLI, the JSON outputs and the server use them.
#include <fmt/format.h>

#include <string>
#include <utility>

#include "attune/error.h"
#include "attune/runtime.h"

namespace attune {
namespace {

template <typename Enum, size_t N>
Enum parse_name(std::string_view name, const std::pair<std::string_view, Enum> (&names)[N], const char* what) {
  std::string known;
  for (const auto& [text, value] : names) {
    if (text == name) return value;
    known += (known.empty() ? "" : ", ") + std::string(text);
  }
  throw ConfigError(fmt::format("{} '{}': expected one of {}", what, name, known));
}

constexpr std::pair<std::string_view, Dtype> kDtypes[] = {
    {"auto", Dtype::kAuto}, {"fp32", Dtype::kFp32}, {"bf16", Dtype::kBf16}, {"int8", Dtype::kInt8}};
constexpr std::pair<std::string_view, SpeechEngine> kEngines[] = {
    {"auto", SpeechEngine::kAuto}, {"espeak", SpeechEngine::kEspeak}, {"flite", SpeechEngine::kFlite}};
constexpr std::pair<std::string_view, StopReason> kStopReasons[] = {{"stop token", StopReason::kStopToken},
                                                                    {"stop string", StopReason::kStopString},
                                                                    {"max tokens", StopReason::kMaxTokens},
                                                                    {"context full", StopReason::kContextFull},
                                                                    {"cancelled", StopReason::kCancelled}};

template <typename Enum, size_t N>
std::string_view name_of(Enum value, const std::pair<std::string_view, Enum> (&names)[N]) {
  for (const auto& [text, v] : names) {
    if (v == value) return text;
  }
  return "?";
}

}  // namespace

std::string_view to_string(Dtype dtype) { return name_of(dtype, kDtypes); }
std::string_view to_string(SpeechEngine engine) { return name_of(engine, kEngines); }
std::string_view to_string(StopReason reason) { return name_of(reason, kStopReasons); }

std::string to_string(const Device& device) {
  switch (device.kind) {
    case Device::Kind::kAuto:
      return "auto";
    case Device::Kind::kCpu:
      return "cpu";
    case Device::Kind::kCuda:
      return fmt::format("cuda:{}", device.index);
  }
  return "?";
}

Dtype parse_dtype(std::string_view name) { return parse_name(name, kDtypes, "dtype"); }
SpeechEngine parse_speech_engine(std::string_view name) { return parse_name(name, kEngines, "speech engine"); }

Device parse_device(std::string_view name) {
  if (name == "auto") return {};
  if (name == "cpu") return {Device::Kind::kCpu, 0};
  if (name == "cuda") return {Device::Kind::kCuda, 0};
  if (name.substr(0, 5) == "cuda:" && name.size() > 5 && name.size() <= 8) {
    int index = 0;
    bool digits = true;
    for (char c : name.substr(5)) {
      digits = digits && c >= '0' && c <= '9';
      index = index * 10 + (c - '0');
    }
    if (digits) return {Device::Kind::kCuda, index};
  }
  throw ConfigError(fmt::format("device '{}': expected auto, cpu, cuda or cuda:N", name));
}

}  // namespace attune
