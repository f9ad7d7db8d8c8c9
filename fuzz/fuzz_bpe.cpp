// Arbitrary bytes through the shipped model's tokenizer (models/attune-small/tokenizer.json, or
// $ATTUNE_FUZZ_TOKENIZER): encoding never crashes, and byte-level BPE gives back exactly the
// (NFC-normalised) text it was given; the streaming decoder agrees with decode().
#include <cstdlib>

#include "attune/error.h"
#include "fuzz_util.h"
#include "text/tokenizer.h"
#include "text/unicode.h"

namespace {

const attune::text::Tokenizer& tokenizer() {
  static const attune::text::Tokenizer tok = [] {
    const char* env = std::getenv("ATTUNE_FUZZ_TOKENIZER");
    return attune::text::Tokenizer::load(env && *env ? env : ATTUNE_FUZZ_DEFAULT_TOKENIZER);
  }();
  return tok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& tok = tokenizer();
  const std::string_view text = attune::fuzz::as_text(data, size);
  const auto ids = tok.encode_ordinary(text);
  for (int32_t id : ids) {
    if (id < 0 || id >= tok.vocab_size()) std::abort();
  }
  const std::string back = tok.decode(ids);
  if (back != text && back != attune::text::unicode::nfc(text)) std::abort();
  // Pieces streamed one id at a time add up to decode(), in both decoding modes.
  for (bool replace : {false, true}) {
    attune::text::StreamDecoder stream(tok, {.replace_invalid = replace});
    std::string pieces;
    for (int32_t id : ids) pieces += stream.push(id);
    pieces += stream.finish();
    if (pieces != tok.decode(ids, {.replace_invalid = replace})) std::abort();
  }
  (void)tok.encode(text);  // special tokens written in the text become their ids
  return 0;
}
