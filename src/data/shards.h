// Training shards: dialogues rendered for training, in safetensors files plus a JSON index.
//
// A record is a window of consecutive turns of one dialogue (a long dialogue becomes several), in
// two views of the same conversation, rendered with the target model's tokenizer and ChatML template:
//   text view   user turns as transcript + "[voice: ...]" description: the stage 0/1 teacher's input
//   audio view  user turns as <|AUDIO|> slots only: what the spoken model hears (stages 1/2)
// Both carry the same assistant targets (thinking + reply) with loss masks. Per user turn: its
// log-mel (float16, frames x n_mels), where its slots sit, and labels (emotion, intensity, voice
// deltas). docs/data.md ("Shards") lists every tensor.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "audio/log_mel.h"
#include "data/diagnostics.h"
#include "data/dialogue.h"
#include "text/chat_template.h"

namespace attune::data {

inline constexpr const char* kShardIndexName = "index.json";
inline constexpr int kShardFormatVersion = 1;

struct ShardOptions {
  int n_mels = 80;
  int adapter_stride = 4;            // encoder frames per LLM position (the model's adapter.stride)
  int64_t max_tokens = 2048;         // per record and view; longer dialogues are split into windows
  int64_t records_per_shard = 1024;  // records per safetensors file
  double max_turn_audio_s = 30;      // Whisper's window: longer user audio is cut, and reported
  std::string system_prompt;         // "" = the template's default

  void validate() const;
};

struct TurnRecord {
  int turn_id = 0;
  int emotion = -1;      // index into emotion_labels(); -1 unknown
  float intensity = -1;  // [0, 1]; -1 unknown
  float voice[4] = {};   // pitch_delta_st, rate_ratio, loudness_delta_db, jitter_ratio (NaN: unknown)
  bool synthetic = false;
  int task = 0;                             // 0 ordinary, 1 T1 question, 2 T2 question
  int64_t slot_first = -1, slot_count = 0;  // in the audio view's ids; -1: no audio
  int64_t frames = 0;
  std::vector<uint16_t> mel;  // float16 bits, frames x n_mels
};

struct Record {
  std::string dialogue_id;
  std::vector<int32_t> text_ids, audio_ids;  // audio_ids empty when a user turn of the window has no audio
  std::vector<uint8_t> text_mask, audio_mask;
  std::vector<TurnRecord> turns;  // the user turns of the window, in order
};

// The [begin, end) runs of consecutive target positions in a record's mask: one assistant turn
// each (<think> ... </think> reply <|im_end|>).
std::vector<std::pair<size_t, size_t>> target_runs(const std::vector<uint8_t>& mask);

// Renders dialogues into records. One per worker thread (it owns a log-mel extractor).
class RecordBuilder {
 public:
  // Audio paths are resolved against `audio_base` (the directory of dialogues.jsonl).
  RecordBuilder(const text::ChatTemplate& chat, ShardOptions options, std::filesystem::path audio_base);
  // The records of one dialogue; turns that cannot be used are reported (and left out).
  std::vector<Record> build(const Dialogue& dialogue, Diagnostics& diag) const;

 private:
  // The turn's log-mel (cut to max_turn_audio_s) and audio slots into `record`; false, with a
  // problem reported, when its audio cannot be read.
  bool add_audio_features(const Dialogue& dialogue, const Turn& turn, TurnRecord& record, Diagnostics& diag) const;

  const text::ChatTemplate& chat_;
  ShardOptions options_;
  std::filesystem::path audio_base_;
  audio::LogMelExtractor mel_;
};

// Counts of what a writer wrote.
struct ShardTotals {
  int64_t records = 0, turns = 0, text_tokens = 0, audio_tokens = 0, target_tokens = 0, frames = 0;
};

// Writes records into <dir>/shard-00000.safetensors, ... and, on finish(), <dir>/index.json.
class ShardWriter {
 public:
  // `info` goes into the index as is (tokenizer, corpora, seed, ieat mode, ...).
  ShardWriter(std::filesystem::path dir, ShardOptions options, nlohmann::json info);
  ~ShardWriter();
  void add(Record record);
  // Writes the last shard and the index (atomically, last); returns the index.
  nlohmann::json finish();
  const ShardTotals& totals() const { return totals_; }

 private:
  void flush();

  std::filesystem::path dir_;
  ShardOptions options_;
  std::unique_ptr<nlohmann::json> info_, shards_;
  std::vector<Record> pending_;
  ShardTotals totals_;
  bool finished_ = false;
};

// Reads a shard directory back (stats, tests, training).
class ShardSet {
 public:
  // Throws InputError naming the index or shard file when something is missing or inconsistent.
  static ShardSet open(const std::filesystem::path& dir);
  ShardSet(ShardSet&&) noexcept;
  ~ShardSet();

  const nlohmann::json& index() const;
  int64_t size() const;  // records
  Record record(int64_t i) const;
  // Token counts of every record in one view ("text" or "audio"; 0 where a record has no audio
  // view), read from the offsets alone: what a batch planner needs without loading records.
  std::vector<int64_t> lengths(std::string_view view) const;
  // The dialogue id of every record, in record order (from the index alone).
  std::vector<std::string> dialogue_ids() const;

 private:
  struct Impl;
  explicit ShardSet(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace attune::data
