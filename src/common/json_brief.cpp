#include "common/json_brief.h"

#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace attune::common {

namespace {
constexpr size_t kMaxDumpDepth = 8;
constexpr size_t kMaxDumpNodes = 256;  // dump() of more than this could be long, even if shallow
}  // namespace

size_t json_depth(const nlohmann::json& value, size_t limit) {
  size_t deepest = 0;
  std::vector<std::pair<const nlohmann::json*, size_t>> stack{{&value, 1}};
  while (!stack.empty()) {
    auto [node, depth] = stack.back();
    stack.pop_back();
    deepest = std::max(deepest, depth);
    if (deepest > limit) return deepest;
    if (node->is_structured()) {
      for (const nlohmann::json& child : *node) stack.emplace_back(&child, depth + 1);
    }
  }
  return deepest;
}

std::string json_brief(const nlohmann::json& value, size_t max_chars) {
  if (value.is_string() && value.get_ref<const std::string&>().size() > max_chars) {
    return json_brief(nlohmann::json(value.get_ref<const std::string&>().substr(0, max_chars)), max_chars);
  }
  size_t nodes = 0;
  std::vector<const nlohmann::json*> stack{&value};
  while (!stack.empty() && nodes <= kMaxDumpNodes) {
    const nlohmann::json* node = stack.back();
    stack.pop_back();
    ++nodes;
    if (node->is_structured()) {
      for (const nlohmann::json& child : *node) stack.push_back(&child);
    }
  }
  const size_t depth = json_depth(value, kMaxDumpDepth);
  if (nodes <= kMaxDumpNodes && depth <= kMaxDumpDepth) {
    std::string s = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return s.size() > max_chars ? s.substr(0, max_chars > 3 ? max_chars - 3 : 0) + "..." : s;
  }
  const char* kind = value.is_array() ? "an array of " : "an object of ";
  const char* unit = value.is_array() ? " items" : " keys";
  std::string s = kind + std::to_string(value.size()) + unit;
  if (depth > kMaxDumpDepth) s += " nested deeper than " + std::to_string(kMaxDumpDepth) + " levels";
  return s;
}

}  // namespace attune::common
