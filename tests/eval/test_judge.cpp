// The LLM judge against a local fake OpenAI-compatible server: a good answer is read, a garbled one
// retried, one off the rubric's scale refused, a server that never answers times out; answers are
// cached (a second judge with the same cache sends nothing); the key travels as a bearer token;
// prompt templates can come from files.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "attune/error.h"
#include "eval/judge.h"
#include "support/test_support.h"

namespace attune::eval {
namespace {

class FakeJudge {
 public:
  FakeJudge() {
    server_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      ++requests;
      last_auth = req.get_header_value("Authorization");
      const auto body = nlohmann::json::parse(req.body);
      const std::string prompt = body["messages"][1]["content"];
      last_prompt = prompt;
      std::string content;
      if (prompt.find("GARBLE-ONCE") != std::string::npos && garbled_++ == 0) {
        content = "Well, I would say it is rather good.";
      } else if (prompt.find("OFF-SCALE") != std::string::npos) {
        content = R"({"accuracy_completeness": 4, "depth": 3, "added_value": 3})";
      } else if (prompt.find("SLOW") != std::string::npos) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2500));
        content = R"({"textual_empathy": 3})";
      } else if (prompt.find("HTTP-500") != std::string::npos) {
        res.status = 500;
        res.set_content("oops", "text/plain");
        return;
      } else if (prompt.find("Answer with JSON only: {\"textual_empathy\"") != std::string::npos) {
        content = "Here you go:\n```json\n{\"textual_empathy\": 4}\n```";
      } else {
        content = R"({"accuracy_completeness": 5, "depth": 3, "added_value": 1})";
      }
      res.set_content(
          nlohmann::json({{"choices", {{{"message", {{"role", "assistant"}, {"content", content}}}}}}}).dump(),
          "application/json");
    });
    port = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeJudge() {
    server_.stop();
    thread_.join();
  }
  std::atomic<int> requests{0};
  std::string last_auth, last_prompt;
  int port = 0;

 private:
  httplib::Server server_;
  std::thread thread_;
  int garbled_ = 0;
};

std::map<std::string, std::string> fields(const std::string& reply) {
  return {{"dialogue", "Turn 1 (sad): I lost my keys."},
          {"question", "How did I feel?"},
          {"reference", "sad"},
          {"reply", reply}};
}

TEST(Judge, ScoresRetriesRefusesTimesOutAndCaches) {
  FakeJudge fake;
  testing::TempDir dir;
  JudgeOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(fake.port) + "/v1";
  o.model = "fake-judge";
  o.api_key = "secret";
  o.timeout_s = 1;
  o.retries = 1;
  o.cache = dir.path() / "cache.jsonl";
  std::string why;
  {
    Judge judge(o);
    const auto t1 = judge.score("t1", fields("You felt sad."), why);
    ASSERT_TRUE(t1) << why;
    EXPECT_EQ(t1->at("accuracy_completeness"), 5);
    EXPECT_EQ(t1->at("added_value"), 1);
    EXPECT_EQ(fake.last_auth, "Bearer secret");
    EXPECT_NE(fake.last_prompt.find("System answer: You felt sad."), std::string::npos);
    EXPECT_NE(fake.last_prompt.find("Turn 1 (sad): I lost my keys."), std::string::npos);

    const auto t3 = judge.score("t3", fields("Oh no, that's awful."), why);  // JSON inside prose and a code fence
    ASSERT_TRUE(t3) << why;
    EXPECT_EQ(t3->at("textual_empathy"), 4);

    const int before = fake.requests;
    EXPECT_TRUE(judge.score("t1", fields("GARBLE-ONCE"), why));  // garbled, then fine on the retry
    EXPECT_EQ(fake.requests - before, 2);

    EXPECT_FALSE(judge.score("t1", fields("OFF-SCALE"), why));  // 4 is not on {1,3,5}
    EXPECT_NE(why.find("'accuracy_completeness' the score 4"), std::string::npos) << why;
    EXPECT_FALSE(judge.score("t1", fields("HTTP-500"), why));
    EXPECT_NE(why.find("HTTP 500"), std::string::npos) << why;
    EXPECT_FALSE(judge.score("t3", fields("SLOW"), why));  // 2.5 s > the 1 s timeout
    EXPECT_NE(why.find("judge endpoint"), std::string::npos) << why;
  }
  // The same items again: all good answers come from the cache.
  const int before = fake.requests;
  Judge again(o);
  EXPECT_TRUE(again.score("t1", fields("You felt sad."), why));
  EXPECT_TRUE(again.score("t3", fields("Oh no, that's awful."), why));
  EXPECT_EQ(fake.requests, before);
  EXPECT_EQ(again.cache_hits(), 2);

  // A template from a file replaces the built-in one.
  std::ofstream(dir.path() / "t1.txt") << "CUSTOM {reply} / {question}";
  o.prompts_dir = dir.path();
  o.cache.clear();
  Judge custom(o);
  EXPECT_TRUE(custom.score("t1", fields("hi"), why));
  EXPECT_EQ(fake.last_prompt, "CUSTOM hi / How did I feel?");
}

TEST(Judge, ReadsOnlyAnswersOnTheScale) {
  std::string why;
  const Rubric t2 = builtin_rubric("t2");
  EXPECT_TRUE(parse_judgement(R"({"information_integration": 3, "root_cause": 5, "clarity": 1})", t2, why));
  EXPECT_FALSE(parse_judgement(R"({"information_integration": 3, "root_cause": 5})", t2, why));
  EXPECT_NE(why.find("'clarity'"), std::string::npos);
  EXPECT_FALSE(parse_judgement("no json here", t2, why));
  EXPECT_FALSE(parse_judgement("{not json}", t2, why));
  EXPECT_EQ(render_prompt("{a} and {b} but {c}", {{"a", "1"}, {"b", "{a}"}}), "1 and {a} but {c}");
  EXPECT_THROW(builtin_rubric("t4"), ConfigError);
  EXPECT_THROW(Judge(JudgeOptions{.url = "ftp://x"}), ConfigError);
}

}  // namespace
}  // namespace attune::eval
