// Tokenizer encode throughput against SentencePiece's BPE, measured in the same run.
//
//   build-text/bench/bench_tokenizer [--repeats 5] [--vocab-size 8000] [--mb 5]
//
// For each corpus (English: DailyDialog utterances; Chinese: SmileChat turns, both read in place
// from ../shared/data/text), the same text trains an attune byte-level BPE (Qwen2 pre-tokenisation)
// and a SentencePiece BPE of the same vocabulary size; then both encode every utterance, one call
// each, on one thread. Printed: MB/s (median over the repeats, by wall clock and by the thread's CPU
// time, which shared machines disturb less), tokens, and the ratios attune / SP.
// For reference it also runs the real Qwen2 and GPT-2 vocabularies, and Qwen2 on the PCRE2 path.
// Timing goes to stdout as a table; nothing here is asserted.
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "text/bpe_trainer.h"
#include "text/tokenizer.h"

namespace fs = std::filesystem;
using attune::text::BpeTrainer;
using attune::text::BpeTrainerOptions;
using attune::text::Tokenizer;

namespace {

#ifndef ATTUNE_SHARED_DIR_DEFAULT
#define ATTUNE_SHARED_DIR_DEFAULT "../shared"
#endif

fs::path shared_dir() {
  const char* env = std::getenv("ATTUNE_SHARED_DIR");
  return env ? fs::path(env) : fs::path(ATTUNE_SHARED_DIR_DEFAULT);
}

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

struct Corpus {
  std::string name;
  std::vector<std::string> texts;
  size_t bytes = 0;
};

Corpus load_corpus(const std::string& name, const fs::path& file, size_t max_bytes) {
  Corpus c{name, {}, 0};
  attune::text::for_each_training_text(file, [&](std::string_view t) {
    if (c.bytes >= max_bytes || t.empty()) return;
    c.texts.emplace_back(t);
    c.bytes += t.size();
  });
  return c;
}

class VectorIterator : public sentencepiece::SentenceIterator {
 public:
  explicit VectorIterator(const std::vector<std::string>& v) : v_(v) {}
  bool done() const override { return i_ >= v_.size(); }
  void Next() override { ++i_; }
  const std::string& value() const override { return v_[i_]; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

 private:
  const std::vector<std::string>& v_;
  size_t i_ = 0;
};

// CPU time of this thread: unlike wall time it does not count the time other processes on a
// shared machine take the core away.
double thread_cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

struct Result {
  double wall_mb_s = 0, cpu_mb_s = 0;
  size_t tokens = 0;
};

// Encodes every text `repeats` times; returns the median throughputs (wall clock and thread CPU time).
Result measure(const Corpus& c, int repeats, const std::function<size_t(const std::string&)>& encode) {
  std::vector<double> wall, cpu;
  size_t tokens = 0;
  for (int r = 0; r < repeats; ++r) {
    tokens = 0;
    const double w0 = now_s(), c0 = thread_cpu_s();
    for (const auto& t : c.texts) tokens += encode(t);
    const double c1 = thread_cpu_s(), w1 = now_s();
    wall.push_back(static_cast<double>(c.bytes) / (w1 - w0) / 1e6);
    cpu.push_back(static_cast<double>(c.bytes) / (c1 - c0) / 1e6);
  }
  return {median(wall), median(cpu), tokens};
}

void row(const char* name, const Corpus& c, const Result& r) {
  std::printf("  %-38s %8.1f MB/s wall %8.1f MB/s cpu  %9zu tokens  %5.2f bytes/token\n", name, r.wall_mb_s, r.cpu_mb_s,
              r.tokens, static_cast<double>(c.bytes) / static_cast<double>(std::max<size_t>(1, r.tokens)));
}

int run_corpus(const Corpus& c, int repeats, int vocab_size) {
  std::printf("\n== %s: %zu texts, %.2f MB ==\n", c.name.c_str(), c.texts.size(), c.bytes / 1e6);

  // attune BPE trained on the text.
  BpeTrainerOptions options;
  options.vocab_size = vocab_size;
  double t0 = now_s();
  BpeTrainer trainer(options);
  for (const auto& t : c.texts) trainer.add_text(t);
  trainer.train();
  const Tokenizer ours = trainer.tokenizer();
  const double attune_train_s = now_s() - t0;

  // SentencePiece BPE, same text, same vocabulary size.
  t0 = now_s();
  VectorIterator it(c.texts);
  std::string model;
  const std::string args = "--model_type=bpe --vocab_size=" + std::to_string(vocab_size) +
                           " --character_coverage=1.0 --byte_fallback=true --num_threads=1"
                           " --max_sentence_length=100000 --minloglevel=1";
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, &it, &model);
  if (!status.ok()) {
    std::fprintf(stderr, "bench_tokenizer: sentencepiece training failed: %s\n", status.ToString().c_str());
    return 1;
  }
  sentencepiece::SentencePieceProcessor sp;
  if (!sp.LoadFromSerializedProto(model).ok()) {
    std::fprintf(stderr, "bench_tokenizer: cannot load the trained sentencepiece model\n");
    return 1;
  }
  const double sp_train_s = now_s() - t0;
  std::printf("  training: attune %.2f s (%d ids), sentencepiece %.2f s (%d pieces)\n", attune_train_s,
              ours.vocab_size(), sp_train_s, sp.GetPieceSize());

  // Sanity: attune round-trips every text.
  size_t mismatches = 0;
  for (const auto& t : c.texts) mismatches += ours.decode(ours.encode(t)) != t;
  if (mismatches) std::printf("  WARNING: %zu texts did not round-trip\n", mismatches);

  std::vector<int32_t> ids;
  std::vector<int> sp_ids;
  const Result attune_r = measure(c, repeats, [&](const std::string& t) {
    ids.clear();
    ours.encode_into(t, ids);
    return ids.size();
  });
  const Result sp_r = measure(c, repeats, [&](const std::string& t) {
    sp.Encode(t, &sp_ids);
    return sp_ids.size();
  });
  row("attune BPE (trained here)", c, attune_r);
  row("sentencepiece BPE (trained here)", c, sp_r);
  std::printf("  ratio attune / sentencepiece: %.2fx (wall), %.2fx (cpu)\n", attune_r.wall_mb_s / sp_r.wall_mb_s,
              attune_r.cpu_mb_s / sp_r.cpu_mb_s);

  // Reference vocabularies.
  const fs::path fixtures = shared_dir() / "fixtures" / "tokenizer";
  if (fs::is_directory(fixtures)) {
    const Tokenizer qwen2 = Tokenizer::load(fixtures / "qwen2" / "tokenizer.json");
    const Tokenizer gpt2 = Tokenizer::load(fixtures / "gpt2");
    // The same Qwen2 tokenizer with its regex wrapped in a group: equivalent, but run by PCRE2.
    auto j = nlohmann::json::parse(attune::common::read_file(fixtures / "qwen2" / "tokenizer.json"));
    auto& pattern = j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"];
    pattern = "(?:" + pattern.get<std::string>() + ")";
    const Tokenizer qwen2_pcre2 = Tokenizer::from_json_text(j.dump(), "qwen2 (PCRE2)");
    auto run = [&](const char* name, const Tokenizer& tok) {
      row(name, c, measure(c, repeats, [&](const std::string& t) {
            ids.clear();
            tok.encode_into(t, ids);
            return ids.size();
          }));
    };
    run("attune Qwen2 tokenizer.json (151k)", qwen2);
    run("attune Qwen2, regex on PCRE2 JIT", qwen2_pcre2);
    run("attune GPT-2 (50k)", gpt2);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 5, vocab_size = 8000;
  double mb = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--repeats") repeats = std::max(1, std::atoi(argv[i + 1]));
    if (a == "--vocab-size") vocab_size = std::max(300, std::atoi(argv[i + 1]));
    if (a == "--mb") mb = std::atof(argv[i + 1]);
  }
  const fs::path text = shared_dir() / "data" / "text";
  const fs::path english = text / "dailydialog" / "train.jsonl";
  const fs::path chinese = text / "smilechat_zh" / "smilechat.12k.jsonl.gz";
  if (!fs::exists(english)) {
    std::fprintf(stderr,
                 "bench_tokenizer: %s not found: the benchmark reads ../shared/data/text in place "
                 "(set ATTUNE_SHARED_DIR to the shared folder)\n",
                 english.string().c_str());
    return 2;
  }
  std::printf("bench_tokenizer: encode throughput, one thread, median of %d repeats; vocab %d\n", repeats, vocab_size);
  const auto max_bytes = static_cast<size_t>(mb * 1e6);
  int rc = run_corpus(load_corpus("DailyDialog (English)", english, max_bytes), repeats, vocab_size);
  if (rc == 0 && fs::exists(chinese)) {
    rc = run_corpus(load_corpus("SmileChat (Chinese)", chinese, max_bytes / 2), repeats, vocab_size);
  }
  return rc;
}
