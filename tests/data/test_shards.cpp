// Training shards: records in two views with loss masks and audio slots, features equal to the
// log-mel front end's, windows for long dialogues, and a lossless write/read round trip.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "attune/error.h"
#include "audio/audio_file.h"
#include "common/file_util.h"
#include "data/labels.h"
#include "data/shards.h"
#include "io/safetensors.h"
#include "support/small_tokenizer.h"
#include "support/test_support.h"

namespace attune::data {
namespace {

text::ChatTemplate small_chat() { return text::ChatTemplate(testing::small_tokenizer(500)); }

// A 16 kHz tone of `seconds` as FLAC under `dir`.
std::string write_tone(const std::filesystem::path& dir, const std::string& name, double seconds, double hz) {
  AudioBuffer a;
  a.sample_rate = 16000;
  for (int64_t i = 0; i < static_cast<int64_t>(seconds * 16000); ++i) {
    a.samples.push_back(static_cast<float>(0.3 * std::sin(2 * M_PI * hz * static_cast<double>(i) / 16000)));
  }
  audio::write_audio(dir / name, a);
  return name;
}

Dialogue spoken(const std::filesystem::path& dir, int turns) {
  Dialogue d;
  d.dialogue_id = "spoken_1";
  d.meta.corpus = "test";
  for (int i = 1; i <= turns; ++i) {
    Turn t;
    t.turn_id = i;
    t.text = "I failed my exam today.";
    t.emotion = i == 1 ? "neutral" : "sad";
    t.intensity = 0.5;
    t.split_audio_file = write_tone(dir, "t" + std::to_string(i) + ".flac", 1.0 + 0.37 * i, 200.0 * i);
    t.voice = VoiceInfo{.source = "synthetic", .gender = "female", .pitch_delta_st = -2.0, .rate_ratio = 0.8};
    t.response_text = "That sounds really hard. What happened?";
    t.thinking = "They sound sad: lower pitch, slower.\nstyle: sad 0.30";
    d.turns.push_back(t);
  }
  return d;
}

std::string masked_text(const text::ChatTemplate& chat, const std::vector<int32_t>& ids,
                        const std::vector<uint8_t>& mask) {
  std::vector<int32_t> kept;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (mask[i]) kept.push_back(ids[i]);
  }
  return chat.tokenizer().decode(kept);
}

TEST(Shards, RecordHasBothViewsSlotsMasksAndFeatures) {
  testing::TempDir dir;
  text::ChatTemplate chat = small_chat();
  Diagnostics diag;
  RecordBuilder builder(chat, ShardOptions{}, dir.path());
  Dialogue d = spoken(dir.path(), 2);
  std::vector<Record> records = builder.build(d, diag);
  EXPECT_EQ(diag.total(), 0);
  ASSERT_EQ(records.size(), 1u);
  const Record& r = records[0];
  ASSERT_EQ(r.turns.size(), 2u);

  const int32_t slot = chat.tokenizer().token_to_id("<|AUDIO|>");
  const int32_t bos = chat.tokenizer().token_to_id("<|audio_bos|>");
  audio::LogMelExtractor mel;
  for (size_t k = 0; k < 2; ++k) {
    const TurnRecord& t = r.turns[k];
    AudioBuffer a = audio::load_mono(dir.path() / d.turns[k].split_audio_file);
    EXPECT_EQ(t.slot_count, text::audio_slot_count(static_cast<int64_t>(a.samples.size()), 4));
    ASSERT_GE(t.slot_first, 1);
    EXPECT_EQ(r.audio_ids[static_cast<size_t>(t.slot_first - 1)], bos);
    for (int64_t i = 0; i < t.slot_count; ++i) EXPECT_EQ(r.audio_ids[static_cast<size_t>(t.slot_first + i)], slot);
    // Features: the front end's log-mel, transposed to frames x mels, in float16.
    audio::LogMel ref = mel.compute(a.samples);
    ASSERT_EQ(t.frames, ref.frames);
    double worst = 0;
    for (int64_t f = 0; f < ref.frames; ++f) {
      for (int m = 0; m < 80; ++m) {
        worst = std::max(worst, std::abs(double(io::f16_to_f32(t.mel[f * 80 + m])) - ref.at(m, f)));
      }
    }
    EXPECT_LT(worst, 2e-3);  // float16 keeps ~3 decimal digits of values in [-1, 2]
    EXPECT_EQ(t.emotion, emotion_index(d.turns[k].emotion));
    EXPECT_FLOAT_EQ(t.voice[0], -2.0f);
    EXPECT_TRUE(std::isnan(t.voice[2]));  // loudness unknown
  }
  // The text view holds the transcript and the voice description; the audio view neither.
  std::string text_view = chat.tokenizer().decode(r.text_ids);
  std::string audio_view = chat.tokenizer().decode(r.audio_ids);
  EXPECT_NE(text_view.find("I failed my exam today.\n[voice: "), std::string::npos) << text_view;
  EXPECT_EQ(audio_view.find("I failed my exam"), std::string::npos);
  // Targets: thinking and reply in both views, never the user's turn.
  for (const auto& [ids, mask] : {std::pair{r.text_ids, r.text_mask}, std::pair{r.audio_ids, r.audio_mask}}) {
    std::string target = masked_text(chat, ids, mask);
    EXPECT_NE(target.find("style: sad 0.30"), std::string::npos);
    EXPECT_NE(target.find("What happened?"), std::string::npos);
    EXPECT_EQ(target.find("exam today"), std::string::npos);
  }
}

// A transcribed build (`attune data transcribe`) shows what the encoder heard after the audio, as
// the runtime does for a model with words_in_prompt; the words are context, never a target.
TEST(Shards, TranscribedTurnsShowTheHeardWordsBesideTheAudio) {
  testing::TempDir dir;
  Dialogue d = spoken(dir.path(), 2);
  d.turns[0].heard_words = "i faled my exam to day";
  const text::ChatTemplate chat = small_chat();
  Diagnostics diag;
  const std::vector<Record> records = RecordBuilder(chat, ShardOptions{}, dir.path()).build(d, diag);
  ASSERT_EQ(records.size(), 1u);
  const std::string audio_view = chat.tokenizer().decode(records[0].audio_ids);
  EXPECT_NE(audio_view.find("<|audio_eos|>\ni faled my exam to day<|im_end|>"), std::string::npos) << audio_view;
  EXPECT_EQ(masked_text(chat, records[0].audio_ids, records[0].audio_mask).find("faled"), std::string::npos);
  // The untranscribed second turn keeps its audio alone.
  EXPECT_EQ(audio_view.find("faled", audio_view.find("faled") + 1), std::string::npos);
}

TEST(Shards, LongDialoguesAreSplitIntoWindowsUnderTheBudget) {
  testing::TempDir dir;
  text::ChatTemplate chat = small_chat();
  Diagnostics diag;
  Dialogue d = spoken(dir.path(), 6);
  for (Turn& t : d.turns) t.split_audio_file.clear();  // text only
  ShardOptions options;
  options.max_tokens = 200;
  std::vector<Record> records = RecordBuilder(chat, options, dir.path()).build(d, diag);
  ASSERT_GT(records.size(), 1u);
  std::vector<int> seen;
  for (const Record& r : records) {
    EXPECT_LE(static_cast<int64_t>(r.text_ids.size()), options.max_tokens);
    EXPECT_TRUE(r.audio_ids.empty());
    for (const TurnRecord& t : r.turns) {
      seen.push_back(t.turn_id);
      EXPECT_EQ(t.slot_first, -1);
    }
  }
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3, 4, 5, 6}));

  // A turn that alone exceeds the budget is reported and left out; the others stay.
  d.turns[2].response_text = std::string(3000, 'a');
  Diagnostics long_diag;
  records = RecordBuilder(chat, options, dir.path()).build(d, long_diag);
  EXPECT_EQ(long_diag.counts().at("turn too long"), 1);
  seen.clear();
  for (const Record& r : records) {
    for (const TurnRecord& t : r.turns) seen.push_back(t.turn_id);
  }
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 4, 5, 6}));
}

TEST(Shards, WriteAndReadBackLosslessly) {
  testing::TempDir dir;
  text::ChatTemplate chat = small_chat();
  Diagnostics diag;
  RecordBuilder builder(chat, ShardOptions{}, dir.path());
  std::vector<Record> records;
  for (int turns = 1; turns <= 3; ++turns) {
    Dialogue d = spoken(dir.path(), turns);
    d.dialogue_id = "d" + std::to_string(turns);
    for (Record& r : builder.build(d, diag)) records.push_back(std::move(r));
  }
  ShardOptions options;
  options.records_per_shard = 2;
  ShardWriter writer(dir / "shards", options, {{"corpora", {"test"}}});
  for (const Record& r : records) writer.add(r);
  nlohmann::json index = writer.finish();
  EXPECT_EQ(index["shards"].size(), 2u);
  EXPECT_EQ(index["totals"]["records"], 3);
  EXPECT_EQ(index["totals"]["turns"], 6);
  EXPECT_EQ(index["corpora"][0], "test");

  ShardSet set = ShardSet::open(dir / "shards");
  ASSERT_EQ(set.size(), 3);
  const auto text_lengths = set.lengths("text"), audio_lengths = set.lengths("audio");
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(text_lengths[size_t(i)], static_cast<int64_t>(records[size_t(i)].text_ids.size()));
    EXPECT_EQ(audio_lengths[size_t(i)], static_cast<int64_t>(records[size_t(i)].audio_ids.size()));
  }
  EXPECT_THROW(set.lengths("video"), ConfigError);
  for (int64_t i = 0; i < 3; ++i) {
    Record back = set.record(i);
    const Record& r = records[static_cast<size_t>(i)];
    EXPECT_EQ(back.dialogue_id, r.dialogue_id);
    EXPECT_EQ(back.text_ids, r.text_ids);
    EXPECT_EQ(back.text_mask, r.text_mask);
    EXPECT_EQ(back.audio_ids, r.audio_ids);
    EXPECT_EQ(back.audio_mask, r.audio_mask);
    ASSERT_EQ(back.turns.size(), r.turns.size());
    for (size_t k = 0; k < r.turns.size(); ++k) {
      EXPECT_EQ(back.turns[k].mel, r.turns[k].mel);
      EXPECT_EQ(back.turns[k].slot_first, r.turns[k].slot_first);
      EXPECT_EQ(back.turns[k].emotion, r.turns[k].emotion);
      EXPECT_TRUE(std::isnan(back.turns[k].voice[3]));
    }
  }
  EXPECT_THROW(set.record(3), Error);

  // A truncated shard and a foreign index are named, not crashed on.
  std::string bytes = common::read_file(dir / "shards" / "shard-00001.safetensors");
  testing::write_bytes(dir / "shards" / "shard-00001.safetensors", bytes.substr(0, bytes.size() / 2));
  try {
    ShardSet::open(dir / "shards");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("shard-00001.safetensors"), std::string::npos) << e.what();
  }
  testing::write_bytes(dir / "shards" / "index.json", R"({"format": "attune-shards", "version": 99})");
  EXPECT_THROW(ShardSet::open(dir / "shards"), InputError);
}

// A damaged index whose fields have the wrong types names the file (it was an "internal error").
TEST(Shards, IndexFieldsOfTheWrongTypeNameTheFile) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "shards");
  for (const char* index : {R"({"format": "attune-shards", "version": "two"})", R"({"format": 7})",
                            R"({"format": "attune-shards", "version": 1, "shards": [{"file": 3}]})"}) {
    testing::write_bytes(dir / "shards" / kShardIndexName, index);
    try {
      ShardSet::open(dir / "shards");
      ADD_FAILURE() << "accepted " << index;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(kShardIndexName), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace attune::data
