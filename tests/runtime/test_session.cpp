// The session's KV cache against an independent path: re-reading the whole dialogue before every
// turn (SessionOptions::reuse_cache = false) must give the same greedy replies and heard emotions.
// Runs the shipped model on turns spoken by the espeak-ng talker.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "affect/speech_style.h"
#include "attune/error.h"
#include "attune/runtime.h"
#include "data/ieat.h"
#include "io/safetensors.h"
#include "support/test_support.h"
#include "tts/talker.h"

namespace attune {
namespace {

std::filesystem::path shipped_model() { return testing::source_dir() / "models" / "attune-small"; }

TEST(Session, CacheReuseMatchesReReadingTheDialogue) {
  ASSERT_TRUE(std::filesystem::exists(shipped_model() / "config.json")) << shipped_model();
  auto talker = tts::make_talker("espeak");
  const tts::Voice voice = tts::find_voice("en-male-2");
  const std::vector<AudioBuffer> turns = {
      talker->synthesize("My sister moved away last month.", affect::emotion_style("sad", 0.7), voice),
      talker->synthesize("Wait, she is coming home for the holidays!", affect::emotion_style("surprise", 0.8), voice),
      talker->synthesize("I can't wait to see her.", affect::emotion_style("happy", 0.8), voice)};

  RuntimeOptions ro;
  ro.dtype = Dtype::kFp32;
  ro.speak = false;
  const Model model = Model::load(shipped_model(), ro);
  SessionOptions reuse, reread;
  reuse.max_new_tokens = reread.max_new_tokens = 160;
  reread.reuse_cache = false;
  Session a = model.open_session(reuse), b = model.open_session(reread);
  int64_t previous_context = 0;
  for (size_t i = 0; i < turns.size(); ++i) {
    const Reply ra = a.turn(turns[i]);
    const Reply rb = b.turn(turns[i]);
    EXPECT_EQ(ra.text, rb.text) << "turn " << i + 1;
    EXPECT_EQ(ra.thinking, rb.thinking) << "turn " << i + 1;
    EXPECT_EQ(ra.emotion.label, rb.emotion.label);
    EXPECT_EQ(ra.context_tokens, rb.context_tokens);
    EXPECT_EQ(ra.turn, i + 1);
    EXPECT_EQ(ra.trajectory.size(), i + 1);
    // The cache grows by this turn's tokens and what was generated (the stop token is not fed), a
    // copied quote re-spelt in the tokenizer's pieces (Session keeps what a resent dialogue reads):
    // a few tokens either way at most.
    const int64_t fed = ra.timings.generated_tokens - (ra.stop_reason == StopReason::kStopToken ? 1 : 0);
    const int64_t grown = ra.context_tokens - previous_context - ra.timings.prompt_tokens;
    EXPECT_NEAR(static_cast<double>(grown), static_cast<double>(fed), 4.0) << "turn " << i + 1;
    previous_context = ra.context_tokens;
  }
  EXPECT_EQ(a.turns(), 3u);
  a.reset();
  EXPECT_EQ(a.turns(), 0u);
  EXPECT_EQ(a.context_tokens(), 0);
}

// Every quote of a thinking copies the user's typed words (SessionOptions::copy_quotes); left free,
// the same model writes quotes the user never said. Text turns of the RECCON kind, greedy.
std::vector<std::string> quotes_of(const std::string& thinking) { return data::trace_quotes(thinking); }

// Whether `quote` is in `text` as the user wrote it; only its first letter may change case.
bool copies(const std::string& text, std::string quote) {
  if (quote.empty()) return false;
  if (text.find(quote) != std::string::npos) return true;
  const auto c = static_cast<unsigned char>(quote[0]);
  quote[0] = static_cast<char>(std::islower(c) ? std::toupper(c) : std::tolower(c));
  return text.find(quote) != std::string::npos;
}

TEST(Session, QuotesCopyTheUsersWords) {
  RuntimeOptions ro;
  ro.dtype = Dtype::kFp32;
  ro.speak = false;
  const Model model = Model::load(shipped_model(), ro);
  const std::vector<std::string> turns = {"I can't stand the stupid guy any longer. It's unbelievable!",
                                          "My dog died last week and I still cannot sleep.",
                                          "I got the job! They called me this morning."};
  size_t copied = 0, free_not_copied = 0;
  for (const bool copy : {true, false}) {
    SessionOptions so;
    so.max_new_tokens = 200;
    so.copy_quotes = copy;
    for (const std::string& text : turns) {
      Session s = model.open_session(so);
      const Reply r = s.turn(AudioBuffer{}, text);
      for (const std::string& q : quotes_of(r.thinking)) {
        const bool is_copy = copies(text, q);
        if (copy) {
          EXPECT_TRUE(is_copy) << "quote \"" << q << "\" of \"" << text << "\"";
          ++copied;
        } else {
          free_not_copied += !is_copy;
        }
      }
    }
  }
  EXPECT_GT(copied, 0u) << "no thinking quoted: the test shows nothing";
  EXPECT_GT(free_not_copied, 0u) << "the free model copied every quote: the constraint shows nothing";
}

// Model directories written before the speech-style head was renamed say "talker" (config key and
// tensor prefix). A copy of the shipped model in that form must give the same turn, style included.
TEST(Session, LegacyTalkerNamesGiveTheSameTurn) {
  const testing::TempDir tmp;
  const std::filesystem::path legacy = tmp.path();
  for (const char* name : {"tokenizer.json", "ctc_lm.arpa.gz"})
    std::filesystem::copy_file(shipped_model() / name, legacy / name);
  nlohmann::json config = nlohmann::json::parse(std::ifstream(shipped_model() / "config.json"));
  ASSERT_TRUE(config.contains("style_head")) << "the shipped model is already in the legacy form";
  config["talker"] = config["style_head"];
  config.erase("style_head");
  std::ofstream(legacy / "config.json") << config.dump(2);
  const io::SafetensorsFile weights = io::SafetensorsFile::open(shipped_model() / "model.safetensors");
  std::vector<io::TensorToWrite> tensors;
  for (const std::string& name : weights.names()) {
    const io::TensorView& t = weights.tensor(name);
    const std::string renamed = name.rfind("style_head.", 0) == 0 ? "talker." + name.substr(11) : name;
    tensors.push_back({renamed, t.dtype, t.shape, t.bytes()});
  }
  io::write_safetensors(legacy / "model.safetensors", std::move(tensors));

  RuntimeOptions ro;
  ro.dtype = Dtype::kFp32;
  ro.speak = false;
  const Model now = Model::load(shipped_model(), ro), before = Model::load(legacy, ro);
  ASSERT_TRUE(before.has_style_head());
  SessionOptions so;
  so.max_new_tokens = 120;
  const std::string text = "My sister moved away last month.";
  const Reply a = now.open_session(so).turn(AudioBuffer{}, text);
  const Reply b = before.open_session(so).turn(AudioBuffer{}, text);
  EXPECT_EQ(a.thinking, b.thinking);
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(a.style.emotion, b.style.emotion);
  EXPECT_EQ(a.style.intensity, b.style.intensity);
  EXPECT_EQ(a.style_source, b.style_source);
}

// A stateless client resends the dialogue: adding the first exchange from its text (reply and
// thinking, rendered by the chat template) must leave the model where generating it did, so the
// next turn's reply and context length match the live session's.
TEST(Session, AddedExchangeMatchesTheGeneratedOne) {
  auto talker = tts::make_talker("espeak");
  const tts::Voice voice = tts::find_voice("en-female-1");
  const AudioBuffer first =
      talker->synthesize("I failed my driving test again.", affect::emotion_style("sad", 0.7), voice);
  const AudioBuffer second =
      talker->synthesize("But the examiner said I was close.", affect::emotion_style("happy", 0.5), voice);
  RuntimeOptions ro;
  ro.dtype = Dtype::kFp32;
  ro.speak = false;
  const Model model = Model::load(shipped_model(), ro);
  SessionOptions so;
  so.max_new_tokens = 160;
  // Quotes are copied (the default): a copied quote may be spelt in other pieces than the
  // tokenizer's, and the live session then keeps the tokenizer's spelling in its cache, as a
  // resent thinking has it.
  Session live = model.open_session(so), resent = model.open_session(so);
  const Reply r1 = live.turn(first);
  ASSERT_EQ(r1.stop_reason, StopReason::kStopToken);
  const Reply r2 = live.turn(second);
  resent.add_exchange(first, "", r1.text, r1.thinking);
  EXPECT_EQ(resent.turns(), 1u);
  const Reply s2 = resent.turn(second);
  EXPECT_EQ(s2.text, r2.text);
  EXPECT_EQ(s2.thinking, r2.thinking);
  EXPECT_EQ(s2.turn, 2u);
  EXPECT_EQ(s2.trajectory, (std::vector<std::string>{"", r2.emotion.label}));  // the resent turn was not heard
  EXPECT_EQ(s2.context_tokens, r2.context_tokens);
  EXPECT_THROW(resent.add_exchange(AudioBuffer{}, "", "hi"), InputError);
}

TEST(Session, ShouldStopCancelsTheTurn) {
  RuntimeOptions ro;
  ro.speak = false;
  const Model model = Model::load(shipped_model(), ro);
  Session s = model.open_session();
  TurnCallbacks cb;
  int asked = 0;
  cb.should_stop = [&] { return ++asked > 5; };
  const Reply r = s.turn(AudioBuffer{}, "Hello there, how are you?", cb);
  EXPECT_EQ(r.stop_reason, StopReason::kCancelled);
  EXPECT_EQ(r.timings.generated_tokens, 5);
}

// Dialogue guidance reads the reply's first tokens against an empty dialogue: the thinking is the
// same, the reply moves, and no guided tokens is no guidance.
TEST(Session, DialogueGuidanceMovesOnlyTheReply) {
  RuntimeOptions ro;
  ro.speak = false;
  const Model model = Model::load(shipped_model(), ro);
  auto turn = [&](double weight, int64_t tokens) {
    SessionOptions o;
    o.dialogue_guidance = weight;
    o.guidance_tokens = tokens;
    Session s = model.open_session(o);
    return s.turn(AudioBuffer{}, "They just emailed me. I didn't get the job.");
  };
  const Reply plain = turn(0, 8), guided = turn(3, 8), none = turn(3, 0);
  ASSERT_EQ(plain.stop_reason, StopReason::kStopToken);
  EXPECT_EQ(guided.thinking, plain.thinking);
  EXPECT_NE(guided.text, plain.text);
  EXPECT_FALSE(guided.text.empty());
  EXPECT_EQ(none.text, plain.text);
}

// The guided-against line keeps the earlier turns by default: on a first turn that is the empty
// dialogue either way, on a later turn only the latest message is left out, and the reply differs.
TEST(Session, GuidanceKeepsTheEarlierTurns) {
  RuntimeOptions ro;
  ro.speak = false;
  const Model model = Model::load(shipped_model(), ro);
  auto dialogue = [&](bool keeps_history) {
    SessionOptions o;
    o.dialogue_guidance = 2;
    o.guidance_keeps_history = keeps_history;
    Session s = model.open_session(o);
    std::vector<Reply> replies;
    replies.push_back(s.turn(AudioBuffer{}, "Hi. I had my job interview this morning."));
    replies.push_back(s.turn(AudioBuffer{}, "They just emailed me. I didn't get the job."));
    return replies;
  };
  const std::vector<Reply> with = dialogue(true), without = dialogue(false);
  EXPECT_EQ(with[0].text, without[0].text);
  EXPECT_EQ(with[1].thinking, without[1].thinking);
  EXPECT_NE(with[1].text, without[1].text);
  EXPECT_FALSE(with[1].text.empty());
}

TEST(Session, BadOptionsAndInputAreErrors) {
  RuntimeOptions ro;
  ro.speak = false;
  const Model model = Model::load(shipped_model(), ro);
  SessionOptions bad;
  bad.max_new_tokens = 0;
  EXPECT_THROW(model.open_session(bad), ConfigError);
  bad.max_new_tokens = 10;
  bad.voice = "no-such-voice";
  EXPECT_THROW(model.open_session(bad), ConfigError);
  bad.voice = SessionOptions{}.voice;
  bad.dialogue_guidance = -1;
  EXPECT_THROW(model.open_session(bad), ConfigError);
  bad.dialogue_guidance = 1;
  bad.guidance_tokens = -1;
  EXPECT_THROW(model.open_session(bad), ConfigError);
  Session s = model.open_session();
  EXPECT_THROW(s.turn(AudioBuffer{}, ""), InputError);
  EXPECT_THROW(Model::load(testing::source_dir() / "models" / "attune-bpe-8k"), Error);  // not a composite
}

// Model::transcribe is the turn's hearing without the turn; a model that reads the words gets them
// in its prompt (encoder_heads.words_in_prompt, switched the other way in a copy of the shipped config).
TEST(Session, TranscribeHearsWhatTheTurnHearsAndWordsInPromptReadsIt) {
  auto talker = tts::make_talker("espeak");
  const AudioBuffer audio = talker->synthesize("I lost my keys again today.", affect::emotion_style("sad", 0.5),
                                               tts::find_voice("en-male-1"));
  RuntimeOptions ro;
  ro.dtype = Dtype::kFp32;
  ro.speak = false;
  const Model plain = Model::load(shipped_model(), ro);
  const std::string heard = plain.transcribe(audio);
  ASSERT_FALSE(heard.empty());
  EXPECT_NE(heard.front(), ' ');
  EXPECT_NE(heard.back(), ' ');
  EXPECT_EQ(heard.find("  "), std::string::npos);
  Session s = plain.open_session({.max_new_tokens = 8});
  const Reply before = s.turn(audio);
  EXPECT_EQ(before.heard_words, heard);
  EXPECT_THROW(plain.transcribe(AudioBuffer{{}, 16000, 1}), InputError);

  testing::TempDir dir;
  for (const char* name : {"model.safetensors", "tokenizer.json", "ctc_lm.arpa.gz"})
    std::filesystem::create_symlink(shipped_model() / name, dir.path() / name);
  nlohmann::json config = nlohmann::json::parse(std::ifstream(shipped_model() / "config.json"));
  const bool shipped_reads = config["encoder_heads"].value("words_in_prompt", false);
  config["encoder_heads"]["words_in_prompt"] = !shipped_reads;
  std::ofstream(dir.path() / "config.json") << config.dump(1);
  const Model other = Model::load(dir.path(), ro);
  Session r = other.open_session({.max_new_tokens = 8});
  const Reply after = r.turn(audio);
  EXPECT_EQ(after.heard_words, heard);
  const Reply& reading = shipped_reads ? before : after;
  const Reply& not_reading = shipped_reads ? after : before;
  EXPECT_GT(reading.timings.prompt_tokens, not_reading.timings.prompt_tokens + 3) << heard;
}

// The prosody expert changes the reported emotion only: the thinking's evidence is the head's own
// posterior, so the same turns give the same thinking whatever the expert's weight (here 0 and 1, in
// copies of the shipped config).
TEST(Session, TheProsodyExpertChangesTheReportNotTheThinkingsEvidence) {
  auto talker = tts::make_talker("espeak");
  RuntimeOptions ro;
  ro.dtype = Dtype::kFp32;
  ro.speak = false;
  testing::TempDir dir;
  std::vector<Model> models;
  for (const double w : {0.0, 1.0}) {
    const std::filesystem::path d = dir.path() / ("w" + std::to_string(static_cast<int>(w)));
    std::filesystem::create_directories(d);
    for (const char* name : {"model.safetensors", "tokenizer.json", "ctc_lm.arpa.gz"})
      std::filesystem::create_symlink(shipped_model() / name, d / name);
    nlohmann::json config = nlohmann::json::parse(std::ifstream(shipped_model() / "config.json"));
    config["encoder_heads"]["prosody_expert_weight"] = w;
    std::ofstream(d / "config.json") << config.dump(1);
    models.push_back(Model::load(d, ro));
  }
  bool reports_differ = false;
  for (const auto& [words, emotion] : std::vector<std::pair<std::string, std::string>>{
           {"The meeting is at three.", "surprise"}, {"I lost my keys again today.", "sad"}}) {
    const AudioBuffer audio =
        talker->synthesize(words, affect::emotion_style(emotion, 0.8), tts::find_voice("en-female-1"));
    Session a = models[0].open_session({.max_new_tokens = 48}), b = models[1].open_session({.max_new_tokens = 48});
    const Reply ra = a.turn(audio), rb = b.turn(audio);
    EXPECT_EQ(ra.thinking, rb.thinking) << words;
    reports_differ = reports_differ || ra.emotion.probabilities != rb.emotion.probabilities;
  }
  EXPECT_TRUE(reports_differ);
}

}  // namespace
}  // namespace attune

namespace attune {
namespace {

// The evidence reaches the intensity adverb too: no neutral trace has one, so where the head hears
// a calm voice the thinking does not start "They seem fairly" and is left with no word for calm
// (the demo's first turn did: "They seem fairly. pace and have this read").
TEST(Session, TheEvidenceKeepsACalmVoiceFromAnAdverb) {
  auto talker = tts::make_talker("espeak");
  RuntimeOptions ro;
  ro.speak = false;
  const Model model = Model::load(testing::source_dir() / "models" / "attune-small", ro);
  Session s = model.open_session({.max_new_tokens = 48});
  const Reply r = s.turn(talker->synthesize("Hi. I had my job interview this morning.",
                                            affect::emotion_style("neutral", 0.3), tts::find_voice("en-male-1")));
  ASSERT_EQ(r.head_label, "neutral") << "the head no longer hears this turn as calm";
  EXPECT_EQ(r.thinking_label, "neutral") << r.thinking;
  EXPECT_EQ(r.thinking.find("fairly"), std::string::npos) << r.thinking;
}

// A trajectory question: the thinking's path is the one heard in the earlier turns (not one the
// model makes up), and the reply recounts it with the right turn numbers.
TEST(Session, ATrajectoryQuestionRecountsTheHeardPath) {
  auto talker = tts::make_talker("espeak");
  const tts::Voice voice = tts::find_voice("en-female-1");
  RuntimeOptions ro;
  ro.speak = false;
  const Model model = Model::load(testing::source_dir() / "models" / "attune-small", ro);
  auto play = [&] {
    Session s = model.open_session();
    std::vector<Reply> out;
    out.push_back(s.turn(talker->synthesize("The meeting is at three.", affect::emotion_style("neutral", 0.3), voice)));
    out.push_back(s.turn(talker->synthesize("I lost my keys again today.", affect::emotion_style("sad", 0.9), voice)));
    out.push_back(s.turn(AudioBuffer{}, "How did my feelings develop from the beginning until now?"));
    return out;
  };
  const std::vector<Reply> r = play();
  ASSERT_EQ(r[0].emotion.label, "neutral");
  ASSERT_EQ(r[1].emotion.label, "sad");
  const std::string path = "calm (turn 1) -> sad (turn 2)";  // data::trajectory_text of those labels
  EXPECT_NE(r[2].thinking.find(path), std::string::npos) << r[2].thinking;
  EXPECT_EQ(r[2].thinking.find(path + " ->"), std::string::npos) << "the path goes on: " << r[2].thinking;
  const size_t calm = r[2].text.find("calm"), sad = r[2].text.find("sad");
  EXPECT_TRUE(calm != std::string::npos && sad != std::string::npos && calm < sad) << r[2].text;
  EXPECT_NE(r[2].text.find("turn 2"), std::string::npos) << r[2].text;
}

// The shipped model has encoder heads: the heard emotion comes from the source its config (or the
// options) names, both sources' labels are kept, and the evidence path makes the thinking name the
// head's label wherever the thinking names a feeling.
TEST(Session, HeardEmotionSourcesAndTheEvidencePath) {
  const std::filesystem::path dir = testing::source_dir() / "models" / "attune-small";
  auto talker = tts::make_talker("espeak");
  const tts::Voice voice = tts::find_voice("en-female-1");
  const std::vector<std::pair<std::string, std::string>> said = {{"I lost my keys again today.", "sad"},
                                                                 {"Get out of my room right now!", "anger"},
                                                                 {"We won the final, I can't believe it!", "happy"},
                                                                 {"The meeting is at three.", "neutral"}};
  auto run = [&](const std::string& heard_from, double evidence) {
    RuntimeOptions ro;
    ro.dtype = Dtype::kFp32;
    ro.speak = false;
    ro.heard_from = heard_from;
    ro.evidence_weight = evidence;
    const Model model = Model::load(dir, ro);
    std::vector<Reply> out;
    for (const auto& [text, emotion] : said) {
      Session s = model.open_session({.max_new_tokens = 48});
      out.push_back(s.turn(talker->synthesize(text, affect::emotion_style(emotion, 0.8), voice)));
    }
    return out;
  };
  const std::vector<Reply> head = run("head", 20.0);
  int named = 0;
  for (const Reply& r : head) {
    ASSERT_FALSE(r.head_label.empty()) << "the shipped model has no encoder heads";
    EXPECT_EQ(r.emotion.source, "encoder head");
    EXPECT_EQ(r.emotion.label, r.head_label);
    ASSERT_EQ(r.emotion.probabilities.size(), 7u);
    double total = 0;
    for (const auto& [label, p] : r.emotion.probabilities) total += p;
    EXPECT_NEAR(total, 1.0, 1e-6);
    // With a strong evidence weight the thinking names what a confident head heard: at p >= 0.8
    // the head's label gains at least 20 x ln 4 = 28 logits over every other label's words.
    double top = 0;
    for (const auto& [label, p] : r.emotion.probabilities) top = std::max(top, p);
    if (!r.thinking_label.empty() && top >= 0.8) {
      ++named;
      EXPECT_EQ(r.thinking_label, r.head_label) << r.thinking;
    }
  }
  EXPECT_GT(named, 0) << "no turn with a confident head and a named feeling";
  const std::vector<Reply> thinking = run("thinking", 0.0);
  for (size_t i = 0; i < thinking.size(); ++i) {
    EXPECT_EQ(thinking[i].head_label, head[i].head_label);  // the head hears the same either way
    if (!thinking[i].emotion.label.empty()) {
      EXPECT_EQ(thinking[i].emotion.source, "thinking");
      EXPECT_EQ(thinking[i].emotion.label, thinking[i].thinking_label);
    }
  }
  EXPECT_THROW(run("voice", 0.0), ConfigError);
}

}  // namespace
}  // namespace attune
