// Standard base64 (RFC 4648, with padding): audio travels this way in OpenAI-style JSON.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace attune::common {

std::string base64_encode(std::string_view bytes);

// The decoded bytes, or nullopt when `text` is not base64 (a character outside the alphabet, bad
// padding or length). Whitespace (line breaks from MIME encoders) is skipped.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace attune::common
