#include "cli/id_list.h"

#include <cctype>
#include <climits>

#include "attune/error.h"

namespace attune::cli {

std::vector<int32_t> parse_id_list(std::string_view text, const std::string& source) {
  auto separator = [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) || c == ',' || c == '[' || c == ']';
  };
  std::vector<int32_t> ids;
  for (size_t i = 0; i < text.size();) {
    if (separator(text[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && !separator(text[j])) ++j;
    const std::string word(text.substr(i, j - i));
    size_t used = 0;
    long long value = -1;
    try {
      value = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size() || value < 0 || value > INT32_MAX) {
      throw InputError(
          source, "id " + std::to_string(ids.size() + 1) + " is \"" + word + "\", expected a non-negative integer");
    }
    ids.push_back(static_cast<int32_t>(value));
    i = j;
  }
  return ids;
}

}  // namespace attune::cli
