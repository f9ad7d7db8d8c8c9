#include "common/json_brief.h"

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace attune::common {

namespace {
constexpr size_t kMaxDumpDepth = 8;
constexpr size_t kMaxDumpNodes = 256;  // dump() of more than this could be long, even if shallow
}  // namespace

namespace {

struct Shape {
  size_t nodes = 0, deepest = 0;
};

// One walk without recursion, stopped as soon as it passes `max_nodes` or `max_depth`.
Shape walk(const nlohmann::json& value, size_t max_nodes, size_t max_depth) {
  Shape shape;
  std::vector<std::pair<const nlohmann::json*, size_t>> stack{{&value, 1}};
  while (!stack.empty() && shape.nodes <= max_nodes && shape.deepest <= max_depth) {
    auto [node, depth] = stack.back();
    stack.pop_back();
    ++shape.nodes;
    shape.deepest = std::max(shape.deepest, depth);
    if (node->is_structured()) {
      for (const nlohmann::json& child : *node) stack.emplace_back(&child, depth + 1);
    }
  }
  return shape;
}

// At most `max_bytes` of `s`, never ending inside a UTF-8 sequence: half a character makes the
// text invalid UTF-8, which a strict JSON dump of the message (inspect --json) then refuses.
std::string utf8_prefix(const std::string& s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

}  // namespace

size_t json_depth(const nlohmann::json& value, size_t limit) {
  return walk(value, std::numeric_limits<size_t>::max(), limit).deepest;
}

std::string json_brief(const nlohmann::json& value, size_t max_chars) {
  if (value.is_string() && value.get_ref<const std::string&>().size() > max_chars) {
    return json_brief(nlohmann::json(utf8_prefix(value.get_ref<const std::string&>(), max_chars)), max_chars);
  }
  const Shape shape = walk(value, kMaxDumpNodes, kMaxDumpDepth);
  if (shape.nodes <= kMaxDumpNodes && shape.deepest <= kMaxDumpDepth) {
    std::string s = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return s.size() > max_chars ? utf8_prefix(s, max_chars > 3 ? max_chars - 3 : 0) + "..." : s;
  }
  const char* kind = value.is_array() ? "an array of " : "an object of ";
  const char* unit = value.is_array() ? " items" : " keys";
  std::string s = kind + std::to_string(value.size()) + unit;
  // The node budget may stop the walk before the depth shows: measure the depth on its own then.
  if (json_depth(value, kMaxDumpDepth) > kMaxDumpDepth) {
    s += " nested deeper than " + std::to_string(kMaxDumpDepth) + " levels";
  }
  return s;
}

}  // namespace attune::common
