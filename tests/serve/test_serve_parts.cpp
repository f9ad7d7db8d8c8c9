// The server's parts without a model: base64 (RFC 4648's test vectors), request parsing and its
// errors, the turn gate, the session store, the metrics text.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "audio/audio_file.h"
#include "common/base64.h"
#include "serve/api_error.h"
#include "serve/chat_request.h"
#include "serve/chat_response.h"
#include "serve/metrics.h"
#include "serve/turn_gate.h"

namespace attune::serve {
namespace {

using nlohmann::json;

TEST(Base64, Rfc4648TestVectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(common::base64_encode(plain), encoded);
    EXPECT_EQ(common::base64_decode(encoded), std::string(plain));
  }
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  EXPECT_EQ(common::base64_decode(common::base64_encode(all)), all);
  EXPECT_EQ(common::base64_decode("Zm9v\nYmFy"), "foobar");                    // MIME line breaks
  for (const char* bad : {"Zm9", "Zm9v!", "Zg=", "Zg==Zg==", "Z===", "Zh=="})  // Zh==: non-zero fill bits
    EXPECT_FALSE(common::base64_decode(bad).has_value()) << bad;
}

std::string wav_base64(double seconds, int rate = 16000, audio::AudioFormat format = audio::AudioFormat::kWav16) {
  AudioBuffer a;
  a.sample_rate = rate;
  a.samples.resize(static_cast<size_t>(seconds * rate));
  for (size_t i = 0; i < a.samples.size(); ++i) a.samples[i] = 0.3f * static_cast<float>(std::sin(0.05 * i));
  return common::base64_encode(audio::encode_audio(a, format));
}

json audio_message(const std::string& data) {
  return {{"role", "user"},
          {"content", json::array({{{"type", "input_audio"}, {"input_audio", {{"data", data}, {"format", "wav"}}}}})}};
}

TEST(ChatRequest, ReadsTheOpenAiShapeAndTheExtension) {
  const json body = {
      {"model", "attune-small"},
      {"messages",
       json::array(
           {{{"role", "system"}, {"content", "Be kind."}},
            audio_message(wav_base64(1.0)),
            {{"role", "assistant"}, {"content", "Oh no."}, {"reasoning_content", "sad"}},
            {{"role", "user"},
             {"content", json::array({{{"type", "text"}, {"text", "and"}}, {{"type", "text"}, {"text", "then?"}}})}}})},
      {"stream", true},
      {"stream_options", {{"include_usage", true}}},
      {"max_tokens", 99},
      {"temperature", 0.7},
      {"modalities", {"text", "audio"}},
      {"audio", {{"voice", "en-male-1"}, {"format", "pcm16"}}},
      {"attune", {{"session_id", "sess-1"}, {"show_thinking", true}}}};
  const ChatRequest r = parse_chat_request(body.dump(), {});
  ASSERT_EQ(r.messages.size(), 4u);
  EXPECT_EQ(r.messages[1].audio.sample_rate, 16000);
  EXPECT_EQ(r.messages[1].audio.frames(), 16000);
  EXPECT_EQ(r.messages[2].thinking, "sad");
  EXPECT_EQ(r.messages[3].text, "and\nthen?");
  EXPECT_TRUE(r.stream && r.include_usage && r.want_audio && r.show_thinking);
  EXPECT_EQ(r.max_tokens, 99);
  EXPECT_DOUBLE_EQ(r.temperature, 0.7);
  EXPECT_EQ(r.audio_format, "pcm16");
  EXPECT_EQ(r.voice, "en-male-1");
  EXPECT_EQ(r.session_id, "sess-1");
  // FLAC at another rate decodes as well (the session resamples).
  const ChatRequest flac = parse_chat_request(
      json({{"messages", {audio_message(wav_base64(0.5, 44100, audio::AudioFormat::kFlac16))}}}).dump(), {});
  EXPECT_EQ(flac.messages[0].audio.sample_rate, 44100);
  EXPECT_EQ(flac.messages[0].audio.frames(), 22050);
}

// Every malformed request is a 400 that names the field.
TEST(ChatRequest, BadRequestsNameTheField) {
  const auto fails = [](const std::string& body, const std::string& param, const std::string& code = "") {
    try {
      parse_chat_request(body, {.max_audio_seconds = 2});
      ADD_FAILURE() << "accepted: " << body.substr(0, 120);
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status(), 400) << body.substr(0, 120);
      EXPECT_EQ(e.param(), param) << e.what();
      if (!code.empty()) {
        EXPECT_EQ(e.code(), code) << e.what();
      }
    }
  };
  const std::string ok_user = R"({"role":"user","content":"hi"})";
  fails("{not json", "", "invalid_json");
  fails("[1,2]", "", "invalid_json");
  fails("{}", "messages");
  fails(R"({"messages":[]})", "messages");
  fails(R"({"messages":[{"role":"wizard","content":"x"}]})", "messages[0].role");
  fails(R"({"messages":[{"role":"user","content":5}]})", "messages[0].content");
  fails(R"({"messages":[{"role":"user","content":""}]})", "messages[0].content");
  fails(R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})", "messages[0].content[0].type");
  fails(json({{"messages", {audio_message("###")}}}).dump(), "messages[0].content[0].input_audio.data",
        "invalid_base64");
  fails(json({{"messages", {audio_message(common::base64_encode("this is not audio at all, just words"))}}}).dump(),
        "messages[0].content[0].input_audio.data", "invalid_audio");
  fails(json({{"messages", {audio_message(wav_base64(3.0))}}}).dump(), "messages[0].content[0].input_audio",
        "audio_too_long");
  fails(R"({"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]})", "messages");
  fails(R"({"messages":[)" + ok_user + R"(],"temperature":"hot"})", "temperature");
  fails(R"({"messages":[)" + ok_user + R"(],"max_tokens":0})", "max_tokens");
  fails(R"({"messages":[)" + ok_user + R"(],"max_tokens":99999})", "max_tokens");
  fails(R"({"messages":[)" + ok_user + R"(],"stream":"yes"})", "stream");
  fails(R"({"messages":[)" + ok_user + R"(],"modalities":["video"]})", "modalities");
  fails(R"({"messages":[)" + ok_user + R"(],"audio":{"format":"mp3"}})", "audio.format");
  fails(R"({"messages":[)" + ok_user + R"(],"n":2})", "n");
  // Wrongly typed optional fields (nlohmann's value() threw type_error for these: a 500).
  json bad_format = audio_message(wav_base64(0.5));
  bad_format["content"][0]["input_audio"]["format"] = true;
  fails(json({{"messages", {bad_format}}}).dump(), "messages[0].content[0].input_audio.format");
  fails(R"({"messages":[)" + ok_user + R"(],"stream_options":{"include_usage":"yes"}})",
        "stream_options.include_usage");
  // Hostile values: nested 60k deep (the error message must not recurse into it), and a number out
  // of double's range (nlohmann's out_of_range, not a parse_error).
  const std::string deep = std::string(60000, '[') + std::string(60000, ']');
  fails(R"({"messages":[)" + ok_user + R"(],"modalities":[)" + deep + "]}", "modalities");
  fails(R"({"messages":[)" + ok_user + R"(],"temperature":1e999})", "", "invalid_json");
  fails(R"({"messages":[)" + ok_user + R"(],"max_tokens":1.9})", "max_tokens");        // not truncated to 1
  fails(R"({"messages":[)" + ok_user + R"(],"seed":9223372036854775808.0})", "seed");  // 2^63 as a double
  fails(R"({"messages":[)" + ok_user + R"(],"seed":9223372036854775808})", "seed");    // 2^63, unsigned
  fails(R"({"messages":[)" + ok_user + R"(],"seed":-1})", "seed");
  fails(R"({"messages":[)" + ok_user + R"(],"attune":{"session_id":"a","new_session":true}})", "attune");
}

TEST(ChatResponse, Pcm16AndWavAudioDecodeToTheSamples) {
  AudioBuffer a;
  a.sample_rate = 24000;
  a.samples = {0.0f, 0.5f, -0.5f, 1.0f, -1.0f};
  const std::string pcm = *common::base64_decode(audio_base64(a, "pcm16"));
  ASSERT_EQ(pcm.size(), 10u);
  const auto sample = [&](size_t i) {
    return static_cast<int16_t>(static_cast<uint8_t>(pcm[2 * i]) | static_cast<uint8_t>(pcm[2 * i + 1]) << 8);
  };
  EXPECT_EQ(sample(1), 16384);  // round(0.5 * 32767)
  EXPECT_EQ(sample(3), 32767);
  EXPECT_EQ(sample(4), -32767);
  const AudioBuffer back = audio::decode_audio(*common::base64_decode(audio_base64(a, "wav")), "reply.wav");
  EXPECT_EQ(back.sample_rate, 24000);
  ASSERT_EQ(back.samples.size(), 5u);
  EXPECT_NEAR(back.samples[1], 0.5f, 1e-4);
  EXPECT_EQ(sse_event({{"a", 1}}), "data: {\"a\":1}\n\n");
}

TEST(TurnGate, FirstComeFirstServedWithQueueLimitAndDeadline) {
  TurnGate gate(1);
  auto first = gate.enter(TurnGate::Clock::now() + std::chrono::seconds(1));
  EXPECT_TRUE(gate.busy());
  // One may wait: it times out while the first holds the gate (503).
  std::thread waiter([&] {
    try {
      gate.enter(TurnGate::Clock::now() + std::chrono::milliseconds(300));
      ADD_FAILURE() << "entered while busy";
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status(), 503);
    }
  });
  while (gate.waiting() == 0) std::this_thread::yield();
  // A second waiter is refused at once (429).
  try {
    gate.enter(TurnGate::Clock::now() + std::chrono::seconds(5));
    ADD_FAILURE() << "queued beyond the limit";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 429);
    EXPECT_EQ(e.type(), "rate_limit_error");
  }
  waiter.join();
  EXPECT_EQ(gate.waiting(), 0u);
  // Releasing lets the next one in.
  std::thread next([&] { EXPECT_NO_THROW(gate.enter(TurnGate::Clock::now() + std::chrono::seconds(5))); });
  while (gate.waiting() == 0) std::this_thread::yield();
  first.reset();
  next.join();
  EXPECT_FALSE(gate.busy());
}

TEST(Metrics, PrometheusTextHasTheSeries) {
  Metrics m;
  m.count_request("/v1/chat/completions", 200, 0.3);
  m.count_request("/v1/chat/completions", 400, 0.01);
  m.count_turn(0.1, 0.4, 60, 77, 3.5, 2.0);
  const std::string text = m.render(2, 1, true);
  EXPECT_NE(text.find("attune_requests_total{route=\"/v1/chat/completions\",status=\"200\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("attune_first_token_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos);  // le is inclusive
  EXPECT_NE(text.find("attune_first_token_seconds_bucket{le=\"0.05\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("attune_first_audio_seconds_count 1\n"), std::string::npos);
  EXPECT_NE(text.find("attune_generated_tokens_total 77\n"), std::string::npos);
  EXPECT_NE(text.find("attune_active_sessions 2\n"), std::string::npos);
  EXPECT_NE(text.find("attune_queue_waiting 1\n"), std::string::npos);
  EXPECT_GT(resident_memory_bytes(), 1u << 20);
}

}  // namespace
}  // namespace attune::serve

namespace attune::serve {
namespace {

long current_rss_kb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

// A decompression bomb: 5 minutes of 8-channel 48 kHz silence is a small FLAC but 460 MB of float
// samples. The header's length must refuse it before anything is decoded. The request is parsed in
// a child process, whose peak RSS (wait4) is then compared with what it started from.
TEST(ChatRequest, LongAudioIsRefusedFromItsHeaderBeforeDecoding) {
  std::string body;
  {
    AudioBuffer silence;
    silence.sample_rate = 48000;
    silence.channels = 8;
    silence.samples.assign(static_cast<size_t>(48000) * 8 * 300, 0.0f);
    const std::string flac = audio::encode_audio(silence, audio::AudioFormat::kFlac16);
    ASSERT_LT(flac.size(), 4u << 20) << "silence should compress";
    body = nlohmann::json({{"messages",
                            {{{"role", "user"},
                              {"content",
                               {{{"type", "input_audio"},
                                 {"input_audio", {{"data", common::base64_encode(flac)}, {"format", "flac"}}}}}}}}}})
               .dump();
  }
  const long start_kb = current_rss_kb();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int code = 3;
    try {
      parse_chat_request(body, {.max_audio_seconds = 60});
      code = 1;  // accepted
    } catch (const ApiError& e) {
      code =
          e.code() == "audio_too_long" && std::string(e.what()).find("300.0 s of audio") != std::string::npos ? 0 : 2;
    } catch (...) {
    }
    _exit(code);
  }
  int status = 0;
  rusage usage{};
  ASSERT_EQ(wait4(child, &status, 0, &usage), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: accepted, 2: another error than audio_too_long with the header's length";
  // Decoding it would have taken the peak ~460 MB above the start.
  EXPECT_LT(usage.ru_maxrss - start_kb, 100 * 1024) << "peak RSS grew while refusing the audio";
}

}  // namespace
}  // namespace attune::serve
