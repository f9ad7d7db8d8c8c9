// The request framing both synthesis servers (attune-espeak, attune-flite) read: a header line
// "SYNTH <fields> <n bytes>\n" followed by n bytes of text. Header-only and dependency-free, so the
// GPL-3.0 attune-espeak can include it as well as attune-flite.
#pragma once

#include <cstdio>
#include <string>

namespace attune::tts {

inline constexpr unsigned long kMaxRequestBytes = 1ul << 24;

// "ERR <what>\n" on stdout, flushed.
inline void reply_error(const char* what) {
  std::printf("ERR %s\n", what);
  std::fflush(stdout);
}

// The n-byte text after a header line into `text`; false when the client went away.
inline bool read_request_text(unsigned long n_bytes, std::string& text) {
  text.assign(n_bytes, '\0');
  return n_bytes == 0 || std::fread(text.data(), 1, n_bytes, stdin) == n_bytes;
}

}  // namespace attune::tts
