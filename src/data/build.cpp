#include "data/build.h"

#include <fmt/format.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "attune/error.h"
#include "common/file_util.h"
#include "common/parallel.h"
#include "common/progress.h"
#include "data/held_out.h"
#include "data/readers.h"
#include "text/tokenizer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace attune::data {
namespace {

// Dialogues per block of the shard stage: bounds the features held in memory at once.
constexpr int64_t kShardBlock = 256;

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// A thread-safe wrapper around Progress for parallel loops.
class SharedProgress {
 public:
  SharedProgress(bool on, const std::string& label, int64_t total, const std::string& unit) {
    if (on) bar_.emplace(label, total, unit);
  }
  void advance() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (bar_) bar_->advance();
  }
  void finish() {
    if (bar_) bar_->finish();
  }

 private:
  std::mutex mutex_;
  std::optional<common::Progress> bar_;
};

// Runs `fn` on one dialogue, turning a data error into a reported problem so the build goes on.
template <typename Fn>
void guarded(const Dialogue& d, Diagnostics& diag, const char* stage, Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    diag.report(d.meta.corpus, 0, d.dialogue_id + ": " + stage + ": " + e.what() + "; dialogue left out",
                "failed dialogue");
  }
}

// Drops training dialogues whose lines appear in a validation split of any corpus (held_out.h).
void drop_held_out(std::vector<Dialogue>& dialogues, const fs::path& data_root, json& per_corpus, Diagnostics& diag) {
  HeldOutLines held_out;
  for (const auto& info : corpora()) {
    if (info.name == "humdial") continue;
    Diagnostics ignored;  // the validation splits' own problems belong to their build
    try {
      for (const Dialogue& d : read_corpus(info.name, "valid", data_root, ignored)) held_out.add(d);
    } catch (const Error&) {
      // A corpus missing from this data root holds nothing back.
    }
  }
  std::vector<Dialogue> kept;
  kept.reserve(dialogues.size());
  for (Dialogue& d : dialogues) {
    if (!held_out.overlaps(d)) {
      kept.push_back(std::move(d));
      continue;
    }
    diag.report(d.meta.corpus, 0, d.dialogue_id + ": its lines are in a validation split; left out of training",
                "held-out overlap");
    json& c = per_corpus[d.meta.corpus];
    c["held_out_overlap"] = c.value("held_out_overlap", 0) + 1;
  }
  dialogues = std::move(kept);
}

}  // namespace

json write_shards(const std::vector<Dialogue>& dialogues, const fs::path& out, const fs::path& tokenizer_path,
                  const text::ChatTemplate& chat, const ShardOptions& options, json info, int threads, bool progress,
                  Diagnostics& diag) {
  info["tokenizer"] = fs::absolute(tokenizer_path).string();
  info["vocab_size"] = chat.tokenizer().vocab_size();
  info["tokenizer_fingerprint"] = text::fingerprint(chat.tokenizer());
  ShardWriter writer(out / "shards", options, info);
  const auto n = static_cast<int64_t>(dialogues.size());
  const int workers = common::effective_threads(threads, n);
  std::vector<std::unique_ptr<RecordBuilder>> builders;
  for (int w = 0; w < workers; ++w) builders.push_back(std::make_unique<RecordBuilder>(chat, options, out));
  SharedProgress bar(progress, "shards", n, "dialogues");
  for (int64_t block = 0; block < n; block += kShardBlock) {
    const int64_t m = std::min(kShardBlock, n - block);
    std::vector<std::vector<Record>> built(static_cast<size_t>(m));
    common::parallel_for(m, workers, [&](int64_t j, int w) {
      const Dialogue& d = dialogues[static_cast<size_t>(block + j)];
      guarded(d, diag, "shards", [&] { built[static_cast<size_t>(j)] = builders[w]->build(d, diag); });
      bar.advance();
    });
    for (auto& rs : built) {
      for (Record& r : rs) writer.add(std::move(r));
    }
  }
  bar.finish();
  return writer.finish();
}

namespace {

// Step 1's result: the dialogues, per-corpus counts for the report, and (for a build that reuses
// voices) the earlier build's question turns by dialogue, to keep their audio when the text comes back.
struct ReadDialogues {
  std::vector<Dialogue> dialogues;
  json per_corpus = json::object();
  std::map<std::string, std::vector<Turn>> old_questions;
};

ReadDialogues read_step(const BuildOptions& o, Diagnostics& diag) {
  ReadDialogues r;
  if (!o.reuse_voices.empty()) {
    r.dialogues = read_dialogues((o.reuse_voices / "dialogues.jsonl").string());
    for (Dialogue& d : r.dialogues) {
      std::vector<Turn> kept;
      for (Turn& t : d.turns) {
        if (!t.split_audio_file.empty())
          t.split_audio_file = resolve_audio(o.reuse_voices, t.split_audio_file).string();
        const bool question = t.task == "t1" || t.task == "t2";  // rebuilt with the thinking
        (question ? r.old_questions[d.dialogue_id] : kept).push_back(std::move(t));
      }
      d.turns = std::move(kept);
      json& c = r.per_corpus[d.meta.corpus.empty() ? "unknown" : d.meta.corpus];
      c["dialogues"] = (c.is_object() ? c.value("dialogues", 0) : 0) + 1;
    }
    spdlog::info("{}: {} dialogues with their voices", o.reuse_voices.string(), r.dialogues.size());
    return r;
  }
  for (const std::string& name : o.corpora) {
    const auto t0 = std::chrono::steady_clock::now();
    fs::path root = name == "humdial" ? o.humdial_path : o.data_root;
    std::vector<Dialogue> part = read_corpus(name, o.split, root, diag);
    if (o.limit > 0 && static_cast<int64_t>(part.size()) > o.limit) part.resize(static_cast<size_t>(o.limit));
    r.per_corpus[name] = {{"dialogues", part.size()}, {"read_seconds", seconds_since(t0)}};
    spdlog::info("{} {}: {} dialogues", name, o.split, part.size());
    for (Dialogue& d : part) r.dialogues.push_back(std::move(d));
  }
  if (o.split == "train" && o.exclude_held_out) drop_held_out(r.dialogues, o.data_root, r.per_corpus, diag);
  return r;
}

// Step 2: voice and measure (every turn with audio is measured, so recorded corpora get evidence
// too), then each turn's prosody against its speaker's baseline.
void voice_step(const BuildOptions& o, const VoicingOptions& voicing, std::vector<Dialogue>& dialogues,
                const std::vector<char>& speak, Diagnostics& diag) {
  const auto n = static_cast<int64_t>(dialogues.size());
  std::vector<DialogueMeasures> measures(dialogues.size());
  {
    const int workers = common::effective_threads(o.threads, n);
    std::vector<std::unique_ptr<Voicer>> voicers;
    for (int w = 0; w < workers; ++w) voicers.push_back(std::make_unique<Voicer>(voicing, o.out));
    // Only the dialogues that are voiced or measured count, so the ETA is not fooled by the rest.
    const auto spoken = static_cast<int64_t>(std::count(speak.begin(), speak.end(), 1));
    SharedProgress bar(o.progress, o.voices ? "voicing" : "measuring", spoken, "dialogues");
    common::parallel_for(n, workers, [&](int64_t i, int w) {
      if (!speak[i]) return;
      Dialogue& d = dialogues[i];
      guarded(d, diag, "voicing", [&] { measures[i] = voicers[w]->voice(d, o.out, diag); });
      bar.advance();
    });
    bar.finish();
  }
  auto baselines = speaker_baselines(dialogues, measures);
  for (size_t i = 0; i < dialogues.size(); ++i) {
    Dialogue& d = dialogues[i];
    std::optional<VoiceMeasure> baseline;
    for (const Turn& t : d.turns) {
      if (t.voice && t.voice->source == "recorded" && baselines.count(t.voice->speaker)) {
        baseline = baselines.at(t.voice->speaker);
        break;
      }
    }
    assign_voice_deltas(d, measures[i], baseline);
  }
}

// Step 3: IEAT thinking and T1/T2 questions; the new question turns are voiced like the rest. Clips of
// the recorded speech corpora have no reply: they get a describe-the-voice target instead.
void thinking_step(const BuildOptions& o, const VoicingOptions& voicing, ReadDialogues& read,
                   const std::vector<char>& speak, Diagnostics& diag) {
  std::vector<Dialogue>& dialogues = read.dialogues;
  const auto n = static_cast<int64_t>(dialogues.size());
  std::set<std::string> recorded_corpus;
  for (const auto& info : corpora()) {
    if (info.audio && info.name != "humdial") recorded_corpus.insert(info.name);
  }
  const int workers = common::effective_threads(o.threads, n);
  std::vector<std::unique_ptr<Voicer>> voicers;
  if (o.voices) {
    for (int w = 0; w < workers; ++w) voicers.push_back(std::make_unique<Voicer>(voicing, o.out));
  }
  SharedProgress bar(o.progress, o.voices ? "thinking + questions" : "thinking", n, "dialogues");
  common::parallel_for(n, workers, [&](int64_t i, int w) {
    Dialogue& d = dialogues[i];
    guarded(d, diag, "thinking", [&] {
      if (recorded_corpus.count(d.meta.corpus)) add_describe_targets(d);
      add_thinking(d, o.ieat);
      // Reused builds: a question that comes back with the same words keeps its audio.
      if (auto it = read.old_questions.find(d.dialogue_id); it != read.old_questions.end()) {
        for (Turn& t : d.turns) {
          for (const Turn& old : it->second) {
            if (!t.task.empty() && t.split_audio_file.empty() && old.text == t.text) {
              t.split_audio_file = old.split_audio_file;
              t.voice = old.voice;
            }
          }
        }
      }
      if (o.voices && speak[i]) voicers[w]->voice(d, o.out, diag, /*measure=*/false);
    });
    bar.advance();
  });
  bar.finish();
}

}  // namespace

BuildResult build_dataset(const BuildOptions& o, Diagnostics& diag) {
  const auto start = std::chrono::steady_clock::now();
  if (o.corpora.empty() && o.reuse_voices.empty()) {
    throw ConfigError("data build: no corpus given (--corpus NAME[,NAME] or --reuse-voices DIR)");
  }
  if (o.split != "train" && o.split != "valid") {
    throw ConfigError("data build: split = '" + o.split + "'; expected train or valid");
  }
  if (o.out.empty()) throw ConfigError("data build: no output directory (--out DIR)");
  o.voicing.validate();
  o.shards.validate();
  // Load the tokenizer before hours of work, so a bad path fails at once.
  std::optional<text::ChatTemplate> chat;
  if (o.tokenizer) chat.emplace(text::Tokenizer::load(*o.tokenizer));
  std::error_code ec;
  fs::create_directories(o.out / "audio", ec);
  if (ec) throw IoError((o.out / "audio").string() + ": cannot create directory: " + ec.message());

  // 1. Read: the corpora, or the dialogues of an earlier build whose voices are reused.
  ReadDialogues read = read_step(o, diag);
  std::vector<Dialogue>& dialogues = read.dialogues;
  const auto n = static_cast<int64_t>(dialogues.size());
  // Text-teacher corpora (no emotion labels, no recordings) stay text unless asked: they serve
  // stage 0, and voicing their 120k long turns would triple the build time.
  std::vector<char> speak(dialogues.size(), 1);
  if (!o.voice_all) {
    std::map<std::string, bool> emotional;
    for (const auto& info : corpora()) emotional[info.name] = info.emotions || info.audio;
    for (size_t i = 0; i < dialogues.size(); ++i) speak[i] = emotional[dialogues[i].meta.corpus];
  }

  // 2. Voice and measure.
  const auto t_voice = std::chrono::steady_clock::now();
  VoicingOptions voicing = o.voicing;
  voicing.synthesize = o.voices;
  if (o.reuse_voices.empty()) voice_step(o, voicing, dialogues, speak, diag);
  const double voice_seconds = seconds_since(t_voice);

  // 3. Thinking and questions.
  const auto t_ieat = std::chrono::steady_clock::now();
  thinking_step(o, voicing, read, speak, diag);
  int64_t voiced = 0, turns = 0;
  for (const Dialogue& d : dialogues) {
    for (const Turn& t : d.turns) {
      ++turns;
      voiced += !t.split_audio_file.empty();
    }
  }
  write_dialogues((o.out / "dialogues.jsonl").string(), dialogues);
  const double ieat_seconds = seconds_since(t_ieat);

  // 4. Shards.
  const auto t_shards = std::chrono::steady_clock::now();
  json shard_index;
  if (chat) {
    json corpus_names = json::array();
    for (const auto& [name, _] : read.per_corpus.items()) corpus_names.push_back(name);
    json info = {{"corpora", corpus_names},
                 {"split", o.split},
                 {"seed", o.ieat.seed},
                 {"ieat", std::string(to_string(o.ieat.mode))},
                 {"voices", o.voices}};
    shard_index = write_shards(dialogues, o.out, *o.tokenizer, *chat, o.shards, info, o.threads, o.progress, diag);
  }
  const int64_t records = shard_index.is_null() ? 0 : shard_index["totals"]["records"].get<int64_t>();
  const double shard_seconds = seconds_since(t_shards);

  BuildResult result;
  result.dialogues = n;
  result.turns = turns;
  result.voiced_turns = voiced;
  result.records = records;
  result.seconds = seconds_since(start);
  result.report = o.out / "build.json";
  json problems = json::array();
  for (const Problem& p : diag.examples(20)) {
    problems.push_back({{"kind", p.kind}, {"file", p.file}, {"line", p.line}, {"what", p.what}});
  }
  json report = {
      {"corpora", read.per_corpus},
      {"split", o.split},
      {"seed", o.ieat.seed},
      {"ieat", std::string(to_string(o.ieat.mode))},
      {"questions", o.ieat.add_questions},
      {"voices", o.voices},
      {"mismatch_rate", o.voicing.mismatch_rate},
      {"flite_share", o.voicing.flite_share},
      {"augment", o.voicing.augment},
      {"threads", common::effective_threads(o.threads, std::max<int64_t>(n, 1))},
      {"dialogues", n},
      {"turns", turns},
      {"voiced_turns", voiced},
      {"records", records},
      {"seconds",
       {{"total", result.seconds}, {"voicing", voice_seconds}, {"thinking", ieat_seconds}, {"shards", shard_seconds}}},
      {"problem_counts", diag.counts()},
      {"problem_examples", problems}};
  if (!shard_index.is_null()) report["shards"] = shard_index["totals"];
  common::write_file_atomically(result.report, report.dump(1) + "\n");
  return result;
}

}  // namespace attune::data
