// POST /v1/chat/completions bodies: parse_chat_request either accepts the body or throws ApiError
// (a 4xx naming the field); audio inside it goes through base64 and the audio decoders.
#include "attune/error.h"
#include "fuzz_util.h"
#include "serve/api_error.h"
#include "serve/chat_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  attune::serve::RequestLimits limits;
  limits.max_audio_seconds = 5;  // the server's default is 60; 5 keeps each run fast
  try {
    attune::serve::parse_chat_request(std::string(attune::fuzz::as_text(data, size)), limits);
  } catch (const attune::serve::ApiError& e) {
    if (e.status() < 400 || e.status() >= 500) std::abort();  // a client's error is never a 5xx
  }
  return 0;
}
