// The espeak-ng talker, closed loop: synthesise with a style, measure the result with attune's own
// prosody analysis (an independent path: pitch tracker, loudness, syllable rate), and check that the
// style moved the voice the way the emotion profiles say. Skipped when espeak-ng is not installed.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <mutex>

#include "affect/speech_style.h"
#include "attune/error.h"
#include "audio/prosody.h"
#include "support/test_support.h"
#include "tts/espeak_talker.h"
#include "tts/sentences.h"
#include "tts/talker.h"

namespace attune::tts {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kText = "The weather was fine, and we walked to the station together.";

#define REQUIRE_ESPEAK() \
  if (!espeak_available()) GTEST_SKIP() << "espeak-ng not installed (scripts/install-deps.sh); skipping"

struct Measured {
  double f0_hz, rate_syl_s, loudness_db, duration_s;
};

Measured measure(const AudioBuffer& a) {
  audio::Prosody p = audio::analyse_prosody(a.samples, a.sample_rate);
  return {p.get("f0_mean_hz"), p.get("speaking_rate_syl_per_s"), p.get("loudness_db"), a.duration_s()};
}

Measured speak(const std::string& emotion, double intensity, const std::string& voice = "en-male-1") {
  EspeakTalker talker;
  AudioBuffer a = talker.synthesize(kText, affect::emotion_style(emotion, intensity), find_voice(voice));
  Measured m = measure(a);
  std::cout << voice << " " << emotion << " " << intensity << ": f0 " << m.f0_hz << " Hz, rate " << m.rate_syl_s
            << " syl/s, loudness " << m.loudness_db << " dB, " << m.duration_s << " s\n";
  return m;
}

double rms(const std::vector<float>& x) {
  double s = 0;
  for (float v : x) s += double(v) * v;
  return x.empty() ? 0 : std::sqrt(s / x.size());
}

TEST(EspeakTalker, Gives16kMonoSpeechOfPlausibleDuration) {
  REQUIRE_ESPEAK();
  auto talker = make_talker();
  auto start = Clock::now();
  AudioBuffer a = talker->synthesize(kText, SpeechStyle{}, find_voice("en-female-1"));
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_EQ(a.sample_rate, 16000);
  EXPECT_EQ(a.channels, 1);
  // 11 words at 175 words per minute: about 3.8 s of speech, plus the final pause.
  EXPECT_GT(a.duration_s(), 2.0);
  EXPECT_LT(a.duration_s(), 6.0);
  EXPECT_GT(rms(a.samples), 0.01) << "silent";
  float peak = 0;
  for (float v : a.samples) peak = std::max(peak, std::abs(v));
  EXPECT_LE(peak, 1.0f);
  std::cout << "RTF = " << elapsed << " s / " << a.duration_s() << " s = " << elapsed / a.duration_s() << "\n";
}

TEST(EspeakTalker, OtherRatesAndMandarin) {
  REQUIRE_ESPEAK();
  EspeakTalker talker({.sample_rate = 24000});
  AudioBuffer a = talker.synthesize("Hello.", SpeechStyle{}, find_voice("en-male-2"));
  EXPECT_EQ(a.sample_rate, 24000);
  EXPECT_GT(rms(a.samples), 0.01);
  AudioBuffer zh =
      make_talker()->synthesize("今天天气很好。", affect::emotion_style("happy", 0.5), find_voice("zh-female-1"));
  EXPECT_GT(zh.duration_s(), 0.8);
  EXPECT_GT(rms(zh.samples), 0.01);
}

TEST(EspeakTalker, EmotionsMoveProsodyTheWayTheProfilesSay) {
  REQUIRE_ESPEAK();
  Measured neutral = speak("neutral", 1.0), happy = speak("happy", 1.0), sad = speak("sad", 1.0),
           anger = speak("anger", 1.0);
  EXPECT_GT(anger.loudness_db, sad.loudness_db + 6);  // profiles: +6 dB vs -6 dB
  EXPECT_GT(anger.loudness_db, neutral.loudness_db + 3);
  EXPECT_LT(sad.f0_hz, happy.f0_hz);
  EXPECT_LT(sad.f0_hz, neutral.f0_hz);
  EXPECT_LT(sad.rate_syl_s, happy.rate_syl_s);
  EXPECT_LT(sad.rate_syl_s, neutral.rate_syl_s);
  EXPECT_GT(sad.duration_s, happy.duration_s * 1.2);  // rates x0.8 vs x1.1
}

TEST(EspeakTalker, HigherIntensityMovesFurtherFromNeutral) {
  REQUIRE_ESPEAK();
  Measured neutral = speak("neutral", 1.0), weak = speak("anger", 0.3), strong = speak("anger", 1.0);
  EXPECT_GT(strong.loudness_db - neutral.loudness_db, weak.loudness_db - neutral.loudness_db + 2);
  EXPECT_GT(weak.loudness_db, neutral.loudness_db);
  EXPECT_GT(strong.f0_hz - neutral.f0_hz, weak.f0_hz - neutral.f0_hz);
  Measured weak_sad = speak("sad", 0.3), strong_sad = speak("sad", 1.0);
  EXPECT_LT(strong_sad.f0_hz, weak_sad.f0_hz);
  EXPECT_LT(weak_sad.f0_hz, neutral.f0_hz);
  EXPECT_LT(strong_sad.loudness_db, weak_sad.loudness_db - 2);
}

TEST(EspeakTalker, MaleVoicesAreLowerThanFemaleVoices) {
  REQUIRE_ESPEAK();
  EspeakTalker talker;
  double highest_male = 0, lowest_female = 1e9;
  for (const Voice& v : builtin_voices()) {
    if (v.lang != "en" || v.engine != "espeak") continue;
    AudioBuffer a = talker.synthesize("We walked to the station together.", SpeechStyle{}, v);
    double f0 = measure(a).f0_hz;
    std::cout << v.name << " (" << v.engine_voice << "): f0 " << f0 << " Hz\n";
    if (v.sex == "male") highest_male = std::max(highest_male, f0);
    if (v.sex == "female") lowest_female = std::min(lowest_female, f0);
  }
  EXPECT_LT(highest_male * 1.3, lowest_female);
}

TEST(EspeakTalker, RandomSpeakersDifferAndRepeat) {
  REQUIRE_ESPEAK();
  EspeakTalker talker;
  Voice a = random_voice(3, "en", "female"), b = random_voice(3, "en", "female");
  AudioBuffer x = talker.synthesize("Hello there.", SpeechStyle{}, a);
  talker.reset();
  AudioBuffer y = talker.synthesize("Hello there.", SpeechStyle{}, b);
  EXPECT_EQ(x.samples, y.samples) << "same seed, same speaker, same audio";
  Voice c = random_voice(4, "en", "female");
  EXPECT_NE(c.base_pitch, a.base_pitch);
  EXPECT_NE(talker.synthesize("Hello there.", SpeechStyle{}, c).samples, x.samples);
}

// A talker that delegates to espeak-ng and records when each sentence's synthesis starts and ends,
// to check the streaming of the Talker base class.
class RecordingTalker : public Talker {
 public:
  std::string name() const override { return "recording"; }
  int sample_rate() const override { return inner_.sample_rate(); }
  AudioBuffer synthesize(std::string_view text, const SpeechStyle& s, const Voice& v) override {
    log("start " + std::string(text));
    AudioBuffer a = inner_.synthesize(text, s, v);
    log("end " + std::string(text));
    return a;
  }
  void log(const std::string& event) {
    std::lock_guard lock(mutex_);
    events.push_back(event);
  }
  std::vector<std::string> events;

 private:
  EspeakTalker inner_;
  std::mutex mutex_;
};

const char* kThreeSentences = "The first one is short. Now comes the second one! Is this the third?";

TEST(Streaming, OneChunkPerSentenceDeliveredBeforeTheLastIsSynthesised) {
  REQUIRE_ESPEAK();
  RecordingTalker talker;
  Voice voice = find_voice("en-male-1");
  std::vector<size_t> indices;
  talker.synthesize_stream(kThreeSentences, SpeechStyle{}, voice, [&](const AudioBuffer& chunk, size_t i) {
    EXPECT_GT(chunk.duration_s(), 0.5);
    indices.push_back(i);
    talker.log("chunk " + std::to_string(i));
  });
  EXPECT_EQ(indices, (std::vector<size_t>{0, 1, 2}));
  auto position = [&](const std::string& e) {
    return std::find(talker.events.begin(), talker.events.end(), e) - talker.events.begin();
  };
  // The base class already synthesises the next sentence while a chunk is handed over, never two ahead.
  EXPECT_LT(position("chunk 0"), position("start Is this the third?"));
}

TEST(Streaming, EspeakChunksAreTheSentencesAndAddUpToTheWhole) {
  REQUIRE_ESPEAK();
  EspeakTalker talker({.server = ""});  // one process per sentence: chunks comparable sample for sample
  Voice voice = find_voice("en-female-1");
  SpeechStyle style = affect::emotion_style("happy", 0.6);
  std::vector<AudioBuffer> chunks;
  std::vector<Clock::time_point> arrivals;
  auto start = Clock::now();
  talker.synthesize_stream(kThreeSentences, style, voice, [&](const AudioBuffer& chunk, size_t i) {
    EXPECT_EQ(i, chunks.size());
    arrivals.push_back(Clock::now());
    chunks.push_back(chunk);
  });
  double total_s = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_EQ(chunks.size(), 3u);
  std::vector<std::string> sentences = split_sentences(kThreeSentences);
  double sum = 0;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(chunks[i].samples, talker.synthesize(sentences[i], style, voice).samples) << "chunk " << i;
    sum += chunks[i].duration_s();
  }
  double whole = talker.synthesize(kThreeSentences, style, voice).duration_s();
  EXPECT_NEAR(sum, whole, 0.15 * whole);
  std::cout << "first chunk after " << std::chrono::duration<double>(arrivals[0] - start).count() << " s of " << total_s
            << " s; chunks " << sum << " s, whole " << whole << " s\n";
}

TEST(Streaming, NothingToSayGivesNoChunks) {
  REQUIRE_ESPEAK();
  int calls = 0;
  make_talker()->synthesize_stream(" ... \n ", SpeechStyle{}, find_voice("en-male-1"),
                                   [&](const AudioBuffer&, size_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(HostileText, NeverReachesAShellOrTheMarkupParser) {
  REQUIRE_ESPEAK();
  testing::TempDir dir;
  const std::string marker = (dir / "pwned").string();
  EspeakTalker talker;
  Voice voice = find_voice("en-male-1");
  const std::string hostile = "Hello \"there\"; it's $(touch " + marker + ") and `touch " + marker +
                              "`;\nrm -rf / ; echo 'done' > " + marker + " | cat & --help -v xx";
  AudioBuffer a = talker.synthesize(hostile, SpeechStyle{}, voice);
  EXPECT_GT(rms(a.samples), 0.01);
  EXPECT_FALSE(std::filesystem::exists(marker));
  // SSML in the text is read out as text (escaped), never obeyed: no 30-second break.
  AudioBuffer b = talker.synthesize("<break time=\"30s\"/>Hi.", SpeechStyle{}, voice);
  EXPECT_GT(b.duration_s(), 0.3);
  EXPECT_LT(b.duration_s(), 10.0);
  // NUL bytes and invalid UTF-8 are cleaned, not passed on.
  AudioBuffer c = talker.synthesize(std::string("Hi\0there \xff\xfe friend.", 20), SpeechStyle{}, voice);
  EXPECT_GT(c.duration_s(), 0.5);
}

TEST(HostileText, TenThousandCharactersFinish) {
  REQUIRE_ESPEAK();
  // Mostly marks espeak-ng reads as short pauses (a few minutes of audio in all), so the test stays fast.
  std::string text = "Start $(rm -rf /) now;";
  const std::string junk = "\"'`|<>()\n";
  while (text.size() < 10000) text += junk;
  text += "End.";
  EspeakTalker talker;
  auto start = Clock::now();
  AudioBuffer a = talker.synthesize(text, SpeechStyle{}, find_voice("en-female-2"));
  EXPECT_GT(a.duration_s(), 0.3);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 30.0);
}

TEST(HostileText, EmptyTextGivesEmptyAudio) {
  REQUIRE_ESPEAK();
  EspeakTalker talker;
  for (const char* text : {"", "   ", "...", "\n\n"}) {
    AudioBuffer a = talker.synthesize(text, SpeechStyle{}, find_voice("en-male-1"));
    EXPECT_TRUE(a.samples.empty()) << "'" << text << "'";
    EXPECT_EQ(a.sample_rate, 16000);
  }
}

TEST(EspeakTalker, MissingProgramSaysHowToInstallIt) {
  EspeakTalker talker({.program = "/nonexistent/espeak-ng", .server = ""});
  try {
    talker.synthesize("Hello.", SpeechStyle{}, find_voice("en-male-1"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("espeak-ng not found: install it with scripts/install-deps.sh"),
              std::string::npos)
        << e.what();
  }
}

TEST(EspeakTalker, BadStyleOrVoiceIsAConfigErrorBeforeAnyProcessRuns) {
  EspeakTalker talker({.program = "/nonexistent/espeak-ng"});
  SpeechStyle style;
  style.rate = 5;
  EXPECT_THROW(talker.synthesize("Hi.", style, find_voice("en-male-1")), ConfigError);
  Voice voice = find_voice("en-male-1");
  voice.engine_voice = "--help";
  EXPECT_THROW(voice.validate(), ConfigError);
  voice.engine_voice = "en us";
  EXPECT_THROW(talker.synthesize("Hi.", SpeechStyle{}, voice), ConfigError);
  EXPECT_THROW(EspeakTalker({.sample_rate = 10}), ConfigError);
}

TEST(EspeakTalker, UnknownEspeakVoiceIsAClearError) {
  REQUIRE_ESPEAK();
  Voice voice = find_voice("en-male-1");
  voice.engine_voice = "xx-nonexistent";
  try {
    EspeakTalker().synthesize("Hello.", SpeechStyle{}, voice);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("xx-nonexistent"), std::string::npos) << e.what();
  }
}

// The attune-espeak server runs the same engine in a process that stays up: a fresh server's first
// utterance must be exactly the espeak-ng program's.
TEST(EspeakServer, FreshServerGivesTheEspeakNgProgramsSamples) {
  REQUIRE_ESPEAK();
  const std::string server = EspeakOptions::default_espeak_server();
  if (server.empty()) GTEST_SKIP() << "attune-espeak not built (needs libespeak-ng-dev); skipping";
  EspeakTalker served({.server = server});
  EspeakTalker program({.server = ""});
  struct Case {
    const char* voice;
    const char* emotion;
    double intensity;
    const char* text;
  };
  for (const Case& c : {Case{"en-male-1", "neutral", 0.0, kText}, Case{"en-female-2", "sad", 0.8, kText},
                        Case{"en-male-3", "anger", 0.6, "Why would you <do> that & not \"tell\" me?"},
                        Case{"zh-female-1", "happy", 0.7, "今天我终于拿到驾照了！"}}) {
    served.reset();
    AudioBuffer a = served.synthesize(c.text, affect::emotion_style(c.emotion, c.intensity), find_voice(c.voice));
    AudioBuffer b = program.synthesize(c.text, affect::emotion_style(c.emotion, c.intensity), find_voice(c.voice));
    ASSERT_GT(a.samples.size(), 8000u) << c.voice;
    EXPECT_EQ(a.samples, b.samples) << c.voice << " " << c.emotion;
  }
}

TEST(EspeakServer, ResetMakesASequenceRepeatable) {
  REQUIRE_ESPEAK();
  if (EspeakOptions::default_espeak_server().empty()) GTEST_SKIP() << "attune-espeak not built; skipping";
  EspeakTalker talker;
  auto sequence = [&] {
    talker.reset();
    std::vector<AudioBuffer> out;
    for (const char* text : {"First, this.", "Then that, a little longer.", "First, this."}) {
      out.push_back(talker.synthesize(text, affect::emotion_style("fear", 0.5), find_voice("en-female-1")));
    }
    return out;
  };
  auto a = sequence(), b = sequence();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].samples, b[i].samples) << i;
}

TEST(EspeakServer, ABrokenServerFallsBackToTheProgram) {
  REQUIRE_ESPEAK();
  EspeakTalker broken({.server = "/bin/true"});  // exits at once: every request fails
  EspeakTalker program({.server = ""});
  for (int i = 0; i < 2; ++i) {
    AudioBuffer a = broken.synthesize("Hello there.", SpeechStyle{}, find_voice("en-female-1"));
    AudioBuffer b = program.synthesize("Hello there.", SpeechStyle{}, find_voice("en-female-1"));
    EXPECT_EQ(a.samples, b.samples);
  }
}

}  // namespace
}  // namespace attune::tts
