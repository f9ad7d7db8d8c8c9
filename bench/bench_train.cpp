// Training-step throughput: attune's decoder under the trainer's settings against the same model in
// Python PyTorch eager (bench/bench_train_eager.py, Debian's python3-torch 1.13, the same libtorch),
// same shapes, same threads, in the same run. One step = forward over every position, next-token
// cross-entropy, backward, AdamW. fp32, and bf16 autocast (float32 weights and optimiser).
//
//   ./build/bench/bench_train [--threads 2] [--batch 8] [--seq 256] [--steps 3] [--rounds 3] [--dtypes fp32,bf16]
//   [--no-python] [--profile PREFIX]
//                            [--shape small|qwen2-0.5b] [--device cpu|cuda] [--peak-tflops T]
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/optim/adamw.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/model_config.h"
#include "model/language_model.h"
#include "train/autocast.h"

using nlohmann::json;
using namespace attune;

namespace {

struct Options {
  int threads = 2, batch = 8, seq = 256, steps = 3, warmup = 2, rounds = 3;
  std::vector<std::string> dtypes = {"fp32", "bf16"};
  bool python = true;
  std::string profile;  // write a Chrome trace of one step per dtype (PREFIX.fp32.json)
  std::string shape = "small", device = "cpu";
  double peak_tflops = 0;  // > 0: print model FLOPs utilisation against this peak
};

io::LanguageModelConfig shape(const std::string& name) {
  // "small": bench_train_eager.py's SHAPE (6 layers, hidden 384, 6 heads / 2 kv, ffn 1536, vocab 8192);
  // "qwen2-0.5b": Qwen2-0.5B's shape (24 layers, hidden 896, 14 heads / 2 kv, ffn 4864, vocab 151936).
  const bool big = name == "qwen2-0.5b";
  if (!big && name != "small") throw std::runtime_error("--shape: small or qwen2-0.5b");
  json c = {{"model_type", "qwen2"},
            {"vocab_size", big ? 151936 : 8192},
            {"hidden_size", big ? 896 : 384},
            {"intermediate_size", big ? 4864 : 1536},
            {"num_hidden_layers", big ? 24 : 6},
            {"num_attention_heads", big ? 14 : 6},
            {"num_key_value_heads", 2},
            {"max_position_embeddings", 32768},
            {"rope_theta", 1e6},
            {"rms_norm_eps", 1e-6},
            {"tie_word_embeddings", true}};
  return io::parse_language_model_config(c, "bench");
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

json run_attune(const Options& o, const std::string& dtype) {
  // The trainer's settings: float32 runs without oneDNN (see trainer.cpp), bf16 with it.
  const at::Device device(o.device);
  if (device.is_cpu()) at::globalContext().setUserEnabledMkldnn(dtype == "bf16");
  torch::manual_seed(0);
  const io::LanguageModelConfig config = shape(o.shape);
  model::LanguageModel lm(config, model::InitOptions{.random = true});
  lm->to(device);
  int64_t params = 0;
  for (const auto& p : lm->parameters()) params += p.numel();
  torch::optim::AdamW opt(lm->parameters(), torch::optim::AdamWOptions(1e-4).betas({0.9, 0.95}).weight_decay(0.01));
  const int64_t vocab = config.vocab_size;
  at::Tensor ids = torch::randint(0, vocab, {o.batch, o.seq + 1}, torch::kLong).to(device);
  at::Tensor inputs = ids.narrow(1, 0, o.seq), targets = ids.narrow(1, 1, o.seq).reshape({-1});
  std::vector<double> times;
  double first = 0, last = 0;
  for (int step = 0; step < o.warmup + o.steps; ++step) {
    std::unique_ptr<torch::autograd::profiler::RecordProfile> profile;
    if (!o.profile.empty() && step == o.warmup) {
      profile = std::make_unique<torch::autograd::profiler::RecordProfile>(o.profile + "." + dtype + ".json");
    }
    const auto t0 = std::chrono::steady_clock::now();
    opt.zero_grad();
    at::Tensor logits;
    {
      train::Autocast autocast(dtype == "bf16", device);
      logits = lm->forward(inputs).logits;
    }
    at::Tensor loss = at::cross_entropy_loss(logits.to(at::kFloat).reshape({-1, vocab}), targets);
    loss.backward();
    opt.step();
    last = loss.item<double>();  // also waits for the GPU
    if (step == 0) first = last;
    if (step >= o.warmup) times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  at::globalContext().setUserEnabledMkldnn(true);
  return {{"step_s", median(times)},
          {"params", params},
          {"tokens", o.batch * o.seq},
          {"first_loss", first},
          {"last_loss", last}};
}

std::optional<json> run_python(const Options& o, const std::string& dtype) {
  const std::string cmd = "/usr/bin/python3 " + std::string(ATTUNE_SOURCE_DIR) +
                          "/bench/bench_train_eager.py --dtype " + dtype + " --threads " + std::to_string(o.threads) +
                          " --batch " + std::to_string(o.batch) + " --seq " + std::to_string(o.seq) + " --steps " +
                          std::to_string(o.steps) + " --warmup " + std::to_string(o.warmup) + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return std::nullopt;
  std::array<char, 4096> buf{};
  std::string out;
  while (fgets(buf.data(), buf.size(), p)) out += buf.data();
  pclose(p);
  const size_t brace = out.rfind('{');
  if (brace == std::string::npos) return std::nullopt;
  json j = json::parse(out.substr(brace), nullptr, false);
  return j.is_discarded() ? std::nullopt : std::optional<json>(j);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--threads")
      o.threads = std::stoi(value());
    else if (a == "--batch")
      o.batch = std::stoi(value());
    else if (a == "--seq")
      o.seq = std::stoi(value());
    else if (a == "--steps")
      o.steps = std::stoi(value());
    else if (a == "--rounds")
      o.rounds = std::stoi(value());
    else if (a == "--dtypes")
      o.dtypes = split(value());
    else if (a == "--no-python")
      o.python = false;
    else if (a == "--profile")
      o.profile = value();
    else if (a == "--shape")
      o.shape = value();
    else if (a == "--device")
      o.device = value();
    else if (a == "--peak-tflops")
      o.peak_tflops = std::stod(value());
    else {
      std::fprintf(
          stderr,
          "usage: bench_train [--threads N] [--batch B] [--seq T] [--steps N] [--rounds R] [--dtypes fp32,bf16] "
          "[--no-python] [--profile PREFIX] [--shape small|qwen2-0.5b] [--device cpu|cuda] [--peak-tflops T]\n");
      return 2;
    }
  }
  at::set_num_threads(o.threads);
  std::printf("training step, batch %d x seq %d = %d tokens, %d threads; median of %d steps per round, %d rounds\n",
              o.batch, o.seq, o.batch * o.seq, o.threads, o.steps, o.rounds);
  std::printf("%-6s %12s %12s %14s %14s %8s\n", "dtype", "attune s", "eager s", "attune tok/s", "eager tok/s", "ratio");
  // The machines here are noisy (+-30% between runs): attune and eager alternate, `rounds` times, and
  // the ratio is the median of the per-round ratios.
  for (const std::string& dtype : o.dtypes) {
    std::vector<double> as, ps, ratios;
    json a;
    for (int round = 0; round < o.rounds; ++round) {
      a = run_attune(o, dtype);
      as.push_back(a["step_s"]);
      std::optional<json> p = o.python ? run_python(o, dtype) : std::nullopt;
      if (p) {
        ps.push_back((*p)["step_s"].get<double>());
        ratios.push_back(ps.back() / as.back());
      }
    }
    const double tokens = o.batch * o.seq;
    const double am = median(as), pm = ps.empty() ? NAN : median(ps), rm = ratios.empty() ? NAN : median(ratios);
    std::printf("%-6s %12.3f %12.3f %14.0f %14.0f %7.2fx   (per round:", dtype.c_str(), am, pm, tokens / am,
                tokens / pm, rm);
    for (double r : ratios) std::printf(" %.2f", r);
    std::printf("; params %lld; loss %.3f -> %.3f)\n", static_cast<long long>(a["params"].get<int64_t>()),
                a["first_loss"].get<double>(), a["last_loss"].get<double>());
    if (o.peak_tflops > 0) {
      // Model FLOPs: 6 x parameters x tokens (forward + backward), plus attention's 12 x layers x hidden x seq
      // per token, as in the PaLM paper's MFU.
      const io::LanguageModelConfig c = shape(o.shape);
      const double flops = tokens * (6.0 * a["params"].get<double>() +
                                     12.0 * c.num_hidden_layers * c.hidden_size * static_cast<double>(o.seq));
      std::printf("model FLOPs utilisation: %.1f%% of %.0f TFLOP/s (%.1f TFLOP/s achieved)\n",
                  100.0 * flops / am / (o.peak_tflops * 1e12), o.peak_tflops, flops / am / 1e12);
    }
    std::fflush(stdout);
  }
  return 0;
}
