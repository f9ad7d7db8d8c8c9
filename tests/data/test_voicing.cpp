// Voicing: synthetic speakers for unrecorded turns, words/voice mismatches, and the prosody deltas
// the thinking's vocal evidence is written from (checked against the talker's documented profiles,
// docs/talker.md: sad is lower, slower and softer; anger higher and louder).
#include <gtest/gtest.h>

#include <cmath>

#include "audio/audio_file.h"
#include "common/file_util.h"
#include "data/voicing.h"
#include "support/test_support.h"
#include "tts/flite_talker.h"

namespace attune::data {
namespace {

constexpr const char* kSentence = "I went to the market this morning and bought some bread and apples.";

Dialogue three_turns(const std::string& last_emotion) {
  Dialogue d;
  d.dialogue_id = "test_dialogue";
  d.meta.corpus = "dailydialog";
  for (int i = 1; i <= 3; ++i) {
    Turn t;
    t.turn_id = i;
    t.text = kSentence;
    t.emotion = i == 3 ? last_emotion : "neutral";
    t.source_emotion = i == 3 ? last_emotion : "no_emotion";
    t.intensity = i == 3 ? 0.9 : 0.0;
    t.response_text = "I see.";
    d.turns.push_back(t);
  }
  return d;
}

TEST(Voicing, SpeaksUnrecordedTurnsAndMeasuresThem) {
  testing::TempDir out;
  Diagnostics diag;
  Voicer voicer(VoicingOptions{.seed = 3, .mismatch_rate = 0}, out.path());
  Dialogue d = three_turns("sad");
  DialogueMeasures m = voicer.voice(d, out.path(), diag);
  EXPECT_EQ(diag.total(), 0);
  ASSERT_EQ(m.turns.size(), 3u);
  ASSERT_TRUE(m.first_reference.has_value());
  for (const Turn& t : d.turns) {
    EXPECT_EQ(t.split_audio_file, "audio/test_dialogue_" + std::to_string(t.turn_id) + ".flac");
    auto info = audio::probe_audio(out.path() / t.split_audio_file);
    EXPECT_EQ(info.sample_rate, 16000);
    EXPECT_GT(info.duration_s(), 2.0);
    ASSERT_TRUE(t.voice.has_value());
    EXPECT_EQ(t.voice->source, "synthetic");
    EXPECT_TRUE(t.voice->gender == "male" || t.voice->gender == "female");
    EXPECT_EQ(t.voice->style_emotion, t.emotion);
  }
  // One speaker per dialogue.
  EXPECT_EQ(d.turns[0].voice->speaker, d.turns[2].voice->speaker);

  assign_voice_deltas(d, m, std::nullopt);
  const VoiceInfo& sad = *d.turns[2].voice;
  ASSERT_TRUE(sad.pitch_delta_st && sad.rate_ratio && sad.loudness_delta_db);
  EXPECT_LT(*sad.pitch_delta_st, -1.5) << "sad is rendered about 3 st lower";
  EXPECT_LT(*sad.rate_ratio, 0.9) << "and slower";
  EXPECT_LT(*sad.loudness_delta_db, -3) << "and softer";
  // Two neutral renderings of the same words by the same speaker differ only by the per-turn jitter.
  const VoiceInfo& second = *d.turns[1].voice;
  EXPECT_LT(std::abs(*second.pitch_delta_st), 1.0);
  EXPECT_LT(std::abs(*second.loudness_delta_db), 1.5);
}

TEST(Voicing, AngerIsHigherAndLouder) {
  testing::TempDir out;
  Diagnostics diag;
  Voicer voicer(VoicingOptions{.seed = 5, .mismatch_rate = 0}, out.path());
  Dialogue d = three_turns("anger");
  DialogueMeasures m = voicer.voice(d, out.path(), diag);
  assign_voice_deltas(d, m, std::nullopt);
  const VoiceInfo& anger = *d.turns[2].voice;
  EXPECT_GT(*anger.pitch_delta_st, 1.0);
  EXPECT_GT(*anger.loudness_delta_db, 3.0);
}

TEST(Voicing, MismatchTurnsKeepTheWordsLabelAndTakeTheVoicesEmotion) {
  testing::TempDir out;
  Diagnostics diag;
  Voicer voicer(VoicingOptions{.seed = 1, .mismatch_rate = 1.0}, out.path());
  Dialogue d = three_turns("happy");
  voicer.voice(d, out.path(), diag);
  for (int i = 0; i < 2; ++i) {
    const Turn& t = d.turns[static_cast<size_t>(i)];
    EXPECT_NE(t.emotion, "neutral");
    EXPECT_EQ(t.source_emotion, "no_emotion");
    EXPECT_EQ(t.voice->style_emotion, t.emotion);
    EXPECT_GE(*t.intensity, 0.6);
  }
  // A turn whose words carry their own emotion keeps it.
  EXPECT_EQ(d.turns[2].emotion, "happy");
}

TEST(Voicing, FliteShareSpeaksThatShareOfDialoguesWithFliteVoicesReproducibly) {
  if (!tts::flite_available()) GTEST_SKIP() << "attune-flite not built (flite1-dev); skipping";
  testing::TempDir a, b;
  Diagnostics diag;
  // Every dialogue with Flite: the profiles still show in the measured deltas, and a seed repeats.
  Dialogue da = three_turns("sad"), db = three_turns("sad");
  DialogueMeasures m =
      Voicer(VoicingOptions{.seed = 4, .flite_share = 1, .mismatch_rate = 0}, a.path()).voice(da, a.path(), diag);
  Voicer(VoicingOptions{.seed = 4, .flite_share = 1, .mismatch_rate = 0}, b.path()).voice(db, b.path(), diag);
  EXPECT_EQ(tts::voice_engine(da.turns[0].voice->speaker), "flite") << da.turns[0].voice->speaker;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(common::read_file(a.path() / da.turns[i].split_audio_file),
              common::read_file(b.path() / db.turns[i].split_audio_file));
  }
  assign_voice_deltas(da, m, std::nullopt);
  EXPECT_LT(*da.turns[2].voice->pitch_delta_st, -1.5);
  EXPECT_LT(*da.turns[2].voice->loudness_delta_db, -3);

  // Half: a seeded per-dialogue choice; none: every speaker is espeak-ng's, as before.
  for (double share : {0.5, 0.0}) {
    int flite = 0;
    Voicer voicer(VoicingOptions{.seed = 2, .flite_share = share, .mismatch_rate = 0}, a.path());
    for (int k = 0; k < 40; ++k) {
      Dialogue d;
      d.dialogue_id = "share_" + std::to_string(k);
      d.meta.corpus = "dailydialog";
      Turn t;
      t.turn_id = 1;
      t.text = "Hi.";
      t.emotion = "neutral";
      d.turns.push_back(t);
      voicer.voice(d, a.path(), diag);
      flite += tts::voice_engine(d.turns[0].voice->speaker) == "flite";
    }
    if (share == 0)
      EXPECT_EQ(flite, 0);
    else
      EXPECT_TRUE(flite >= 12 && flite <= 28) << flite << " of 40";
  }
  EXPECT_THROW(VoicingOptions{.flite_share = 1.5}.validate(), ConfigError);
}

TEST(Voicing, SameSeedSameAudio) {
  testing::TempDir a, b;
  Diagnostics diag;
  Dialogue da = three_turns("fear"), db = three_turns("fear");
  Voicer(VoicingOptions{.seed = 9}, a.path()).voice(da, a.path(), diag);
  Voicer(VoicingOptions{.seed = 9}, b.path()).voice(db, b.path(), diag);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(da.turns[i].emotion, db.turns[i].emotion);
    EXPECT_EQ(common::read_file(a.path() / da.turns[i].split_audio_file),
              common::read_file(b.path() / db.turns[i].split_audio_file));
  }
}

TEST(Voicing, ProblemsAreReportedAndTheRestIsVoiced) {
  testing::TempDir out;
  Diagnostics diag;
  Voicer voicer(VoicingOptions{.mismatch_rate = 0}, out.path());
  Dialogue d = three_turns("sad");
  d.turns[0].text = "... ?!";                    // nothing to pronounce
  d.turns[1].split_audio_file = "missing.flac";  // a recording that is not there
  voicer.voice(d, out.path(), diag);
  EXPECT_EQ(diag.counts().at("unvoiceable text"), 1);
  EXPECT_EQ(diag.counts().at("unreadable audio"), 1);
  EXPECT_TRUE(d.turns[0].split_audio_file.empty());
  EXPECT_TRUE(d.turns[1].split_audio_file.empty());
  EXPECT_FALSE(d.turns[2].split_audio_file.empty());

  Dialogue de = three_turns("sad");
  de.lang = "de";
  voicer.voice(de, out.path(), diag);
  EXPECT_EQ(diag.counts().at("unvoiced language"), 3);
}

TEST(Voicing, TheSecondPassVoicesOnlyTheQuestionTurns) {
  testing::TempDir out;
  Diagnostics diag;
  Voicer voicer(VoicingOptions{.mismatch_rate = 0}, out.path());
  Dialogue d = three_turns("sad");
  d.turns[2].task = "t1";
  DialogueMeasures m = voicer.voice(d, out.path(), diag, /*measure=*/false);
  EXPECT_TRUE(d.turns[0].split_audio_file.empty());
  EXPECT_TRUE(d.turns[1].split_audio_file.empty());
  EXPECT_FALSE(d.turns[2].split_audio_file.empty());
  EXPECT_FALSE(m.turns[2].has_value());  // nothing measured
}

TEST(Voicing, DeltasFollowTheReferenceRules) {
  // Hand-derived: turn 1 against the reference, later turns against the median of earlier turns.
  Dialogue d;
  d.dialogue_id = "x";
  for (int i = 1; i <= 3; ++i) d.turns.push_back(Turn{.turn_id = i, .text = "t"});
  DialogueMeasures m;
  m.first_reference = VoiceMeasure{200, 4.0, -30, 1.0};
  m.turns = {VoiceMeasure{200, 4.0, -30, 1.0}, VoiceMeasure{400, 5.0, -24, 2.0}, VoiceMeasure{150, 2.0, -40, 0.5}};
  assign_voice_deltas(d, m, std::nullopt);
  EXPECT_NEAR(*d.turns[0].voice->pitch_delta_st, 0, 1e-12);
  EXPECT_NEAR(*d.turns[1].voice->pitch_delta_st, 12.0, 1e-12);  // an octave above turn 1
  EXPECT_NEAR(*d.turns[1].voice->rate_ratio, 1.25, 1e-12);
  EXPECT_NEAR(*d.turns[1].voice->loudness_delta_db, 6.0, 1e-12);
  EXPECT_NEAR(*d.turns[1].voice->jitter_ratio, 2.0, 1e-12);
  // Turn 3 against the median of turns 1-2: 300 Hz, 4.5 syl/s, -27 dB, jitter 1.5.
  EXPECT_NEAR(*d.turns[2].voice->pitch_delta_st, 12 * std::log2(150.0 / 300.0), 1e-12);
  EXPECT_NEAR(*d.turns[2].voice->rate_ratio, 2.0 / 4.5, 1e-12);
  EXPECT_NEAR(*d.turns[2].voice->loudness_delta_db, -13.0, 1e-12);
  EXPECT_EQ(d.turns[2].voice->source, "recorded");

  // No reference at all: no deltas for the first turn.
  Dialogue e = d;
  for (Turn& t : e.turns) t.voice.reset();
  m.first_reference.reset();
  assign_voice_deltas(e, m, std::nullopt);
  EXPECT_FALSE(e.turns[0].voice.has_value());
  EXPECT_TRUE(e.turns[1].voice.has_value());
}

TEST(Voicing, SpeakerBaselinesUseNeutralTurns) {
  std::vector<Dialogue> ds(3);
  std::vector<DialogueMeasures> ms(3);
  const char* emotions[] = {"neutral", "anger", "neutral"};
  const double f0[] = {100, 300, 120};
  for (int i = 0; i < 3; ++i) {
    ds[i].turns.push_back(
        Turn{.turn_id = 1, .emotion = emotions[i], .voice = VoiceInfo{.source = "recorded", .speaker = "actor_1"}});
    ms[i].turns = {VoiceMeasure{f0[i], 4, -30, 1}};
  }
  auto base = speaker_baselines(ds, ms);
  ASSERT_EQ(base.count("actor_1"), 1u);
  EXPECT_NEAR(base.at("actor_1").f0_hz, 110, 1e-12);  // median of the two neutral clips
}

}  // namespace
}  // namespace attune::data
