// Token ids typed by a user: separated by white space or commas, optionally in brackets
// ("1,2,3", "[1, 2, 3]", "1 2 3"). Shared by `tokenize --decode` and `generate --prompt-ids`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace attune::cli {

// Throws InputError(source, "id N is \"WORD\", expected a non-negative integer") for a bad word.
std::vector<int32_t> parse_id_list(std::string_view text, const std::string& source);

}  // namespace attune::cli
