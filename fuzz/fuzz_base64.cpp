// base64 (the audio of every chat request): decoding arbitrary text never crashes, and encoding
// then decoding any bytes gives them back.
#include <cstdlib>

#include "common/base64.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace attune::common;
  const std::string_view input = attune::fuzz::as_text(data, size);
  if (auto decoded = base64_decode(input)) {
    // What decodes re-encodes to text that decodes to the same bytes.
    auto again = base64_decode(base64_encode(*decoded));
    if (!again || *again != *decoded) std::abort();
  }
  auto round = base64_decode(base64_encode(input));
  if (!round || *round != input) std::abort();
  return 0;
}
