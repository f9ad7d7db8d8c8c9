#include "eval/judge.h"

#include <fmt/format.h>
#include <httplib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "attune/error.h"
#include "common/file_util.h"

namespace fs = std::filesystem;

namespace attune::eval {
namespace {

constexpr const char* kSystem =
    "You are a careful, strict evaluator of an emotionally intelligent spoken dialogue system. Judge only what "
    "the system's answer says, against the conversation and the reference. Reply with the JSON object asked "
    "for and nothing else.";

constexpr const char* kT1 =
    R"(The user had a spoken conversation with the system. Each user turn is listed with the emotion annotators heard in the user's voice.

{dialogue}

The user then asked: {question}
Reference answer (from the annotations): {reference}
System answer: {reply}

Score the system answer on three dimensions, each 1, 3 or 5:
- accuracy_completeness: 5 = names every annotated emotion, in order, with the right turns, and no emotion that was not annotated (neutral counts; renaming counts as wrong); 3 = partly right (some emotions missing, misplaced or extra); 1 = wrong, missing or off-topic.
- depth: 5 = explains how and why the feeling moved between turns; 3 = lists the changes without explaining; 1 = no account of change.
- added_value: 5 = adds a helpful, caring reflection beyond restating the facts; 3 = some; 1 = none.

Answer with JSON only: {"accuracy_completeness": n, "depth": n, "added_value": n})";

constexpr const char* kT2 =
    R"(The user had a spoken conversation with the system. Each user turn is listed with the emotion annotators heard and, where annotated, its cause.

{dialogue}

The user then asked: {question}
Reference answer (from the annotations): {reference}
System answer: {reply}

Score the system answer on three dimensions, each 1, 3 or 5:
- information_integration: 5 = draws on the right turns of the conversation and ties them together; 3 = uses some of what was said; 1 = ignores the conversation.
- root_cause: 5 = identifies the annotated cause (the event or turn that brought the feeling about); 3 = close or partial; 1 = wrong or none.
- clarity: 5 = clear, direct and well organised; 3 = understandable with effort; 1 = confusing.

Answer with JSON only: {"information_integration": n, "root_cause": n, "clarity": n})";

constexpr const char* kT3 =
    R"(The user had a spoken conversation with the system. Each user turn is listed with the emotion annotators heard in the user's voice.

{dialogue}

The system's reply to the last user turn: {reply}
(For comparison, a reference reply: {reference})

Score textual_empathy from 1 to 5: 5 = recognises the user's feeling and its cause, responds warmly and appropriately, and helps the conversation go on; 4 = empathetic with small lapses; 3 = polite but generic; 2 = misreads or brushes off the feeling; 1 = inappropriate, cold or incoherent.

Answer with JSON only: {"textual_empathy": n})";

// FNV-1a 64: a stable cache key across builds and machines.
std::string fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

}  // namespace

Rubric builtin_rubric(const std::string& task) {
  if (task == "t1") return {{"accuracy_completeness", "depth", "added_value"}, {1, 3, 5}, kT1};
  if (task == "t2") return {{"information_integration", "root_cause", "clarity"}, {1, 3, 5}, kT2};
  if (task == "t3") return {{"textual_empathy"}, {1, 2, 3, 4, 5}, kT3};
  throw ConfigError(fmt::format("no judge rubric for task '{}'; expected t1, t2 or t3", task));
}

std::string render_prompt(const std::string& prompt, const std::map<std::string, std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < prompt.size();) {
    bool replaced = false;
    if (prompt[i] == '{') {
      const size_t close = prompt.find('}', i);
      if (close != std::string::npos) {
        auto it = fields.find(prompt.substr(i + 1, close - i - 1));
        if (it != fields.end()) {
          out += it->second;
          i = close + 1;
          replaced = true;
        }
      }
    }
    if (!replaced) out += prompt[i++];
  }
  return out;
}

std::optional<std::map<std::string, double>> parse_judgement(const std::string& answer, const Rubric& rubric,
                                                             std::string& why) {
  const size_t open = answer.find('{');
  const size_t close = answer.rfind('}');
  if (open == std::string::npos || close == std::string::npos || close < open) {
    why = "the judge's answer holds no JSON object";
    return std::nullopt;
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(answer.substr(open, close - open + 1));
  } catch (const nlohmann::json::exception&) {
    why = "the judge's answer is not valid JSON";
    return std::nullopt;
  }
  std::map<std::string, double> scores;
  for (const std::string& d : rubric.dimensions) {
    if (!j.is_object() || !j.contains(d) || !j[d].is_number()) {
      why = fmt::format("the judge's answer has no number for '{}'", d);
      return std::nullopt;
    }
    const double v = j[d].get<double>();
    if (std::find(rubric.allowed.begin(), rubric.allowed.end(), v) == rubric.allowed.end()) {
      why = fmt::format("the judge gave '{}' the score {}, which the scale does not have", d, v);
      return std::nullopt;
    }
    scores[d] = v;
  }
  return scores;
}

struct Judge::Impl {
  JudgeOptions options;
  std::string host, path;
  std::map<std::string, std::map<std::string, double>> cache;
  std::ofstream cache_out;
  int requests = 0, hits = 0;
};

Judge::Judge(JudgeOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.options = std::move(options);
  const std::string& url = m.options.url;
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos || (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0))
    throw ConfigError(fmt::format("judge url '{}': expected http(s)://host[:port]/v1", url));
  const size_t slash = url.find('/', scheme + 3);
  m.host = url.substr(0, slash);
  m.path = slash == std::string::npos ? "/v1" : url.substr(slash);
  while (!m.path.empty() && m.path.back() == '/') m.path.pop_back();
  if (m.path.size() < 17 || m.path.compare(m.path.size() - 17, 17, "/chat/completions") != 0)
    m.path += "/chat/completions";
  if (!m.options.cache.empty()) {
    std::ifstream in(m.options.cache);
    for (std::string line; std::getline(in, line);) {
      try {  // a line cut short by a crash is skipped
        const auto j = nlohmann::json::parse(line);
        m.cache[j.at("key").get<std::string>()] = j.at("scores").get<std::map<std::string, double>>();
      } catch (const std::exception&) {
      }
    }
    if (m.options.cache.has_parent_path()) fs::create_directories(m.options.cache.parent_path());
    m.cache_out.open(m.options.cache, std::ios::app);
  }
}

Judge::~Judge() = default;
int Judge::requests() const { return impl_->requests; }
int Judge::cache_hits() const { return impl_->hits; }

std::optional<std::map<std::string, double>> Judge::score(const std::string& task,
                                                          const std::map<std::string, std::string>& fields,
                                                          std::string& why) {
  Impl& m = *impl_;
  Rubric rubric = builtin_rubric(task);
  if (!m.options.prompts_dir.empty() && fs::exists(m.options.prompts_dir / (task + ".txt")))
    rubric.prompt = common::read_file(m.options.prompts_dir / (task + ".txt"));
  const std::string prompt = render_prompt(rubric.prompt, fields);
  const std::string key = fnv1a(m.options.model + "\n" + prompt);
  if (auto it = m.cache.find(key); it != m.cache.end()) {
    ++m.hits;
    return it->second;
  }
  const nlohmann::json body = {
      {"model", m.options.model},
      {"temperature", 0},
      {"messages", {{{"role", "system"}, {"content", kSystem}}, {{"role", "user"}, {"content", prompt}}}}};
  httplib::Client client(m.host);
  client.set_connection_timeout(m.options.timeout_s);
  client.set_read_timeout(m.options.timeout_s);
  client.set_write_timeout(m.options.timeout_s);
  httplib::Headers headers;
  if (!m.options.api_key.empty()) headers.emplace("Authorization", "Bearer " + m.options.api_key);
  for (int attempt = 0; attempt <= m.options.retries; ++attempt) {
    if (attempt) std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
    ++m.requests;
    auto res = client.Post(m.path, headers, body.dump(), "application/json");
    if (!res) {
      why = fmt::format("judge endpoint {}{}: {}", m.host, m.path, httplib::to_string(res.error()));
      continue;
    }
    if (res->status != 200) {
      why = fmt::format("judge endpoint answered HTTP {}: {}", res->status, res->body.substr(0, 200));
      continue;
    }
    std::string content;
    try {
      content = nlohmann::json::parse(res->body).at("choices").at(0).at("message").at("content").get<std::string>();
    } catch (const std::exception&) {
      why = "the judge endpoint's answer is not a chat completion";
      continue;
    }
    if (auto scores = parse_judgement(content, rubric, why)) {
      m.cache[key] = *scores;
      if (m.cache_out.is_open()) m.cache_out << nlohmann::json({{"key", key}, {"scores", *scores}}).dump() << std::endl;
      return scores;
    }
  }
  return std::nullopt;
}

}  // namespace attune::eval
