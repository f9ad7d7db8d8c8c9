// SPDX-License-Identifier: GPL-3.0-or-later
//
// attune-espeak: a long-running espeak-ng synthesis server. It links libespeak-ng (GPL-3.0), so it
// is a program of its own under the GPL; attune's Apache-2.0 libraries never link it and talk to it
// only through its stdin and stdout, as they run the espeak-ng program. Keeping the engine loaded
// saves most of what an espeak-ng run costs (exec, dynamic linking, loading its data): about 5.7 ms
// of CPU per utterance instead of 13.5 ms on the development machine.
//
// espeak-ng carries a little state from one utterance to the next (the waveform generator's
// phase), so the first utterance of a server equals the espeak-ng program's output exactly and
// later ones can be shifted by a sample. Clients that need reproducible audio start a fresh server
// for each group of utterances (attune's talker does so on reset()).
//
// Protocol, one request at a time:
//   request   "SYNTH <voice> <pitch 0-99> <words per minute> <amplitude 0-200> <n bytes>\n" + n bytes of
//             UTF-8 SSML (the same document the espeak-ng program reads with -m)
//   reply     "OK <n samples> <sample rate>\n" + n little-endian int16 samples (mono)
//             or "ERR <message>\n"
// A request line that cannot be parsed ends the server (the stream cannot be resynchronised).
#include <espeak-ng/speak_lib.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tts/server_request.h"

namespace {

using attune::tts::read_request_text;
using attune::tts::reply_error;

std::vector<short> g_samples;

int collect(short* wav, int n, espeak_EVENT*) {
  if (wav != nullptr && n > 0) g_samples.insert(g_samples.end(), wav, wav + n);
  return 0;  // continue
}

}  // namespace

int main() {
  const int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nullptr, 0);
  if (rate <= 0) {
    reply_error("espeak_Initialize failed (is espeak-ng-data installed?)");
    return 1;
  }
  espeak_SetSynthCallback(collect);
  char line[1024];
  while (std::fgets(line, sizeof line, stdin) != nullptr) {
    char voice[256] = {};
    int pitch = 0, wpm = 0, amplitude = 0;
    unsigned long n_bytes = 0;
    if (std::sscanf(line, "SYNTH %255s %d %d %d %lu", voice, &pitch, &wpm, &amplitude, &n_bytes) != 5 ||
        n_bytes > attune::tts::kMaxRequestBytes) {
      reply_error("malformed request line");
      return 2;
    }
    std::string text;
    if (!read_request_text(n_bytes, text)) return 0;  // client went away
    if (espeak_SetVoiceByName(voice) != EE_OK) {
      reply_error("unknown voice");
      continue;
    }
    // After the voice, as the espeak-ng program does: selecting a voice resets them.
    espeak_SetParameter(espeakRATE, wpm, 0);
    espeak_SetParameter(espeakVOLUME, amplitude, 0);
    espeak_SetParameter(espeakPITCH, pitch, 0);
    g_samples.clear();
    const espeak_ERROR err = espeak_Synth(text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0,
                                          espeakCHARS_UTF8 | espeakSSML, nullptr, nullptr);
    espeak_Synchronize();
    if (err != EE_OK) {
      reply_error("espeak_Synth failed");
      continue;
    }
    std::printf("OK %zu %d\n", g_samples.size(), rate);
    std::fwrite(g_samples.data(), sizeof(short), g_samples.size(), stdout);
    std::fflush(stdout);
  }
  espeak_Terminate();
  return 0;
}
