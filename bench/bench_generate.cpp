// Generation speed of model::LanguageModel with random weights, against two baselines measured in the
// same run: recomputing the whole sequence every step (no KV cache), and PyTorch eager in Python
// (bench/bench_generate_eager.py, Debian's python3-torch, same shapes, same threads).
//
//   ./build/bench/bench_generate [--threads 2] [--prompt 64] [--new 32] [--recompute-steps 4] [--repeats 3]
//                                [--models small,qwen2-0.5b] [--dtypes fp32,bf16] [--no-python]
//
// Models: "qwen2-0.5b" is Qwen2-0.5B-shaped (24 layers, hidden 896, 14 heads, 2 kv heads, ffn 4864,
// vocab 151936, tied embeddings: 494M parameters); "small" is ~22M parameters (6 layers, hidden 384, 6
// heads, 2 kv heads, ffn 1024, vocab 32000, tied). Every case runs in a child process (this binary with
// --case), so that its memory (RSS) is its own: RSS growth is compared with weights + KV cache.
// Prompt tokens/s counts the prefill (prompt forward + first token); decode tokens/s the later steps.
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "model/generate.h"
#include "model/language_model.h"

namespace fs = std::filesystem;
using namespace attune;
using json = nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Options {
  int threads = 0;
  int64_t prompt = 64;
  int64_t new_tokens = 32;
  int64_t recompute_steps = 4;
  int repeats = 3;  // generate runs per case; prompt and decode times are their medians
  std::vector<std::string> models = {"small", "qwen2-0.5b"};
  std::vector<std::string> dtypes = {"fp32", "bf16"};
  bool python = true;
  std::string case_name;  // "model:dtype" in a child process
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, sep)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

io::LanguageModelConfig model_config(const std::string& name) {
  io::LanguageModelConfig c = io::language_model_defaults(io::ModelFamily::kQwen2);
  c.eos_token_ids.clear();
  c.bos_token_id.reset();
  c.use_sliding_window = false;
  c.tie_word_embeddings = true;
  c.max_position_embeddings = 32768;
  c.rope_theta = 1000000.0;
  if (name == "qwen2-0.5b") {
    c.num_hidden_layers = 24;
    c.hidden_size = 896;
    c.num_attention_heads = 14;
    c.num_key_value_heads = 2;
    c.head_dim = 64;
    c.intermediate_size = 4864;
    c.vocab_size = 151936;
  } else if (name == "small") {
    c.num_hidden_layers = 6;
    c.hidden_size = 384;
    c.num_attention_heads = 6;
    c.num_key_value_heads = 2;
    c.head_dim = 64;
    c.intermediate_size = 1024;
    c.vocab_size = 32000;
  } else {
    std::fprintf(stderr, "bench_generate: unknown model \"%s\" (small, qwen2-0.5b)\n", name.c_str());
    std::exit(2);
  }
  return c;
}

// Resident and peak resident memory of this process, bytes.
std::pair<int64_t, int64_t> rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  int64_t rss = 0, hwm = 0;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::stoll(line.substr(6)) * 1024;
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::stoll(line.substr(6)) * 1024;
  }
  return {rss, hwm};
}

// One case, in this (child) process: prints one JSON line.
int run_case(const Options& o) {
  const auto parts = split(o.case_name, ':');
  if (parts.size() != 2) return 2;
  const io::LanguageModelConfig config = model_config(parts[0]);
  const at::ScalarType dtype = parts[1] == "bf16" ? at::kBFloat16 : at::kFloat;
  at::set_num_threads(o.threads);
  torch::manual_seed(0);
  const auto [rss0, hwm0] = rss_bytes();
  auto t0 = Clock::now();
  model::LanguageModel lm(config, model::InitOptions{.random = true, .dtype = dtype});
  lm->eval();
  const double init_s = seconds_since(t0);
  const auto [rss1, hwm1] = rss_bytes();

  std::vector<int32_t> prompt(o.prompt);
  for (int64_t i = 0; i < o.prompt; ++i) prompt[i] = static_cast<int32_t>((i * 7919 + 13) % config.vocab_size);
  model::GenerateOptions gen;
  gen.max_new_tokens = o.new_tokens;
  gen.use_model_eos = false;
  // Warm-up (allocator, oneDNN kernels), then the measured run.
  {
    model::GenerateOptions warm = gen;
    warm.max_new_tokens = 2;
    model::generate(*lm, std::span<const int32_t>(prompt.data(), std::min<size_t>(8, prompt.size())), warm);
  }
  model::GenerateResult r;
  std::vector<double> prompt_times, decode_times;
  for (int rep = 0; rep < std::max(1, o.repeats); ++rep) {
    r = model::generate(*lm, prompt, gen);
    prompt_times.push_back(r.prompt_seconds);
    decode_times.push_back(r.decode_seconds);
  }
  r.prompt_seconds = median(prompt_times);
  r.decode_seconds = median(decode_times);
  const auto [rss2, hwm2] = rss_bytes();
  const int64_t cache_bytes = config.num_hidden_layers * 2 * config.num_key_value_heads * config.head_dim *
                              (o.prompt + o.new_tokens) * static_cast<int64_t>(c10::elementSize(dtype));

  // Baseline: no cache, the whole sequence recomputed for each new token.
  double recompute_s = 0;
  {
    c10::InferenceMode guard;
    std::vector<int64_t> seq(prompt.begin(), prompt.end());
    seq.insert(seq.end(), r.ids.begin(), r.ids.end());
    seq.resize(static_cast<size_t>(o.prompt + 1));
    model::ForwardOptions fwd;
    fwd.logits_to_keep = 1;
    auto t1 = Clock::now();
    for (int64_t s = 0; s < o.recompute_steps; ++s) {
      at::Tensor ids = torch::tensor(seq, torch::kLong).unsqueeze(0);
      at::Tensor logits = lm->forward(ids, fwd).logits;
      seq.push_back(logits.argmax(-1).item<int64_t>());
    }
    recompute_s = seconds_since(t1) / static_cast<double>(std::max<int64_t>(o.recompute_steps, 1));
  }

  json out = {{"impl", "attune"},
              {"model", parts[0]},
              {"dtype", parts[1]},
              {"threads", at::get_num_threads()},
              {"parameters", lm->parameter_count()},
              {"weight_bytes", lm->parameter_bytes()},
              {"kv_cache_bytes", cache_bytes},
              {"init_s", init_s},
              {"prompt_tokens", r.prompt_tokens},
              {"prompt_s", r.prompt_seconds},
              {"decode_steps", r.decode_steps},
              {"decode_s", r.decode_seconds},
              {"recompute_step_s", recompute_s},
              {"rss_before", rss0},
              {"rss_model", rss1},
              {"rss_after", rss2},
              {"hwm_after", hwm2}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

std::optional<json> run_child(const std::string& command) {
  std::array<char, 4096> buf{};
  std::string output;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return std::nullopt;
  while (fgets(buf.data(), buf.size(), p)) output += buf.data();
  const int status = pclose(p);
  for (const auto& line : split(output, '\n')) {
    if (!line.empty() && line[0] == '{') {
      try {
        return json::parse(line);
      } catch (const std::exception&) {
      }
    }
  }
  std::fprintf(stderr, "bench_generate: `%s` failed (status %d): %s\n", command.c_str(), status, output.c_str());
  return std::nullopt;
}

double mib(int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

}  // namespace

int main(int argc, char** argv) {
  Options o;
  o.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_generate: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--threads") {
      o.threads = std::stoi(next());
    } else if (a == "--prompt") {
      o.prompt = std::stoll(next());
    } else if (a == "--new") {
      o.new_tokens = std::stoll(next());
    } else if (a == "--recompute-steps") {
      o.recompute_steps = std::stoll(next());
    } else if (a == "--repeats") {
      o.repeats = std::stoi(next());
    } else if (a == "--models") {
      o.models = split(next(), ',');
    } else if (a == "--dtypes") {
      o.dtypes = split(next(), ',');
    } else if (a == "--no-python") {
      o.python = false;
    } else if (a == "--case") {
      o.case_name = next();
    } else {
      std::fprintf(stderr,
                   "usage: bench_generate [--threads N] [--prompt N] [--new N] [--recompute-steps N] [--repeats N] "
                   "[--models small,qwen2-0.5b] [--dtypes fp32,bf16] [--no-python]\n");
      return 2;
    }
  }
  if (!o.case_name.empty()) return run_case(o);

  const fs::path self = fs::canonical("/proc/self/exe");
  const fs::path script = fs::path(ATTUNE_SOURCE_DIR) / "bench" / "bench_generate_eager.py";
  const bool python =
      o.python && fs::exists(script) && std::system("/usr/bin/python3 -c 'import torch' 2>/dev/null") == 0;
  if (o.python && !python) {
    std::fprintf(stderr,
                 "bench_generate: /usr/bin/python3 with torch not found (apt-get install python3-torch); "
                 "no PyTorch eager baseline\n");
  }
  std::printf(
      "bench_generate: %d threads, prompt %lld tokens, %lld new tokens (greedy), medians of %d runs; recompute "
      "baseline over %lld steps; native bf16 on this CPU: %s\n",
      o.threads, static_cast<long long>(o.prompt), static_cast<long long>(o.new_tokens), o.repeats,
      static_cast<long long>(o.recompute_steps), model::cpu_has_native_bf16() ? "yes" : "no");
  std::printf("%-11s %-5s %9s %10s %10s %10s %9s %10s %9s %9s %9s %9s\n", "model", "dtype", "params", "prompt t/s",
              "decode t/s", "recomp t/s", "cache x", "eager dec", "vs eager", "eager pr", "RSS MiB", "W+KV MiB");
  for (const auto& m : o.models) {
    for (const auto& d : o.dtypes) {
      const std::string args = " --threads " + std::to_string(o.threads) + " --prompt " + std::to_string(o.prompt) +
                               " --new " + std::to_string(o.new_tokens) + " --repeats " + std::to_string(o.repeats);
      auto ours = run_child(self.string() + " --case " + m + ":" + d + args + " --recompute-steps " +
                            std::to_string(o.recompute_steps) + " 2>&1");
      if (!ours) continue;
      std::optional<json> eager;
      if (python)
        eager = run_child("/usr/bin/python3 " + script.string() + " --model " + m + " --dtype " + d + args + " 2>&1");
      const auto& j = *ours;
      const double prompt_tps = j["prompt_tokens"].get<double>() / j["prompt_s"].get<double>();
      const double decode_tps = j["decode_steps"].get<double>() / j["decode_s"].get<double>();
      const double recompute_tps = 1.0 / j["recompute_step_s"].get<double>();
      const int64_t rss_growth = j["rss_after"].get<int64_t>() - j["rss_before"].get<int64_t>();
      const int64_t expected = j["weight_bytes"].get<int64_t>() + j["kv_cache_bytes"].get<int64_t>();
      std::string eager_dec = "-", vs = "-", eager_pr = "-";
      char buf[64];
      if (eager) {
        const double e_dec = (*eager)["decode_steps"].get<double>() / (*eager)["decode_s"].get<double>();
        const double e_pr = (*eager)["prompt_tokens"].get<double>() / (*eager)["prompt_s"].get<double>();
        std::snprintf(buf, sizeof buf, "%.2f", e_dec);
        eager_dec = buf;
        std::snprintf(buf, sizeof buf, "%.2fx", decode_tps / e_dec);
        vs = buf;
        std::snprintf(buf, sizeof buf, "%.1f", e_pr);
        eager_pr = buf;
      }
      std::printf("%-11s %-5s %8.1fM %10.1f %10.2f %10.2f %8.1fx %10s %9s %9s %9.0f %9.0f\n", m.c_str(), d.c_str(),
                  j["parameters"].get<double>() / 1e6, prompt_tps, decode_tps, recompute_tps,
                  decode_tps / recompute_tps, eager_dec.c_str(), vs.c_str(), eager_pr.c_str(), mib(rss_growth),
                  mib(expected));
      std::printf("  attune: RSS growth %.0f MiB = %.3f x (weights %.0f MiB + KV cache %.1f MiB); peak RSS %.0f MiB",
                  mib(rss_growth), static_cast<double>(rss_growth) / static_cast<double>(expected),
                  mib(j["weight_bytes"].get<int64_t>()), mib(j["kv_cache_bytes"].get<int64_t>()),
                  mib(j["hwm_after"].get<int64_t>()));
      if (eager) {
        const auto& e = *eager;
        const int64_t e_growth = e["rss_after"].get<int64_t>() - e["rss_before"].get<int64_t>();
        std::printf("; eager: RSS growth %.0f MiB, prompt %.1f t/s (attune %.2fx)", mib(e_growth),
                    e["prompt_tokens"].get<double>() / e["prompt_s"].get<double>(),
                    prompt_tps / (e["prompt_tokens"].get<double>() / e["prompt_s"].get<double>()));
      }
      std::printf("\n");
      std::fflush(stdout);
    }
  }
  return 0;
}
