// tokenizer.json files: Tokenizer::from_json_text loads them or throws attune::Error. A tokenizer
// that loads must encode and decode text without crashing, and decode what it encodes.
#include "attune/error.h"
#include "fuzz_util.h"
#include "text/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto tok = attune::text::Tokenizer::from_json_text(attune::fuzz::as_text(data, size), "fuzz.json");
    for (const char* text :
         {"Hello world, I lost my job today.", "<|im_start|>user\n\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80", " \n\t  x"}) {
      const auto ids = tok.encode(text);
      (void)tok.decode(ids, {.replace_invalid = true});
    }
    (void)tok.describe();
  } catch (const attune::Error&) {
  }
  return 0;
}
