// Corpus readers on hand-written fixtures (tests/fixtures/data/<corpus>/, the corpora's own
// formats, a few lines each): role mapping, joins, label normalisation, cause mapping, problems
// with their lines. Then each real corpus in ../shared/data: counts and no unknown labels.
#include <zlib.h>

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attune/error.h"
#include "data/readers.h"
#include "support/test_support.h"

namespace attune::data {
namespace {

namespace fs = std::filesystem;

fs::path fixtures() { return testing::fixtures_dir() / "data"; }

const Dialogue& by_id(const std::vector<Dialogue>& ds, const std::string& id) {
  for (const Dialogue& d : ds) {
    if (d.dialogue_id == id) return d;
  }
  throw std::runtime_error("no dialogue " + id);
}

int64_t count(const Diagnostics& diag, const std::string& kind) {
  auto c = diag.counts();
  auto it = c.find(kind);
  return it == c.end() ? 0 : it->second;
}

// The lines at which problems of `kind` were reported.
std::vector<int64_t> lines_of(const Diagnostics& diag, const std::string& kind) {
  std::vector<int64_t> out;
  for (const Problem& p : diag.examples(100)) {
    if (p.kind == kind) out.push_back(p.line);
  }
  return out;
}

// ---- helpers ------------------------------------------------------------------------------------

TEST(ReaderIds, HashSplitIsStableAndAboutTenPercent) {
  EXPECT_EQ(hash_split("3"), "valid");  // fixed by FNV-1a: changing it reshuffles every split
  EXPECT_EQ(hash_split("1"), "train");
  int valid = 0;
  for (int i = 0; i < 10000; ++i) valid += hash_split("id_" + std::to_string(i)) == "valid";
  EXPECT_NEAR(valid, 1000, 100);
}

TEST(ReaderIds, DialogueIdsAreFileNameSafe) {
  EXPECT_EQ(make_dialogue_id("empatheticdialogues", "hit:3_conv:6"), "empatheticdialogues_hit_3_conv_6");
  EXPECT_EQ(make_dialogue_id("swda", "swda_2005"), "swda_2005");
  EXPECT_EQ(make_dialogue_id("reccon", "tr_4466"), "reccon_tr_4466");
  EXPECT_EQ(make_dialogue_id("x", "a b/c.d"), "x_a_b_c_d");
}

TEST(ReaderErrors, UnknownCorpusOrSplitAndMissingFiles) {
  Diagnostics diag;
  EXPECT_THROW(read_corpus("nope", "train", fixtures(), diag), ConfigError);
  EXPECT_THROW(read_corpus("reccon", "test", fixtures(), diag), ConfigError);
  testing::TempDir empty;
  try {
    read_corpus("reccon", "train", empty.path(), diag);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("dailydialog_train.json"), std::string::npos) << e.what();
  }
}

// Invalid UTF-8 outside the utterances (here a MELD dialogue id and speaker; found by fuzz_corpus)
// is replaced and reported, so what is read always serialises to JSON.
TEST(ReaderErrors, InvalidUtf8InOtherFieldsIsReplacedAndReported) {
  testing::TempDir dir;
  fs::create_directories(dir / "meld");
  testing::write_bytes(
      dir / "meld" / "train_sent_emo.csv",
      "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\n"
      "1,I am sad.,Ra\xFF"
      "chel,sadness,negative,7\xFE,0,1,1,a,b\n"
      "2,Oh no.,Joey,neutral,neutral,7\xFE,1,1,1,a,b\n");
  Diagnostics diag;
  const auto ds = read_corpus("meld", "train", dir.path(), diag);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].meta.source_id, "train_7\xEF\xBF\xBD");
  EXPECT_EQ(count(diag, "invalid utf-8"), 1);
  EXPECT_NO_THROW((void)to_json(ds[0]).dump());
}

TEST(ReaderCorpora, ListNamesEveryReader) {
  std::vector<std::string> names;
  for (const CorpusInfo& c : corpora()) names.push_back(c.name);
  EXPECT_EQ(names.size(), 16u);
  EXPECT_EQ(names.back(), "humdial");
}

// ---- per corpus, fixtures -----------------------------------------------------------------------

TEST(ReaderReccon, RolesJoinsCausesAndProblems) {
  Diagnostics diag;
  auto ds = read_corpus("reccon", "train", fixtures(), diag);
  ASSERT_EQ(ds.size(), 3u);  // tr_bad skipped

  // B has the non-neutral lines, so B is the user; A's first line is the opening.
  const Dialogue& d1 = by_id(ds, "reccon_tr_1");
  EXPECT_EQ(d1.meta.user_speaker, "B");
  EXPECT_EQ(d1.meta.responder_speaker, "A");
  EXPECT_EQ(d1.meta.opening, "Hey, you wanna see a movie?");
  EXPECT_EQ(d1.meta.split, "train");
  EXPECT_EQ(d1.lang, "en");
  ASSERT_EQ(d1.turns.size(), 2u);
  const Turn& t1 = d1.turns[0];
  EXPECT_EQ(t1.turn_id, 1);
  EXPECT_EQ(t1.text, "Sounds great! I love movies.");
  EXPECT_EQ(t1.emotion, "happy");
  EXPECT_EQ(t1.source_emotion, "happy");  // the last non-neutral line's label
  EXPECT_EQ(t1.response_text, "Ok.");
  EXPECT_EQ(t1.cause_turns, (std::vector<int>{1}));           // utterances 2 and 3 are turn 1; 1 is the opening
  EXPECT_EQ(t1.cause_response_turns, (std::vector<int>{0}));  // "see a movie" was said in the opening
  EXPECT_EQ(t1.cause_span, (std::vector<std::string>{"see a movie", "Sounds great", "love movies"}));
  EXPECT_EQ(t1.cause_type, "inter-personal,self-contagion,no-context");
  const Turn& t2 = d1.turns[1];
  EXPECT_EQ(t2.emotion, "sad");
  EXPECT_EQ(t2.cause_type, "latent");                // evidence "b": background, no utterance
  EXPECT_EQ(t2.cause_turns, (std::vector<int>{2}));  // utterance 5, and no span "b"
  EXPECT_EQ(t2.cause_span, (std::vector<std::string>{"lost my wallet"}));
  EXPECT_EQ(t2.response_text, "Really?");

  const Dialogue& d2 = by_id(ds, "reccon_tr_2");
  EXPECT_EQ(d2.meta.user_speaker, "A");
  ASSERT_EQ(d2.turns.size(), 2u);
  EXPECT_EQ(d2.turns[0].emotion, "happy");
  EXPECT_EQ(d2.turns[0].source_emotion, "happines");
  EXPECT_EQ(d2.turns[0].cause_turns, (std::vector<int>{1}));
  EXPECT_EQ(d2.turns[1].text, "It starts on Monday.");  // the blank line is skipped
  EXPECT_EQ(d2.turns[1].emotion, "happy");
  EXPECT_EQ(d2.turns[1].cause_turns, (std::vector<int>{1}));  // 9 is out of range, 1 kept
  EXPECT_EQ(d2.turns[1].response_text, "When?");

  // A tie (no non-neutral line) goes to the first speaker.
  EXPECT_EQ(by_id(ds, "reccon_tr_3").meta.user_speaker, "A");
  EXPECT_EQ(by_id(ds, "reccon_tr_3").turns[0].emotion, "neutral");

  EXPECT_EQ(count(diag, "malformed dialogue"), 1);
  EXPECT_EQ(count(diag, "empty utterance"), 1);
  EXPECT_EQ(count(diag, "unknown label"), 1);  // "joyous"
  EXPECT_EQ(count(diag, "cause out of range"), 1);
  // A cause in what the responder said before the user's first turn points at the opening (0).
  int opening_causes = 0;
  for (const Dialogue& d : ds) {
    for (const Turn& t : d.turns)
      opening_causes += std::count(t.cause_response_turns.begin(), t.cause_response_turns.end(), 0);
  }
  EXPECT_EQ(opening_causes, 1);

  Diagnostics vdiag;
  auto valid = read_corpus("reccon", "valid", fixtures(), vdiag);
  ASSERT_EQ(valid.size(), 1u);
  EXPECT_EQ(valid[0].turns[0].cause_turns, (std::vector<int>{1}));
  EXPECT_EQ(vdiag.total(), 0);
}

TEST(ReaderEcf, MultiPartyResponsesAndCausePairs) {
  Diagnostics diag;
  auto ds = read_corpus("ecf", "train", fixtures(), diag);
  ASSERT_EQ(ds.size(), 2u);  // conversation 3 hashes to valid
  const Dialogue& d = by_id(ds, "ecf_1");
  EXPECT_EQ(d.meta.user_speaker, "Chandler");
  EXPECT_EQ(d.meta.responder_speaker, "Joey, Phoebe");
  ASSERT_EQ(d.turns.size(), 3u);
  EXPECT_EQ(d.turns[0].emotion, "neutral");
  EXPECT_EQ(d.turns[0].response_text, "Had that dream.");  // one other speaker: no names
  EXPECT_EQ(d.turns[1].emotion, "surprise");
  EXPECT_EQ(d.turns[1].cause_turns, (std::vector<int>{1}));
  EXPECT_EQ(d.turns[1].cause_response_turns, (std::vector<int>{1}));
  EXPECT_EQ(d.turns[1].cause_span, (std::vector<std::string>{"I am naked.", "Had that dream."}));
  EXPECT_EQ(d.turns[1].response_text, "Joey: Instead of...? Phoebe: No.");
  EXPECT_EQ(d.turns[2].emotion, "anger");
  EXPECT_EQ(d.turns[2].cause_response_turns, (std::vector<int>{2}));  // 12 out of range, dropped
  EXPECT_EQ(d.turns[2].response_text, "Never had that dream.");

  const Dialogue& d2 = by_id(ds, "ecf_2");
  EXPECT_EQ(d2.turns[0].emotion, "happy");
  EXPECT_EQ(d2.turns[0].source_emotion, "joy");
  EXPECT_EQ(d2.turns[0].cause_turns, (std::vector<int>{1}));
  EXPECT_EQ(d2.turns[0].response_text, "Hello.");

  EXPECT_EQ(count(diag, "cause out of range"), 1);
  EXPECT_EQ(count(diag, "malformed cause"), 1);
  EXPECT_EQ(count(diag, "empty utterance"), 1);

  Diagnostics vdiag;
  auto valid = read_corpus("ecf", "valid", fixtures(), vdiag);
  ASSERT_EQ(valid.size(), 1u);
  EXPECT_EQ(valid[0].dialogue_id, "ecf_3");
}

TEST(ReaderEsconv, SeekerEmotionStrategiesAndIntensity) {
  Diagnostics diag;
  auto ds = read_corpus("esconv", "train", fixtures(), diag);
  ASSERT_EQ(ds.size(), 2u);
  const Dialogue& d = ds[0];
  EXPECT_EQ(d.dialogue_id, "esconv_train_0");
  EXPECT_EQ(d.meta.opening, "Hi, how are you?");
  EXPECT_EQ(d.meta.situation, "I may lose my job.");
  EXPECT_EQ(d.meta.problem, "job crisis");
  EXPECT_EQ(d.meta.user_speaker, "usr");
  ASSERT_EQ(d.turns.size(), 2u);
  EXPECT_EQ(d.turns[0].text, "Not great. I may lose my job.");
  EXPECT_EQ(d.turns[0].emotion, "fear");
  EXPECT_EQ(d.turns[0].source_emotion, "anxiety");
  EXPECT_EQ(d.turns[0].response_text, "Why do you think so? That sounds stressful.");
  EXPECT_EQ(d.turns[0].strategy, "Question; Reflection of feelings");
  EXPECT_EQ(d.turns[1].emotion, "fear");
  EXPECT_EQ(d.turns[1].response_text, "");
  ASSERT_TRUE(d.meta.intensity_before && d.meta.intensity_after);
  EXPECT_DOUBLE_EQ(*d.meta.intensity_before, 1.0);
  EXPECT_DOUBLE_EQ(*d.meta.intensity_after, 0.0);
  EXPECT_EQ(d.turns[0].intensity, 1.0);
  EXPECT_EQ(d.turns[1].intensity, 0.0);

  EXPECT_EQ(ds[1].dialogue_id, "esconv_train_2");  // ids follow the file's lines
  EXPECT_EQ(ds[1].turns[0].emotion, "");
  EXPECT_EQ(ds[1].turns[0].source_emotion, "boredom");
  EXPECT_EQ(lines_of(diag, "malformed line"), (std::vector<int64_t>{2}));
  EXPECT_EQ(lines_of(diag, "unknown label"), (std::vector<int64_t>{3}));

  Diagnostics vdiag;
  auto valid = read_corpus("esconv", "valid", fixtures(), vdiag);
  ASSERT_EQ(valid.size(), 1u);
  EXPECT_EQ(valid[0].turns[0].emotion, "sad");
}

TEST(ReaderMeld, QuotedCsvMultiPartyAndLineNumbers) {
  Diagnostics diag;
  auto ds = read_corpus("meld", "train", fixtures(), diag);
  ASSERT_EQ(ds.size(), 2u);
  const Dialogue& d = by_id(ds, "meld_train_0");
  EXPECT_EQ(d.meta.user_speaker, "Joey");
  ASSERT_EQ(d.turns.size(), 2u);
  EXPECT_EQ(d.turns[0].text, "Oh, hi, Monica.");
  EXPECT_EQ(d.turns[0].emotion, "happy");
  EXPECT_EQ(d.turns[0].response_text, "Hi.");
  EXPECT_EQ(d.turns[1].text, "He said \"no\"!");
  EXPECT_EQ(d.turns[1].emotion, "anger");
  EXPECT_EQ(d.turns[1].response_text, "Ross: What? Monica: Two lines");
  EXPECT_EQ(by_id(ds, "meld_train_1").meta.user_speaker, "Rachel");
  // The short row is on line 8: the quoted field before it spans lines 6-7.
  EXPECT_EQ(lines_of(diag, "malformed line"), (std::vector<int64_t>{8}));

  Diagnostics vdiag;
  auto valid = read_corpus("meld", "valid", fixtures(), vdiag);
  ASSERT_EQ(valid.size(), 1u);
  EXPECT_EQ(valid[0].dialogue_id, "meld_dev_0");
  EXPECT_EQ(valid[0].turns[0].emotion, "disgust");
}

TEST(ReaderEmpathetic, SpeakerCarriesTheSituationEmotion) {
  Diagnostics diag;
  auto ds = read_corpus("empatheticdialogues", "train", fixtures(), diag);
  ASSERT_EQ(ds.size(), 2u);
  const Dialogue& d = by_id(ds, "empatheticdialogues_hit_1_conv_1");
  EXPECT_EQ(d.meta.situation, "A tire burst on the highway.");
  EXPECT_EQ(d.meta.user_speaker, "speaker");
  ASSERT_EQ(d.turns.size(), 2u);
  EXPECT_EQ(d.turns[0].emotion, "fear");
  EXPECT_EQ(d.turns[1].emotion, "fear");
  EXPECT_EQ(d.turns[1].source_emotion, "terrified");
  EXPECT_EQ(d.turns[0].response_text, "Are you fine now?");
  EXPECT_EQ(by_id(ds, "empatheticdialogues_hit_1_conv_2").turns[0].emotion, "");
  EXPECT_EQ(lines_of(diag, "unknown label"), (std::vector<int64_t>{2}));

  Diagnostics vdiag;
  auto valid = read_corpus("empatheticdialogues", "valid", fixtures(), vdiag);
  ASSERT_EQ(valid.size(), 1u);
  EXPECT_EQ(valid[0].turns[0].emotion, "sad");  // nostalgic
}

TEST(ReaderCped, BomChineseTieAndDroppedLabel) {
  Diagnostics diag;
  auto ds = read_corpus("cped", "train", fixtures(), diag);
  ASSERT_EQ(ds.size(), 1u);
  const Dialogue& d = ds[0];
  EXPECT_EQ(d.dialogue_id, "cped_1_000");
  EXPECT_EQ(d.lang, "zh");
  EXPECT_EQ(d.meta.user_speaker, "于春晓");  // 1 non-neutral each: the first speaker
  ASSERT_EQ(d.turns.size(), 2u);
  EXPECT_EQ(d.turns[0].text, "怎么了");
  EXPECT_EQ(d.turns[0].emotion, "surprise");
  EXPECT_EQ(d.turns[0].response_text, "撞车了，怎么办 真倒霉");
  EXPECT_EQ(d.turns[1].emotion, "neutral");
  EXPECT_EQ(count(diag, "dropped label"), 1);  // negative-other
  EXPECT_EQ(count(diag, "unknown label"), 0);

  Diagnostics vdiag;
  EXPECT_EQ(read_corpus("cped", "valid", fixtures(), vdiag).size(), 1u);
}

TEST(ReaderDailyDialog, SymmetricRolesAndMalformedLine) {
  Diagnostics diag;
  auto ds = read_corpus("dailydialog", "train", fixtures(), diag);
  ASSERT_EQ(ds.size(), 2u);
  const Dialogue& d = ds[0];
  EXPECT_EQ(d.dialogue_id, "dailydialog_train_0");
  EXPECT_EQ(d.meta.user_speaker, "B");
  EXPECT_EQ(d.meta.opening, "Shall we go out?");
  ASSERT_EQ(d.turns.size(), 2u);
  EXPECT_EQ(d.turns[0].text, "Great idea! Where to?");
  EXPECT_EQ(d.turns[0].emotion, "happy");  // the last non-neutral of the joined lines
  EXPECT_EQ(d.turns[0].source_emotion, "happiness");
  EXPECT_EQ(d.turns[0].response_text, "The park.");
  EXPECT_EQ(d.turns[1].emotion, "disgust");
  EXPECT_EQ(lines_of(diag, "malformed line"), (std::vector<int64_t>{2}));
  EXPECT_EQ(lines_of(diag, "unknown label"), (std::vector<int64_t>{3}));
  // An unknown label does not count as non-neutral: A speaks first and wins the tie.
  EXPECT_EQ(ds[1].meta.user_speaker, "A");
  EXPECT_EQ(ds[1].turns[0].response_text, "Hi.");

  Diagnostics vdiag;
  auto valid = read_corpus("dailydialog", "valid", fixtures(), vdiag);
  ASSERT_EQ(valid.size(), 1u);
  EXPECT_EQ(valid[0].turns[0].emotion, "fear");
}

TEST(ReaderCounselChat, SeekerAndAuthorSplit) {
  Diagnostics diag;
  auto train = read_corpus("counselchat", "train", fixtures(), diag);
  ASSERT_EQ(train.size(), 1u);
  EXPECT_EQ(train[0].dialogue_id, "counselchat_cc_0_0");
  EXPECT_EQ(train[0].turns[0].text, "How can I stop feeling worthless?\nI feel worthless.");
  EXPECT_EQ(train[0].turns[0].emotion, "");
  EXPECT_EQ(train[0].turns[0].response_text, "Find people who value you.");
  EXPECT_EQ(train[0].meta.topic, "depression");
  auto valid = read_corpus("counselchat", "valid", fixtures(), diag);
  ASSERT_EQ(valid.size(), 1u);  // the test row is not read
  EXPECT_EQ(valid[0].dialogue_id, "counselchat_cc_0_1");
  EXPECT_EQ(diag.total(), 0);
}

TEST(ReaderAnnomi, ClientIsTheUserTherapistOpens) {
  Diagnostics diag;
  auto ds = read_corpus("annomi", "train", fixtures(), diag);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].dialogue_id, "annomi_0");
  EXPECT_EQ(ds[0].meta.opening, "Thanks for coming. How are you?");
  EXPECT_EQ(ds[0].meta.topic, "reducing alcohol consumption");
  ASSERT_EQ(ds[0].turns.size(), 1u);
  EXPECT_EQ(ds[0].turns[0].text, "Fine. I drink a lot.");
  EXPECT_EQ(ds[0].turns[0].response_text, "Tell me more.");
  EXPECT_EQ(read_corpus("annomi", "valid", fixtures(), diag).size(), 1u);
}

TEST(ReaderEmoContext, LabelOnTheLastUserTurn) {
  Diagnostics diag;
  auto ds = read_corpus("emocontext", "train", fixtures(), diag);
  ASSERT_EQ(ds.size(), 2u);  // the unlabelled dev row is not read
  const Dialogue& d = ds[0];
  ASSERT_EQ(d.turns.size(), 2u);
  EXPECT_EQ(d.turns[0].emotion, "");
  EXPECT_EQ(d.turns[0].response_text, "Why do you say so?");
  EXPECT_EQ(d.turns[1].emotion, "anger");
  EXPECT_EQ(d.turns[1].source_emotion, "angry");
  EXPECT_EQ(ds[1].turns[1].source_emotion, "meh");
  EXPECT_EQ(lines_of(diag, "unknown label"), (std::vector<int64_t>{3}));
  auto valid = read_corpus("emocontext", "valid", fixtures(), diag);
  ASSERT_EQ(valid.size(), 1u);
  EXPECT_EQ(valid[0].turns[1].emotion, "neutral");  // others
}

TEST(ReaderSwda, FirstSpeakerIsTheUserWithoutLabels) {
  Diagnostics diag;
  auto ds = read_corpus("swda", "train", fixtures(), diag);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].dialogue_id, "swda_2005");
  EXPECT_EQ(ds[0].meta.user_speaker, "A");
  ASSERT_EQ(ds[0].turns.size(), 2u);
  EXPECT_EQ(ds[0].turns[0].text, "Okay. How do you feel about nursing homes?");
  EXPECT_EQ(ds[0].turns[0].response_text, "Well, uh, it is hard.");
  EXPECT_EQ(ds[0].turns[1].response_text, "");
  auto valid = read_corpus("swda", "valid", fixtures(), diag);
  ASSERT_EQ(valid.size(), 1u);
  EXPECT_EQ(valid[0].meta.user_speaker, "B");
  EXPECT_EQ(diag.total(), 0);
}

TEST(ReaderSmileChat, GzipChinese) {
  testing::TempDir root;
  fs::create_directories(root / "smilechat_zh");
  const std::string text =
      "{\"id\": \"smile_0\", \"turns\": [{\"speaker\": \"client\", \"text\": \"我很焦虑。\"}, "
      "{\"speaker\": \"counselor\", \"text\": \"能说说吗？\"}, {\"speaker\": \"client\", \"text\": \"考试。\"}]}\n"
      "{\"id\": \"smile_6\", \"turns\": [{\"speaker\": \"client\", \"text\": \"你好\"}]}\n";
  gzFile gz = gzopen((root / "smilechat_zh" / "smilechat.12k.jsonl.gz").c_str(), "wb");
  ASSERT_TRUE(gz);
  gzwrite(gz, text.data(), static_cast<unsigned>(text.size()));
  gzclose(gz);
  Diagnostics diag;
  auto ds = read_corpus("smilechat_zh", "train", root.path(), diag);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].dialogue_id, "smilechat_zh_smile_0");
  EXPECT_EQ(ds[0].lang, "zh");
  ASSERT_EQ(ds[0].turns.size(), 2u);
  EXPECT_EQ(ds[0].turns[0].response_text, "能说说吗？");
  EXPECT_EQ(read_corpus("smilechat_zh", "valid", root.path(), diag).size(), 1u);
}

TEST(ReaderEpitome, PairsDuplicatesAndEmptyPosts) {
  Diagnostics diag;
  auto ds = read_corpus("epitome", "train", fixtures(), diag);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].dialogue_id, "epitome_sp1_rp1");
  EXPECT_EQ(ds[0].turns[0].text, "Help. I dunno what I'm doing anymore");
  EXPECT_EQ(ds[0].turns[0].response_text, "Do you mean school or work?");
  EXPECT_EQ(lines_of(diag, "duplicate pair"), (std::vector<int64_t>{2}));
  EXPECT_EQ(lines_of(diag, "empty utterance"), (std::vector<int64_t>{3}));
  EXPECT_EQ(count(diag, "no user turn"), 1);
}

// Speech metadata with placeholder clips (the reader checks that each clip exists).
fs::path speech_root(const testing::TempDir& dir, const std::string& corpus, const std::string& csv,
                     const std::vector<std::string>& clips) {
  fs::create_directories(dir / corpus / "flac16k");
  testing::write_bytes(dir / corpus / "metadata.csv", csv);
  for (const std::string& c : clips) testing::write_bytes(dir / corpus / "flac16k" / c, "");
  return dir.path();
}

TEST(ReaderSpeech, RavdessClipsWithVoiceAndIntensity) {
  testing::TempDir dir;
  const fs::path root = speech_root(
      dir, "ravdess",
      "file,actor,gender,emotion,intensity,statement_id,text,repetition,duration_s,suggested_split\n"
      "flac16k/03-01-02-02-01-01-01.flac,1,male,calm,strong,01,Kids are talking by the door.,1,3.3,train\n"
      "flac16k/03-01-05-02-01-01-02.flac,2,female,angry,strong,01,Kids are talking by the door.,1,3.6,train\n"
      "flac16k/03-01-06-01-02-01-02.flac,2,female,fearful,normal,02,Dogs are sitting by the door.,1,3.6,train\n"
      "flac16k/03-01-03-01-02-01-19.flac,19,male,happy,normal,02,Dogs are sitting by the door.,1,3.6,valid\n"
      "flac16k/missing.flac,3,male,sad,normal,02,Dogs are sitting by the door.,1,3.6,train\n",
      {"03-01-02-02-01-01-01.flac", "03-01-05-02-01-01-02.flac", "03-01-06-01-02-01-02.flac",
       "03-01-03-01-02-01-19.flac"});
  Diagnostics diag;
  auto ds = read_corpus("ravdess", "train", root, diag);
  ASSERT_EQ(ds.size(), 3u);
  const Turn& calm = ds[0].turns[0];
  EXPECT_EQ(ds[0].dialogue_id, "ravdess_03-01-02-02-01-01-01");
  EXPECT_EQ(calm.emotion, "neutral");
  EXPECT_EQ(calm.source_emotion, "calm");
  EXPECT_FALSE(calm.intensity);
  EXPECT_EQ(calm.text, "Kids are talking by the door.");
  EXPECT_TRUE(fs::path(calm.split_audio_file).is_absolute());
  EXPECT_TRUE(fs::exists(calm.split_audio_file));
  ASSERT_TRUE(calm.voice);
  EXPECT_EQ(calm.voice->source, "recorded");
  EXPECT_EQ(calm.voice->speaker, "ravdess_actor_01");
  EXPECT_EQ(calm.voice->gender, "male");
  EXPECT_EQ(ds[1].turns[0].emotion, "anger");
  EXPECT_EQ(ds[1].turns[0].intensity, 0.9);
  EXPECT_EQ(ds[2].turns[0].emotion, "fear");
  EXPECT_EQ(ds[2].turns[0].intensity, 0.5);
  EXPECT_EQ(lines_of(diag, "missing audio"), (std::vector<int64_t>{6}));
  EXPECT_EQ(read_corpus("ravdess", "valid", root, diag).size(), 1u);
}

TEST(ReaderSpeech, EmoDbGermanAndBoredomDropped) {
  testing::TempDir dir;
  const fs::path root = speech_root(
      dir, "emodb",
      "file,speaker,gender,age,text_id,text_de,text_en,emotion,version,recognition_pct,naturalness_pct,duration_s,"
      "suggested_split\n"
      "flac16k/09a01Fa.flac,09,female,21,a01,Der Lappen liegt auf dem Eisschrank.,The tablecloth is lying on the "
      "fridge.,happiness,a,90.00,75.00,2.0,train\n"
      "flac16k/09a01La.flac,09,female,21,a01,Der Lappen liegt auf dem Eisschrank.,The tablecloth is lying on the "
      "fridge.,boredom,a,90.00,75.00,2.0,train\n",
      {"09a01Fa.flac", "09a01La.flac"});
  Diagnostics diag;
  auto ds = read_corpus("emodb", "train", root, diag);
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds[0].lang, "de");
  EXPECT_EQ(ds[0].turns[0].text, "Der Lappen liegt auf dem Eisschrank.");
  EXPECT_EQ(ds[0].turns[0].emotion, "happy");
  EXPECT_EQ(ds[0].turns[0].voice->speaker, "emodb_speaker_09");
  EXPECT_EQ(ds[1].turns[0].emotion, "");
  EXPECT_EQ(ds[1].turns[0].source_emotion, "boredom");
  EXPECT_EQ(lines_of(diag, "dropped label"), (std::vector<int64_t>{3}));
}

TEST(ReaderHumdial, OwnSchemaWithProblemsReported) {
  Diagnostics diag;
  auto ds = read_corpus("humdial", "train", fixtures() / "humdial" / "train.jsonl", diag);
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds[0].dialogue_id, "hd_1");
  EXPECT_EQ(ds[0].turns[0].emotion, "happy");
  EXPECT_EQ(ds[0].turns[0].source_emotion, "happy");
  EXPECT_EQ(ds[0].turns[0].split_audio_file, "audio/hd_1_1.flac");
  EXPECT_EQ(ds[0].meta.corpus, "humdial");
  EXPECT_EQ(ds[1].turns[0].emotion, "");
  EXPECT_EQ(ds[1].turns[0].source_emotion, "bored");
  EXPECT_EQ(lines_of(diag, "unknown label"), (std::vector<int64_t>{2}));
  EXPECT_EQ(lines_of(diag, "malformed line"), (std::vector<int64_t>{3}));
  EXPECT_EQ(lines_of(diag, "duplicate id"), (std::vector<int64_t>{4}));
  // A folder holding <split>.jsonl works too.
  EXPECT_EQ(read_corpus("humdial", "train", fixtures() / "humdial", diag).size(), 2u);
}

TEST(ReaderUtf8, InvalidBytesAreReportedAndSkipped) {
  testing::TempDir root;
  fs::create_directories(root / "dailydialog");
  testing::write_bytes(root / "dailydialog" / "train.jsonl",
                       "{\"id\": \"train_0\", \"turns\": [{\"speaker\": \"A\", \"text\": \"bad \xff byte\", "
                       "\"emotion\": \"no_emotion\"}]}\n"
                       "{\"id\": \"train_1\", \"turns\": [{\"speaker\": \"A\", \"text\": \"fine\", \"emotion\": "
                       "\"no_emotion\"}]}\n");
  Diagnostics diag;
  auto ds = read_corpus("dailydialog", "train", root.path(), diag);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(lines_of(diag, "invalid utf-8"), (std::vector<int64_t>{1}));
}

// ---- the real corpora ---------------------------------------------------------------------------

struct Expected {
  const char* corpus;
  size_t train, valid;
};

class ReaderReal : public ::testing::TestWithParam<Expected> {};

TEST_P(ReaderReal, CountsAndNoUnknownLabels) {
  ATTUNE_REQUIRE_SHARED(shared);
  const fs::path root = shared / "data";
  const Expected e = GetParam();
  for (const char* split : {"train", "valid"}) {
    Diagnostics diag;
    auto start = std::chrono::steady_clock::now();
    auto ds = read_corpus(e.corpus, split, root, diag);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    size_t turns = 0;
    std::map<std::string, size_t> emotions;
    for (const Dialogue& d : ds) {
      EXPECT_FALSE(d.turns.empty()) << d.dialogue_id;
      EXPECT_EQ(d.meta.split, split);
      for (const Turn& t : d.turns) {
        ++turns;
        ++emotions[t.emotion.empty() ? "(none)" : t.emotion];
      }
    }
    std::string summary;
    for (const auto& [k, n] : emotions) summary += " " + k + "=" + std::to_string(n);
    for (const auto& [k, n] : diag.counts()) summary += " [" + k + ": " + std::to_string(n) + "]";
    std::printf("%s %s: %zu dialogues, %zu turns, %.2f s;%s\n", e.corpus, split, ds.size(), turns, secs,
                summary.c_str());
    EXPECT_EQ(ds.size(), std::string(split) == "train" ? e.train : e.valid) << e.corpus << " " << split;
    EXPECT_EQ(diag.counts().count("unknown label"), 0u) << e.corpus << " " << split;
    EXPECT_EQ(diag.counts().count("malformed line"), 0u) << e.corpus << " " << split;
  }
}

INSTANTIATE_TEST_SUITE_P(Reader, ReaderReal,
                         ::testing::Values(Expected{"reccon", 834, 47}, Expected{"ecf", 1237, 137},
                                           Expected{"esconv", 910, 195}, Expected{"meld", 1038, 114},
                                           Expected{"empatheticdialogues", 2501, 269}, Expected{"cped", 840, 94},
                                           Expected{"dailydialog", 9993, 994}, Expected{"counselchat", 1839, 173},
                                           Expected{"annomi", 121, 12}, Expected{"emocontext", 27145, 3015},
                                           Expected{"swda", 1115, 21}, Expected{"smilechat_zh", 10786, 1214},
                                           Expected{"epitome", 2735, 288}, Expected{"ravdess", 1080, 120},
                                           Expected{"emodb", 301, 107}),
                         [](const auto& info) { return std::string(info.param.corpus); });

}  // namespace
}  // namespace attune::data
