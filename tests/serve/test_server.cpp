// `attune serve`'s server on loopback with the shipped model, reached over HTTP as clients reach it:
// spoken turns whole and streamed (the streamed text must equal the whole answer: greedy decoding),
// sessions against a resent history, the session store, errors as OpenAI-style JSON with the right
// status, and survival of clients that leave mid-stream, send slowly or send too much.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>
#include <vector>

#include "affect/speech_style.h"
#include "attune/error.h"
#include "audio/audio_file.h"
#include "common/base64.h"
#include "serve/api_error.h"
#include "serve/server.h"
#include "serve/session_store.h"
#include "support/test_support.h"
#include "tts/flite_talker.h"
#include "tts/talker.h"

namespace attune::serve {
namespace {

using nlohmann::json;

std::filesystem::path shipped_model() { return testing::source_dir() / "models" / "attune-small"; }

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    RuntimeOptions ro;
    ro.dtype = Dtype::kFp32;
    model_ = new Model(Model::load(shipped_model(), ro));
    ServerOptions so;
    so.port = 0;
    so.io_timeout = std::chrono::seconds(1);
    so.max_body_bytes = 4u << 20;
    so.limits.max_audio_seconds = 20;
    so.session.max_new_tokens = 160;
    so.log_requests = false;
    server_ = new Server(*model_, so);
    port_ = server_->bind();
    thread_ = new std::thread([] { server_->run(); });
    auto talker = tts::make_talker("espeak");
    const tts::Voice voice = tts::find_voice("en-male-2");
    first_ = new std::string(common::base64_encode(
        audio::encode_audio(talker->synthesize("I lost my job today.", affect::emotion_style("sad", 0.8), voice),
                            audio::AudioFormat::kWav16)));
    second_ = new std::string(common::base64_encode(audio::encode_audio(
        talker->synthesize("But my friend offered to help me.", affect::emotion_style("happy", 0.6), voice),
        audio::AudioFormat::kWav16)));
  }
  static void TearDownTestSuite() {
    server_->stop();
    thread_->join();
    delete thread_;
    delete server_;
    delete model_;
    delete first_;
    delete second_;
  }

  static httplib::Client client() {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(120);
    return c;
  }
  static json user_audio(const std::string& b64) {
    return {{"role", "user"},
            {"content", json::array({{{"type", "input_audio"}, {"input_audio", {{"data", b64}, {"format", "wav"}}}}})}};
  }
  static std::pair<int, json> post(json body) {
    auto res = client().Post("/v1/chat/completions", body.dump(), "application/json");
    if (!res) return {0, json()};
    return {res->status, json::parse(res->body)};
  }
  // The streamed events' JSON payloads, in order, and whether [DONE] closed them.
  static std::pair<std::vector<json>, bool> post_stream(json body) {
    body["stream"] = true;
    auto res = client().Post("/v1/chat/completions", body.dump(), "application/json");
    std::vector<json> events;
    bool done = false;
    if (!res || res->status != 200) return {events, done};
    EXPECT_EQ(res->get_header_value("Content-Type"), "text/event-stream");
    size_t at = 0;
    while ((at = res->body.find("data: ", at)) != std::string::npos) {
      const size_t end = res->body.find("\n\n", at);
      const std::string data = res->body.substr(at + 6, end - at - 6);
      at = end;
      if (data == "[DONE]")
        done = true;
      else
        events.push_back(json::parse(data));
    }
    return {events, done};
  }

  static Model* model_;
  static Server* server_;
  static std::thread* thread_;
  static int port_;
  static std::string *first_, *second_;
};
Model* ServerTest::model_ = nullptr;
Server* ServerTest::server_ = nullptr;
std::thread* ServerTest::thread_ = nullptr;
int ServerTest::port_ = 0;
std::string* ServerTest::first_ = nullptr;
std::string* ServerTest::second_ = nullptr;

TEST_F(ServerTest, HealthModelsMetricsAndThePage) {
  auto c = client();
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(json::parse(health->body)["status"], "ok");
  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  const json m = json::parse(models->body);
  EXPECT_EQ(m["object"], "list");
  EXPECT_EQ(m["data"][0]["id"], "attune-small");
  // Both talker engines' voices, and the default (chosen by `attune eval talkers`) among them.
  const json& voices = m["data"][0]["attune"]["voices"];
  for (const char* v : {"en-female-2", "en-flite-slt", "en-flite-kal16", "zh-female-1"}) {
    EXPECT_NE(std::find(voices.begin(), voices.end(), v), voices.end()) << v;
  }
  EXPECT_EQ(m["data"][0]["attune"]["default_voice"], SessionOptions{}.voice);
  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find("<script src=\"/app.js\">"), std::string::npos);
  EXPECT_NE(page->get_header_value("Content-Type").find("text/html"), std::string::npos);
  for (const char* asset : {"/app.js", "/style.css", "/recorder-worklet.js"}) {
    auto r = c.Get(asset);
    ASSERT_TRUE(r) << asset;
    EXPECT_EQ(r->status, 200) << asset;
    EXPECT_GT(r->body.size(), 100u) << asset;
  }
  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("attune_requests_total{route=\"/health\",status=\"200\"}"), std::string::npos);
  EXPECT_NE(metrics->body.find("process_resident_memory_bytes "), std::string::npos);
}

TEST_F(ServerTest, SpokenTurnWholeAndStreamedAgree) {
  const json body = {
      {"messages", {user_audio(*first_)}}, {"modalities", {"text", "audio"}}, {"attune", {{"show_thinking", true}}}};
  const auto [status, whole] = post(body);
  ASSERT_EQ(status, 200) << whole.dump();
  const json& message = whole["choices"][0]["message"];
  EXPECT_EQ(whole["object"], "chat.completion");
  EXPECT_EQ(message["role"], "assistant");
  const std::string text = message["content"];
  const json& x = whole["attune"];
  double p = 0;
  for (const auto& item : x["emotion"]["probabilities"].items()) p += item.value().get<double>();
  // Probabilities over the labels when the thinking named one; none when it did not.
  if (x["emotion"]["label"] != "") {
    EXPECT_NEAR(p, 1.0, 1e-9) << x.dump();
  } else {
    EXPECT_EQ(p, 0.0);
  }
  EXPECT_EQ(x["trajectory"].size(), 1u);
  EXPECT_TRUE(x["session_id"].is_null());  // stateless
  EXPECT_FALSE(x["thinking"].get<std::string>().empty());
  EXPECT_EQ(whole["usage"]["total_tokens"],
            whole["usage"]["prompt_tokens"].get<int>() + whole["usage"]["completion_tokens"].get<int>());
  if (!text.empty()) {
    const AudioBuffer audio =
        audio::decode_audio(*common::base64_decode(message["audio"]["data"].get<std::string>()), "reply");
    EXPECT_GT(audio.duration_s(), 0.3);
  }

  const auto [events, done] = post_stream(body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_TRUE(done);
  EXPECT_EQ(events[0]["choices"][0]["delta"]["role"], "assistant");
  std::string streamed, thinking;
  size_t audio_chunks = 0;
  for (const json& e : events) {
    EXPECT_EQ(e["object"], "chat.completion.chunk");
    EXPECT_EQ(e["id"], events[0]["id"]);
    const json& d = e["choices"][0]["delta"];
    if (d.contains("content")) streamed += d["content"].get<std::string>();
    if (d.contains("audio")) {
      ++audio_chunks;
      EXPECT_GT(audio::decode_audio(*common::base64_decode(d["audio"]["data"].get<std::string>()), "chunk").frames(),
                0);
    }
    if (e.contains("attune") && e["attune"].contains("thinking") && !e["choices"][0]["finish_reason"].is_string())
      thinking += e["attune"]["thinking"].get<std::string>();
  }
  EXPECT_EQ(streamed, text);
  EXPECT_NE(thinking.find(x["thinking"].get<std::string>().substr(0, 20)), std::string::npos);
  if (!text.empty()) {
    EXPECT_GE(audio_chunks, 1u);
  }
  const json& last = events.back();
  EXPECT_EQ(last["choices"][0]["finish_reason"], whole["choices"][0]["finish_reason"]);
  EXPECT_EQ(last["attune"]["emotion"], x["emotion"]);

  // The same turn spoken by a Flite voice (when attune-flite is built): the same words, other audio.
  if (tts::flite_available()) {
    json flite = body;
    flite["audio"] = {{"voice", "en-flite-awb"}};
    const auto [flite_status, flite_reply] = post(flite);
    ASSERT_EQ(flite_status, 200) << flite_reply.dump();
    const json& fm = flite_reply["choices"][0]["message"];
    EXPECT_EQ(fm["content"], text);
    if (!text.empty()) {
      EXPECT_GT(
          audio::decode_audio(*common::base64_decode(fm["audio"]["data"].get<std::string>()), "reply").duration_s(),
          0.3);
      EXPECT_NE(fm["audio"]["data"], message["audio"]["data"]);
    }
  }
}

// A session kept on the server and a stateless client resending the dialogue reach the same second reply.
TEST_F(ServerTest, SessionAndResentHistoryAgree) {
  auto [s1, r1] =
      post({{"messages", {user_audio(*first_)}}, {"attune", {{"new_session", true}, {"show_thinking", true}}}});
  ASSERT_EQ(s1, 200) << r1.dump();
  const std::string id = r1["attune"]["session_id"];
  EXPECT_EQ(id.rfind("sess-", 0), 0u);
  auto [s2, r2] = post({{"messages", {user_audio(*second_)}}, {"attune", {{"session_id", id}}}});
  ASSERT_EQ(s2, 200) << r2.dump();
  EXPECT_EQ(r2["attune"]["turn"], 2);
  EXPECT_EQ(r2["attune"]["trajectory"].size(), 2u);

  const json history = {user_audio(*first_),
                        {{"role", "assistant"},
                         {"content", r1["choices"][0]["message"]["content"]},
                         {"reasoning_content", r1["attune"]["thinking"]}},
                        user_audio(*second_)};
  auto [s3, r3] = post({{"messages", history}});
  ASSERT_EQ(s3, 200) << r3.dump();
  EXPECT_EQ(r3["choices"][0]["message"]["content"], r2["choices"][0]["message"]["content"]);
  EXPECT_EQ(r3["attune"]["turn"], 2);

  auto c = client();
  auto del = c.Delete("/v1/sessions/" + id);
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200);
  auto [s4, r4] = post({{"messages", {user_audio(*second_)}}, {"attune", {{"session_id", id}}}});
  EXPECT_EQ(s4, 404);
  EXPECT_EQ(r4["error"]["code"], "session_not_found");
  EXPECT_EQ(c.Delete("/v1/sessions/" + id)->status, 404);
}

TEST_F(ServerTest, ErrorsAreJsonWithTheRightStatusAndTheServerGoesOn) {
  auto c = client();
  const auto expect_error = [&](const httplib::Result& res, int status, const std::string& type) {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, status) << res->body;
    const json e = json::parse(res->body);
    EXPECT_EQ(e["error"]["type"], type) << res->body;
    EXPECT_FALSE(e["error"]["message"].get<std::string>().empty());
  };
  expect_error(c.Post("/v1/chat/completions", "{oops", "application/json"), 400, "invalid_request_error");
  expect_error(
      c.Post("/v1/chat/completions", json({{"messages", {user_audio("not base64!")}}}).dump(), "application/json"), 400,
      "invalid_request_error");
  expect_error(c.Post("/v1/chat/completions",
                      json({{"messages", {user_audio(common::base64_encode(std::string(5000, 'x')))}}}).dump(),
                      "application/json"),
               400, "invalid_request_error");
  expect_error(c.Post("/v1/chat/completions",
                      json({{"messages", {user_audio(*first_)}},
                            {"audio", {{"voice", "alloy"}}},
                            {"modalities", {"text", "audio"}}})
                          .dump(),
                      "application/json"),
               400, "invalid_request_error");
  // A bad voice: 400 naming the voices of both engines.
  const auto [bad_voice, error] = post(
      {{"messages", {user_audio(*first_)}}, {"audio", {{"voice", "en-flite-bob"}}}, {"modalities", {"text", "audio"}}});
  EXPECT_EQ(bad_voice, 400);
  const std::string message = error["error"]["message"];
  EXPECT_NE(message.find("en-female-1"), std::string::npos) << message;
  EXPECT_NE(message.find("en-flite-slt"), std::string::npos) << message;
  expect_error(c.Post("/v1/chat/completions", std::string(5u << 20, ' '), "application/json"), 413,
               "invalid_request_error");
  expect_error(c.Get("/v1/nothing"), 404, "not_found_error");
  // A known route asked with the wrong method: 405 and what it answers.
  auto wrong = c.Get("/v1/chat/completions");
  expect_error(wrong, 405, "invalid_request_error");
  if (wrong) {
    EXPECT_EQ(wrong->get_header_value("Allow"), "POST");
  }
  expect_error(c.Post("/v1/models", "{}", "application/json"), 405, "invalid_request_error");
  expect_error(c.Delete("/health"), 405, "invalid_request_error");
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

int connect_loopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

TEST_F(ServerTest, ClientsThatLeaveOrStallDoNotHurtOthers) {
  // A streamed request whose client hangs up after the first bytes: the turn stops, the model is free again.
  {
    json body = {{"messages", {user_audio(*first_)}}, {"stream", true}, {"max_tokens", 160}};
    const std::string payload = body.dump();
    const std::string head =
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
        std::to_string(payload.size()) + "\r\n\r\n";
    const int fd = connect_loopback(port_);
    ASSERT_GT(write(fd, head.data(), head.size()), 0);
    ASSERT_GT(write(fd, payload.data(), payload.size()), 0);
    char buf[256];
    EXPECT_GT(read(fd, buf, sizeof buf), 0);  // the headers and the first event
    close(fd);
  }
  // A slow client: headers promising a body that never comes. The server gives up after its I/O
  // timeout (1 s here) and closes the connection.
  const int slow = connect_loopback(port_);
  const std::string partial =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
      "1000\r\n\r\n{\"mess";
  ASSERT_GT(write(slow, partial.data(), partial.size()), 0);
  // Meanwhile the server answers others.
  const auto [status, reply] = post({{"messages", {user_audio(*second_)}}, {"max_tokens", 160}});
  EXPECT_EQ(status, 200) << reply.dump();
  timeval tv{10, 0};
  setsockopt(slow, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[512];
  ssize_t n;
  while ((n = read(slow, buf, sizeof buf)) > 0) {
  }
  EXPECT_EQ(n, 0) << "the server should have closed the stalled connection";
  close(slow);
  auto metrics = client().Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("attune_model_busy 0"), std::string::npos);
}

TEST_F(ServerTest, ChunkedBodiesAreRefusedBeforeTheyAreRead) {
  // httplib 0.11 would read a chunked body past the size cap; the server answers 411 at the
  // headers, before one chunk is read, and goes on serving.
  const int fd = connect_loopback(port_);
  const std::string head =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: Chunked\r\n\r\n10\r\n{\"messages\": [1,\r\n";
  ASSERT_GT(write(fd, head.data(), head.size()), 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string answer;
  char buf[512];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) answer.append(buf, static_cast<size_t>(n));
  close(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 411", 0), 0u) << answer;
  EXPECT_NE(answer.find("\"length_required\""), std::string::npos) << answer;
  auto health = client().Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST_F(ServerTest, SlowLorisClientsAreCutAndHealthStillAnswers) {
  // 30 clients trickle a header line every 0.3 s, well inside the 30 s per-read timeout, so only
  // the connection limit (10) and the whole-request deadline (2 s) can end them.
  ServerOptions so;
  so.port = 0;
  so.log_requests = false;
  so.io_timeout = std::chrono::seconds(30);
  so.max_waiting = 2;
  so.connections.max_connections = 10;
  so.connections.request_deadline = std::chrono::seconds(2);
  Server guarded(*model_, so);
  const int port = guarded.bind();
  std::thread runner([&] { guarded.run(); });
  std::vector<int> loris;
  for (int i = 0; i < 30; ++i) {
    loris.push_back(connect_loopback(port));
    const std::string head = "GET /health HTTP/1.1\r\nHost: x\r\n";
    send(loris.back(), head.data(), head.size(), MSG_NOSIGNAL);
  }
  std::atomic<bool> trickling{true};
  std::thread trickle([&] {
    while (trickling) {
      for (int fd : loris) send(fd, "X-Slow: 1\r\n", 11, MSG_NOSIGNAL);
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
  });
  // Every loris connection ends with EOF: 20 at once (over the limit), 10 at the deadline.
  const auto start = std::chrono::steady_clock::now();
  int closed = 0;
  for (int fd : loris) {
    timeval tv{15, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[512];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
    }
    closed += n == 0 || (n < 0 && errno == ECONNRESET);
  }
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(closed, 30);
  EXPECT_LT(waited, 10.0) << "the stalled connections outlived the deadline";
  // Health answers while they are still trickling into closed sockets.
  httplib::Client c("127.0.0.1", port);
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  trickling = false;
  trickle.join();
  for (int fd : loris) close(fd);
  guarded.stop();
  runner.join();
}

TEST_F(ServerTest, APortInUseIsAClearError) {
  ServerOptions so;
  so.port = port_;
  Server second(*model_, so);
  try {
    second.bind();
    ADD_FAILURE() << "bound a port in use";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(port_)), std::string::npos) << e.what();
  }
}

TEST_F(ServerTest, AnApiKeyGuardsTheApiButNotHealthOrThePage) {
  ServerOptions so;
  so.port = 0;
  so.log_requests = false;
  so.api_key = "s3cret-key";
  Server keyed(*model_, so);
  const int port = keyed.bind();
  std::thread runner([&] { keyed.run(); });
  httplib::Client c("127.0.0.1", port);
  auto status = [&](const std::string& path, const std::string& authorization) {
    httplib::Headers headers;
    if (!authorization.empty()) headers.emplace("Authorization", authorization);
    auto res = c.Get(path, headers);
    return res ? res->status : 0;
  };
  EXPECT_EQ(status("/v1/models", ""), 401);
  EXPECT_EQ(status("/v1/models", "Bearer wrong-key!"), 401);
  EXPECT_EQ(status("/v1/models", "Bearer s3cret-ke"), 401);  // a prefix of the key
  EXPECT_EQ(status("/v1/models", "s3cret-key"), 401);        // not a bearer token
  EXPECT_EQ(status("/metrics", ""), 401);
  EXPECT_EQ(status("/v1/models", "Bearer s3cret-key"), 200);
  EXPECT_EQ(status("/metrics", "Bearer s3cret-key"), 200);
  EXPECT_EQ(status("/health", ""), 200);
  EXPECT_EQ(status("/", ""), 200);
  auto res = c.Post("/v1/chat/completions", R"({"messages":[{"role":"user","content":"hi"}]})", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  const json error = json::parse(res->body).at("error");
  EXPECT_EQ(error.at("type"), "authentication_error");
  EXPECT_EQ(error.at("code"), "invalid_api_key");
  keyed.stop();
  runner.join();
}

TEST_F(ServerTest, SessionStoreCapsExpiresAndKeepsSessionsInUse) {
  SessionStore store(2, std::chrono::seconds(0));
  auto [a, ea] = store.add(model_->open_session());
  auto [b, eb] = store.add(model_->open_session());
  EXPECT_NE(a, b);
  ea->last_used -= std::chrono::seconds(10);  // a is the least recently used
  eb.reset();
  // Full, and a is held by a request: b (idle) makes room.
  auto [c, ec] = store.add(model_->open_session());
  EXPECT_EQ(store.size(), 2u);
  EXPECT_NO_THROW(store.find(a));
  EXPECT_THROW(store.find(b), ApiError);
  // Both held: no room (429).
  try {
    store.add(model_->open_session());
    ADD_FAILURE() << "added beyond the cap";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 429);
  }
  // Idle expiry spares the ones in use.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(store.expire(), 0u);
  ea.reset();
  ec.reset();
  EXPECT_EQ(store.expire(), 2u);
  EXPECT_EQ(store.size(), 0u);
}

}  // namespace
}  // namespace attune::serve
