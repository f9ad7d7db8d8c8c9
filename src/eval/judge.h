// An LLM judge behind any OpenAI-compatible chat endpoint, with rubric prompts written for attune
// that follow HumDial Track I's dimensions and scales: T1 accuracy/completeness, depth and added
// value on {1,3,5}; T2 information integration, root cause and clarity on {1,3,5}; T3 textual
// empathy on 1-5. Answers are cached (a JSONL file keyed by model and prompt), retried when the
// endpoint fails or answers something that is not the asked-for JSON, and reported per item when
// they never come. Prompt templates can be loaded from files (t1.txt, t2.txt, t3.txt), e.g. the
// official ones, with the placeholders {dialogue}, {question}, {reference}, {reply}.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace attune::eval {

struct JudgeOptions {
  std::string url;      // http(s)://host:port/v1 (or .../v1/chat/completions)
  std::string model;    // the judge model's name
  std::string api_key;  // sent as a bearer token when not empty
  int timeout_s = 60;
  int retries = 2;                    // further tries after a failure or a garbled answer
  std::filesystem::path cache;        // JSONL of earlier answers ("" = no cache)
  std::filesystem::path prompts_dir;  // t1.txt / t2.txt / t3.txt replace the built-in templates
};

struct Rubric {
  std::vector<std::string> dimensions;
  std::vector<int> allowed;  // the scores a dimension may take
  std::string prompt;        // with {dialogue}, {question}, {reference}, {reply}
};

// The built-in rubric of "t1", "t2" or "t3".
Rubric builtin_rubric(const std::string& task);

// Replaces every {name} of `fields` in `prompt`.
std::string render_prompt(const std::string& prompt, const std::map<std::string, std::string>& fields);

// Reads the scores out of a judge's answer: the first JSON object in it, every dimension present
// with an allowed value. nullopt and `why` otherwise.
std::optional<std::map<std::string, double>> parse_judgement(const std::string& answer, const Rubric& rubric,
                                                             std::string& why);

class Judge {
 public:
  explicit Judge(JudgeOptions options);
  ~Judge();

  // Scores one item of `task`; nullopt with `why` after the retries are spent.
  std::optional<std::map<std::string, double>> score(const std::string& task,
                                                     const std::map<std::string, std::string>& fields,
                                                     std::string& why);
  int requests() const;    // HTTP requests sent
  int cache_hits() const;  // items answered from the cache

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace attune::eval
