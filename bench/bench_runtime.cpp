// The dialogue runtime on the example dialogues (examples/dialogues.json, voiced here with espeak-ng,
// played as one long dialogue): per turn, prefill time and time to first token with the session's
// KV cache reused across turns vs the baseline that re-reads the whole dialogue every turn
// (SessionOptions::reuse_cache = false), in alternating rounds; then decode speed and time to the
// first reply token in fp32 and bf16; then the fused decode path (model/fused_decode.h, the default)
// against libtorch op by op (its baseline, set_fused_decode(false)) and fused int8, alternating; then
// the default dialogue guidance against none. With --baseline-model, last: that model as it ran
// without guidance (e.g. the one shipped when issue #17 was filed, see bench/README.md) against
// --model with the defaults, both speaking, for decode speed and time to the first reply audio.
// Greedy decoding, so both modes should write the same replies.
//
//   ./build/bench/bench_runtime [--model DIR] [--rounds 3] [--threads 2] [--baseline-model DIR]
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "affect/speech_style.h"
#include "attune/runtime.h"
#include "model/fused_decode.h"
#include "model/generate.h"
#include "tts/talker.h"

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<attune::AudioBuffer> voice_examples(const std::string& path) {
  const nlohmann::json root = nlohmann::json::parse(std::ifstream(path));
  auto talker = attune::tts::make_talker("espeak");
  std::vector<attune::AudioBuffer> turns;
  for (const auto& d : root["dialogues"]) {
    for (const auto& t : d["turns"]) {
      turns.push_back(talker->synthesize(t["text"].get<std::string>(),
                                         attune::affect::emotion_style(t["emotion"].get<std::string>(), t["intensity"]),
                                         attune::tts::find_voice(d["voice"].get<std::string>())));
    }
  }
  return turns;
}

struct Run {
  std::vector<double> prefill, first_token, first_reply, first_audio, rate;
  std::vector<std::string> replies;
};

Run run_dialogue(const attune::Model& model, const std::vector<attune::AudioBuffer>& turns, bool reuse,
                 double guidance = attune::SessionOptions{}.dialogue_guidance) {
  attune::SessionOptions options;
  options.reuse_cache = reuse;
  options.dialogue_guidance = guidance;
  options.max_new_tokens = 200;
  attune::Session session = model.open_session(options);
  Run run;
  for (const auto& audio : turns) {
    const attune::Reply r = session.turn(audio);
    run.prefill.push_back(r.timings.prefill);
    run.first_token.push_back(r.timings.first_token);
    if (r.timings.first_reply_token > 0) run.first_reply.push_back(r.timings.first_reply_token);
    if (r.timings.first_audio > 0) run.first_audio.push_back(r.timings.first_audio);
    run.rate.push_back(r.timings.decode_tokens_per_second());
    run.replies.push_back(r.text);
  }
  return run;
}

// Decode rates and first-reply times of every turn of two setups, run in alternating rounds.
struct Samples {
  std::vector<double> rate, first_reply, first_audio;
  void add(const Run& r) {
    rate.insert(rate.end(), r.rate.begin(), r.rate.end());
    first_reply.insert(first_reply.end(), r.first_reply.begin(), r.first_reply.end());
    first_audio.insert(first_audio.end(), r.first_audio.begin(), r.first_audio.end());
  }
};
template <typename A, typename B>
std::pair<Samples, Samples> alternate(int rounds, const A& run_a, const B& run_b) {
  std::pair<Samples, Samples> out;
  for (int round = 0; round < rounds; ++round) {
    out.first.add(run_a());
    out.second.add(run_b());
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_dir = std::string(ATTUNE_SOURCE_DIR) + "/models/attune-small", baseline_dir;
  int rounds = 3, threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--model")) model_dir = argv[i + 1];
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--baseline-model")) baseline_dir = argv[i + 1];
  }
  try {
    const std::vector<attune::AudioBuffer> turns =
        voice_examples(std::string(ATTUNE_SOURCE_DIR) + "/examples/dialogues.json");
    std::printf("bench_runtime: %s, %zu turns as one dialogue, %d rounds, %d threads, greedy, text only\n",
                model_dir.c_str(), turns.size(), rounds, threads);

    attune::RuntimeOptions ro;
    ro.threads = threads;
    ro.speak = false;
    ro.dtype = attune::Dtype::kFp32;
    const attune::Model model = attune::Model::load(model_dir, ro);
    // Per turn index: the samples of every round.
    std::vector<std::vector<double>> reuse_prefill(turns.size()), reread_prefill(turns.size());
    std::vector<std::vector<double>> reuse_first(turns.size()), reread_first(turns.size());
    size_t same = 0, compared = 0;
    (void)run_dialogue(model, {turns[0]}, true);  // warm-up
    for (int round = 0; round < rounds; ++round) {
      const Run a = run_dialogue(model, turns, true);
      const Run b = run_dialogue(model, turns, false);
      for (size_t t = 0; t < turns.size(); ++t) {
        reuse_prefill[t].push_back(a.prefill[t]);
        reread_prefill[t].push_back(b.prefill[t]);
        reuse_first[t].push_back(a.first_token[t]);
        reread_first[t].push_back(b.first_token[t]);
        same += a.replies[t] == b.replies[t];
        ++compared;
      }
    }
    std::printf(
        "\n turn | prefill reuse | prefill re-read | ratio | first token reuse | first token re-read | ratio\n");
    for (size_t t = 0; t < turns.size(); ++t) {
      const double pa = median(reuse_prefill[t]), pb = median(reread_prefill[t]);
      const double fa = median(reuse_first[t]), fb = median(reread_first[t]);
      std::printf(" %4zu | %10.1f ms | %12.1f ms | %5.2fx | %13.1f ms | %16.1f ms | %5.2fx\n", t + 1, 1000 * pa,
                  1000 * pb, pb / pa, 1000 * fa, 1000 * fb, fb / fa);
    }
    std::printf("same reply text in both modes: %zu of %zu turns\n", same, compared);

    // Decode speed and first reply token, fp32 vs bf16 (alternating rounds).
    ro.dtype = attune::Dtype::kBf16;
    const attune::Model model_bf16 = attune::Model::load(model_dir, ro);
    const auto [fp32, bf16] = alternate(
        rounds, [&] { return run_dialogue(model, turns, true); },
        [&] { return run_dialogue(model_bf16, turns, true); });
    std::printf(
        "\ndecode (median over turns and rounds): fp32 %.0f tokens/s, bf16 %.0f tokens/s (bf16/fp32 %.2fx; "
        "native bf16: %s)\nfirst reply token: fp32 %.0f ms, bf16 %.0f ms\n",
        median(fp32.rate), median(bf16.rate), median(bf16.rate) / median(fp32.rate),
        attune::model::cpu_has_native_bf16() ? "yes" : "no", 1000 * median(fp32.first_reply),
        1000 * median(bf16.first_reply));

    // The fused decode path against libtorch op by op (fp32), and fused int8, alternating rounds.
    ro.dtype = attune::Dtype::kInt8;
    const attune::Model model_int8 = attune::Model::load(model_dir, ro);
    std::vector<double> rate_torch, rate_fused, rate_int8, reply_torch, reply_fused, reply_int8;
    size_t same_fused = 0, compared_fused = 0;
    for (int round = 0; round < rounds; ++round) {
      attune::model::set_fused_decode(false);
      const Run a = run_dialogue(model, turns, true);
      attune::model::set_fused_decode(true);
      const Run b = run_dialogue(model, turns, true);
      const Run q = run_dialogue(model_int8, turns, true);
      rate_torch.insert(rate_torch.end(), a.rate.begin(), a.rate.end());
      rate_fused.insert(rate_fused.end(), b.rate.begin(), b.rate.end());
      rate_int8.insert(rate_int8.end(), q.rate.begin(), q.rate.end());
      reply_torch.insert(reply_torch.end(), a.first_reply.begin(), a.first_reply.end());
      reply_fused.insert(reply_fused.end(), b.first_reply.begin(), b.first_reply.end());
      reply_int8.insert(reply_int8.end(), q.first_reply.begin(), q.first_reply.end());
      for (size_t t = 0; t < a.replies.size(); ++t, ++compared_fused) same_fused += a.replies[t] == b.replies[t];
    }
    std::printf(
        "\nfp32 decode, libtorch op by op vs fused (median over turns and rounds): %.0f vs %.0f tokens/s "
        "(fused/libtorch %.2fx); int8 fused %.0f tokens/s (%.2fx)\n"
        "first reply token: libtorch %.0f ms, fused %.0f ms, int8 %.0f ms; same reply text fused vs libtorch: %zu of "
        "%zu turns\n",
        median(rate_torch), median(rate_fused), median(rate_fused) / median(rate_torch), median(rate_int8),
        median(rate_int8) / median(rate_torch), 1000 * median(reply_torch), 1000 * median(reply_fused),
        1000 * median(reply_int8), same_fused, compared_fused);

    // Dialogue guidance (the default) against none, alternating rounds: the second line of decoding
    // costs a prefill of the thinking at </think> and guidance_tokens steps.
    const auto [plain, guided] = alternate(
        rounds, [&] { return run_dialogue(model, turns, true, 0.0); },
        [&] { return run_dialogue(model, turns, true); });
    std::printf(
        "\nfp32 fused decode without vs with dialogue guidance (weight %.2f over %lld reply tokens; median over "
        "turns and rounds): %.0f vs %.0f tokens/s (%.2fx); first reply token %.0f vs %.0f ms (%.2fx)\n",
        attune::SessionOptions{}.dialogue_guidance, static_cast<long long>(attune::SessionOptions{}.guidance_tokens),
        median(plain.rate), median(guided.rate), median(guided.rate) / median(plain.rate),
        1000 * median(plain.first_reply), 1000 * median(guided.first_reply),
        median(guided.first_reply) / median(plain.first_reply));

    if (!baseline_dir.empty()) {
      // The baseline model without guidance against this one with the defaults, both speaking
      // (the talker thread shares the cores, as in a real session), alternating rounds.
      ro.dtype = attune::Dtype::kAuto;
      ro.speak = true;
      const attune::Model before = attune::Model::load(baseline_dir, ro);
      const attune::Model now = attune::Model::load(model_dir, ro);
      const auto [b, n] = alternate(
          rounds, [&] { return run_dialogue(before, turns, true, 0.0); },
          [&] { return run_dialogue(now, turns, true); });
      std::printf(
          "\nspeaking, dtype auto: %s without guidance vs %s with the defaults (median over turns and rounds): "
          "decode %.0f vs %.0f tokens/s (%.2fx); first reply audio %.0f vs %.0f ms (%.2fx)\n",
          baseline_dir.c_str(), model_dir.c_str(), median(b.rate), median(n.rate), median(n.rate) / median(b.rate),
          1000 * median(b.first_audio), 1000 * median(n.first_audio), median(n.first_audio) / median(b.first_audio));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_runtime: %s\n", e.what());
    return 1;
  }
  return 0;
}
