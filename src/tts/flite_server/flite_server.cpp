// attune-flite: a long-running CMU Flite synthesis server with Flite's four US English voices linked in
// (slt, rms, awb: clustergen; kal16: diphone). Flite's licence is BSD-style, so attune could link it
// in-process; it runs as its own program anyway, so that the talker can bound a hung or crashing
// synthesis with a timeout (and kill it) instead of losing the whole process.
//
// Prosody goes through Flite's own parameters, relative to each voice's trained values:
//   pitch level -> int_f0_target_mean = voice mean x f0 ratio
//   pitch range -> int_f0_target_stddev = voice stddev x f0 ratio x range ratio (the excursions keep their
//                  size in semitones when the level moves, and widen or narrow with the range)
//   rate        -> duration_stretch = voice stretch / rate ratio
// Loudness is not a Flite parameter: the client scales the samples.
//
// Protocol, one request at a time:
//   request   "SYNTH <voice> <f0 ratio> <range ratio> <rate ratio> <n bytes>\n" + n bytes of UTF-8 text
//   reply     "OK <n samples> <sample rate>\n" + n little-endian int16 samples (mono)
//             or "ERR <message>\n"
// A request line that cannot be parsed ends the server (the stream cannot be resynchronised).
// "VOICES\n" answers "OK <names separated by spaces>\n".
// Flite's headers have no extern "C" guards of their own.
extern "C" {
#include <flite/cst_cg.h>
#include <flite/flite.h>
}

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tts/server_request.h"

extern "C" {
cst_voice* register_cmu_us_slt(const char* voxdir);
cst_voice* register_cmu_us_rms(const char* voxdir);
cst_voice* register_cmu_us_awb(const char* voxdir);
cst_voice* register_cmu_us_kal16(const char* voxdir);
}

namespace {

using attune::tts::read_request_text;
using attune::tts::reply_error;

struct ServedVoice {
  const char* name;
  cst_voice* voice;
  float f0_mean;  // Hz, what the voice says with no request
  float f0_sd;    // Hz
  float stretch;  // duration_stretch
};

// The voice's own F0 target: a diphone voice sets int_f0_target_*; a clustergen voice's are its
// database's statistics (which it uses when the feature is unset). A clustergen voice with the SPAM F0
// model (rms) ignores int_f0_target_*, so it gets a copy of its database with that model off: its F0
// then comes from its own F0 trees, which follow the target like the other voices'.
ServedVoice describe(const char* name, cst_voice* v) {
  ServedVoice s{name, v, 100.0f, 12.0f, 1.0f};
  if (const cst_val* db_val = feat_val(v->features, "cg_db")) {
    const cst_cg_db* db = val_cg_db(db_val);
    if (db->spamf0) {
      auto* copy = new cst_cg_db(*db);  // lives as long as the server
      copy->spamf0 = 0;
      feat_set(v->features, "cg_db", cg_db_val(copy));
    }
    s.f0_mean = db->f0_mean;
    s.f0_sd = db->f0_stddev;
  }
  s.f0_mean = get_param_float(v->features, "int_f0_target_mean", s.f0_mean);
  s.f0_sd = get_param_float(v->features, "int_f0_target_stddev", s.f0_sd);
  s.stretch = get_param_float(v->features, "duration_stretch", 1.0f);
  return s;
}

bool in_range(float v, float lo, float hi) { return std::isfinite(v) && v >= lo && v <= hi; }

}  // namespace

int main() {
  flite_init();
  const std::vector<ServedVoice> voices = {
      describe("slt", register_cmu_us_slt(nullptr)), describe("rms", register_cmu_us_rms(nullptr)),
      describe("awb", register_cmu_us_awb(nullptr)), describe("kal16", register_cmu_us_kal16(nullptr))};
  char line[1024];
  while (std::fgets(line, sizeof line, stdin) != nullptr) {
    if (std::strcmp(line, "VOICES\n") == 0) {
      std::string names;
      for (const auto& v : voices) names += std::string(names.empty() ? "" : " ") + v.name;
      std::printf("OK %s\n", names.c_str());
      std::fflush(stdout);
      continue;
    }
    char name[64] = {};
    float f0_ratio = 1, range_ratio = 1, rate_ratio = 1;
    unsigned long n_bytes = 0;
    if (std::sscanf(line, "SYNTH %63s %f %f %f %lu", name, &f0_ratio, &range_ratio, &rate_ratio, &n_bytes) != 5 ||
        n_bytes > attune::tts::kMaxRequestBytes) {
      reply_error("malformed request line");
      return 2;
    }
    std::string text;
    if (!read_request_text(n_bytes, text)) return 0;  // client went away
    const ServedVoice* served = nullptr;
    for (const auto& v : voices) {
      if (std::strcmp(v.name, name) == 0) served = &v;
    }
    if (served == nullptr) {
      reply_error("unknown voice");
      continue;
    }
    if (!in_range(f0_ratio, 0.25f, 4.0f) || !in_range(range_ratio, 0.0f, 4.0f) || !in_range(rate_ratio, 0.25f, 4.0f)) {
      reply_error("prosody ratio out of range");
      continue;
    }
    // Set every request, so nothing carries over from the previous one.
    cst_features* f = served->voice->features;
    feat_set_float(f, "int_f0_target_mean", served->f0_mean * f0_ratio);
    feat_set_float(f, "int_f0_target_stddev", served->f0_sd * f0_ratio * range_ratio);
    feat_set_float(f, "duration_stretch", served->stretch / rate_ratio);
    cst_wave* wave = flite_text_to_wave(text.c_str(), served->voice);
    if (wave == nullptr) {
      reply_error("flite_text_to_wave failed");
      continue;
    }
    const int n = cst_wave_num_samples(wave);  // every voice here is mono
    std::printf("OK %d %d\n", n, cst_wave_sample_rate(wave));
    std::fwrite(cst_wave_samples(wave), sizeof(short), n, stdout);
    std::fflush(stdout);
    delete_wave(wave);
  }
  return 0;
}
