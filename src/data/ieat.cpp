// The IEAT builder: thinking blocks, reply styles and the HumDial T1/T2 question turns
// (docs/ieat.md). The wording lives in ieat_templates.cpp; this file decides what to say.
#include "data/ieat.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <tuple>

#include "affect/emotions.h"
#include "affect/speech_style.h"
#include "affect/trace.h"
#include "attune/error.h"
#include "data/ieat_templates.h"
#include "data/labels.h"

namespace attune::data {
namespace {

using ieat_text::Slot;
using ieat_text::VoicePart;

// ---- determinism ------------------------------------------------------------------------------

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

// One stream per (seed, dialogue, turn); every slot draws independently from it, so that which
// sentences a trace contains never shifts the wording of the others.
struct Picker {
  uint64_t base;
  Picker(uint64_t seed, std::string_view dialogue_id, uint64_t turn)
      : base(splitmix64(seed ^ splitmix64(fnv1a(dialogue_id) ^ splitmix64(turn + 0x51ED27ull)))) {}
  size_t index(uint64_t salt, size_t n) const { return n == 0 ? 0 : splitmix64(base ^ splitmix64(salt)) % n; }
  std::string_view slot(Slot s, bool zh, uint64_t extra = 0) const {
    const auto& options = ieat_text::phrasings(s, zh);
    return options[index((static_cast<uint64_t>(s) + 1) * 1000003ull + extra, options.size())];
  }
};

constexpr uint64_t kQuestionSalt = 0x7155A11Dull;  // the question choice of a dialogue

// ---- small text helpers -----------------------------------------------------------------------

bool is_zh(std::string_view lang) { return lang.substr(0, 2) == "zh"; }

struct Args {
  std::string feel, x, parts, v, path, e, noun, n, a, b, where, quote, problem, core;
};

std::string fill(std::string_view tpl, const Args& a) {
  return fmt::format(fmt::runtime(tpl), fmt::arg("feel", a.feel), fmt::arg("x", a.x), fmt::arg("parts", a.parts),
                     fmt::arg("v", a.v), fmt::arg("path", a.path), fmt::arg("e", a.e), fmt::arg("noun", a.noun),
                     fmt::arg("n", a.n), fmt::arg("a", a.a), fmt::arg("b", a.b), fmt::arg("where", a.where),
                     fmt::arg("quote", a.quote), fmt::arg("problem", a.problem), fmt::arg("core", a.core));
}

// Whitespace runs (newlines included: the style line must stay the only last line) become one space.
std::string squash(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
    } else {
      if (space) out += ' ';
      space = false;
      out += c;
    }
  }
  return out;
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// A quote short enough for a 40-90 word trace: 14 words (English) or 30 characters (Chinese),
// without the trailing stop that the template adds itself.
std::string clip_quote(std::string_view raw, bool zh) {
  std::string s = squash(raw);
  std::replace(s.begin(), s.end(), '"', '\'');  // the template puts the quote marks
  static constexpr std::string_view kStops[] = {".", ",", ";", ":", "。", "，", "；", "："};
  for (bool trimmed = true; trimmed && !s.empty();) {
    trimmed = false;
    for (auto stop : kStops) {
      if (s.size() >= stop.size() && s.compare(s.size() - stop.size(), stop.size(), stop) == 0) {
        s.resize(s.size() - stop.size());
        while (!s.empty() && s.back() == ' ') s.pop_back();
        trimmed = true;
      }
    }
  }
  if (zh) {
    constexpr size_t kMaxChars = 30;
    if (utf8_length(s) <= kMaxChars) return s;
    size_t chars = 0, i = 0;
    for (; i < s.size(); ++i) {
      if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && chars++ == kMaxChars) break;
    }
    return s.substr(0, i) + "……";
  }
  constexpr size_t kMaxWords = 14;
  size_t words = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == ' ' && ++words == kMaxWords) return s.substr(0, i) + "...";
  }
  return s;
}

std::string lower(std::string_view s) {
  std::string out;
  for (char c : s) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string join_list(const std::vector<std::string>& items, bool zh) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += zh ? "，" : (i + 1 == items.size() ? " and " : ", ");
    out += items[i];
  }
  return out;
}

std::string number(double x, int decimals) { return fmt::format("{:.{}f}", x, decimals); }

// ---- labels -----------------------------------------------------------------------------------

void check_labels(const Dialogue& d) {
  for (const auto& t : d.turns) {
    if (!t.emotion.empty() && !affect::is_emotion_label(t.emotion)) {
      std::string expected;
      for (const auto& l : affect::emotion_labels()) expected += (expected.empty() ? "" : ", ") + l;
      throw InputError(fmt::format("IEAT: dialogue '{}' turn {}: emotion '{}' is not one of {}", d.dialogue_id,
                                   t.turn_id, t.emotion, expected));
    }
  }
}

bool is_question(const Turn& t) { return t.task == "t1" || t.task == "t2"; }

const Turn* find_turn(const Dialogue& d, int turn_id) {
  for (const auto& t : d.turns) {
    if (t.turn_id == turn_id && !is_question(t)) return &t;
  }
  return nullptr;
}

std::string feel_phrase(std::string_view emotion, double intensity, bool zh, const Picker& pick) {
  const auto& words = affect::emotion_words(emotion, zh);
  if (emotion == "neutral") return std::string(words.adjective);
  const int level = intensity < 0.35 ? 0 : (intensity < 0.7 ? 1 : 2);
  const auto& adverbs = ieat_text::intensity_adverbs(level, zh);
  const auto adverb = adverbs[pick.index(0xADFull, adverbs.size())];
  return fmt::format("{}{}{}", adverb, zh ? "" : " ", words.adjective);
}

// ---- voice ------------------------------------------------------------------------------------

bool has_measurements(const VoiceInfo& v) {
  return v.pitch_delta_st || v.rate_ratio || v.loudness_delta_db || v.jitter_ratio;
}

std::vector<VoicePart> voice_parts(const VoiceInfo& v) {
  using T = VoiceThresholds;
  std::vector<VoicePart> parts;
  if (v.pitch_delta_st && std::abs(*v.pitch_delta_st) >= T::kPitchSt) {
    const bool much = std::abs(*v.pitch_delta_st) >= 2 * T::kPitchSt;
    parts.push_back(*v.pitch_delta_st > 0 ? (much ? VoicePart::kPitchUpMuch : VoicePart::kPitchUp)
                                          : (much ? VoicePart::kPitchDownMuch : VoicePart::kPitchDown));
  }
  if (v.rate_ratio && *v.rate_ratio > T::kRateHigh) parts.push_back(VoicePart::kFaster);
  if (v.rate_ratio && *v.rate_ratio < T::kRateLow) parts.push_back(VoicePart::kSlower);
  if (v.loudness_delta_db && *v.loudness_delta_db >= T::kLoudnessDb) parts.push_back(VoicePart::kLouder);
  if (v.loudness_delta_db && *v.loudness_delta_db <= -T::kLoudnessDb) parts.push_back(VoicePart::kSofter);
  if (v.jitter_ratio && *v.jitter_ratio >= T::kJitter) parts.push_back(VoicePart::kShaky);
  return parts;
}

std::string parts_text(const std::vector<VoicePart>& parts, bool zh) {
  std::vector<std::string> words;
  for (auto p : parts) words.emplace_back(ieat_text::voice_part(p, zh));
  return join_list(words, zh);
}

// True when no earlier (non-question) turn of the dialogue has a voice of the same speaker.
bool first_voiced_turn(const Dialogue& d, size_t index) {
  const auto& voice = d.turns[index].voice;
  if (!voice) return false;
  for (size_t j = 0; j < index; ++j) {
    const auto& t = d.turns[j];
    if (!is_question(t) && t.voice && t.voice->speaker == voice->speaker) return false;
  }
  return true;
}

// The vocal evidence sentence(s), or "" when there is nothing to say.
std::string voice_sentences(const Dialogue& d, size_t index, bool zh, const Picker& pick) {
  const Turn& turn = d.turns[index];
  Args args;
  if (!turn.voice) return fill(pick.slot(Slot::kWordsOnly, zh), args);
  const VoiceInfo& v = *turn.voice;
  const bool first = first_voiced_turn(d, index);
  const auto parts = voice_parts(v);
  args.parts = parts_text(parts, zh);
  std::string out;
  const auto add = [&](Slot slot) { out += (out.empty() || zh ? "" : " ") + fill(pick.slot(slot, zh), args); };
  if (words_and_voice_disagree(turn, d.meta.corpus)) {
    args.v = std::string(affect::emotion_words(turn.emotion, zh).voice);
    add(Slot::kDisagree);
    if (!first && !parts.empty()) add(Slot::kVoiceChanged);
    return out;
  }
  // A synthetic voice's own style is what it sounds like when there is nothing to compare with.
  const bool absolute =
      v.source == "synthetic" && affect::is_emotion_label(v.style_emotion) && v.style_emotion != "neutral";
  args.v = std::string(affect::emotion_words(v.style_emotion, zh).voice);
  if (first && has_measurements(v) && !parts.empty()) {
    // The voicing stage measures a first turn against the speaker's calm voice (docs/data.md).
    add(Slot::kVoiceVsCalm);
  } else if (first) {
    add(Slot::kVoiceFirst);
    if (absolute) add(Slot::kVoiceAbsolute);
  } else if (!has_measurements(v)) {
    if (absolute) add(Slot::kVoiceAbsolute);
  } else {
    add(parts.empty() ? Slot::kVoiceSteady : Slot::kVoiceChanged);
  }
  return out;
}

// ---- trajectory -------------------------------------------------------------------------------

std::string arrow_path(const std::vector<EmotionRun>& runs, bool zh, size_t max_runs) {
  std::string out;
  const size_t start = runs.size() > max_runs ? runs.size() - max_runs : 0;
  const std::string_view arrow = zh ? " → " : " -> ";
  if (start > 0) out += std::string(zh ? "……" : "...") + std::string(arrow);
  for (size_t i = start; i < runs.size(); ++i) {
    if (i > start) out += arrow;
    out += affect::emotion_words(runs[i].emotion, zh).adjective;
  }
  return out;
}

std::string trajectory_sentence(const Dialogue& d, size_t index, bool zh, const Picker& pick) {
  const auto runs = emotion_runs(d, index + 1);
  if (runs.empty()) return "";
  const EmotionRun& last = runs.back();
  Args args;
  args.e = std::string(affect::emotion_words(last.emotion, zh).adjective);
  args.n = std::to_string(last.first_turn);
  if (runs.size() == 1 && last.first_turn == last.last_turn) return fill(pick.slot(Slot::kTrajFirst, zh), args);
  if (runs.size() == 1) return fill(pick.slot(Slot::kTrajSteady, zh), args);
  args.path = arrow_path(runs, zh, 4);
  return fill(pick.slot(Slot::kTrajChanged, zh), args);
}

// ---- cause ------------------------------------------------------------------------------------

bool has_cause(const Turn& t) {
  const bool span =
      std::any_of(t.cause_span.begin(), t.cause_span.end(), [](const std::string& s) { return !squash(s).empty(); });
  return span || !t.cause_turns.empty() || !t.cause_response_turns.empty();
}

// Where a cause span was said: 0 in turn `index` itself, 1 in an earlier user turn, 2 elsewhere (the
// other side's words, the opening, or not found).
int span_rank(const Dialogue& d, size_t index, std::string_view span) {
  const std::string needle = lower(squash(span));
  auto holds = [&](const Turn& t) { return lower(squash(t.text)).find(needle) != std::string::npos; };
  if (holds(d.turns[index])) return 0;
  for (size_t j = 0; j < index; ++j) {
    if (holds(d.turns[j])) return 1;
  }
  return 2;
}

struct CauseRef {
  enum Kind { kOwn, kReply, kOpening } kind;
  int turn = 0;
};

struct Cause {
  enum class Kind { kNone, kTurns, kSituation, kProblem, kProblemSituation } kind = Kind::kNone;
  std::vector<CauseRef> refs;  // kTurns: at most two
  std::string quote;           // kTurns: the span(s) or the words of the first ref; else the situation
  std::string problem;
};

// The cause of dialogue.turns[index]'s emotion: its own annotation; else (non-neutral) the
// annotation of an earlier turn of the same run; else (non-neutral) the dialogue's situation or
// problem.
Cause find_cause(const Dialogue& d, size_t index, bool zh) {
  const Turn& turn = d.turns[index];
  const bool emotional = !turn.emotion.empty() && turn.emotion != "neutral";
  const Turn* annotated = has_cause(turn) ? &turn : nullptr;
  for (size_t j = index; emotional && !annotated && j-- > 0;) {
    const Turn& t = d.turns[j];
    if (is_question(t) || t.emotion.empty()) continue;
    if (t.emotion != turn.emotion) break;
    if (has_cause(t)) annotated = &t;
  }
  Cause cause;
  if (annotated) {
    // The other side's words first (the most common trigger), then earlier own words, then the turn itself.
    std::vector<CauseRef> refs;
    for (int r : annotated->cause_response_turns) {
      if (r == 0 && !d.meta.opening.empty()) refs.push_back({CauseRef::kOpening, 0});
      if (r > 0 && r < annotated->turn_id && find_turn(d, r)) refs.push_back({CauseRef::kReply, r});
    }
    for (int t : annotated->cause_turns) {
      if (t > 0 && t < annotated->turn_id && find_turn(d, t)) refs.push_back({CauseRef::kOwn, t});
    }
    const bool self = std::find(annotated->cause_turns.begin(), annotated->cause_turns.end(), annotated->turn_id) !=
                      annotated->cause_turns.end();
    if (self || refs.empty()) refs.push_back({CauseRef::kOwn, annotated->turn_id});
    auto same = [](const CauseRef& a, const CauseRef& b) { return a.kind == b.kind && a.turn == b.turn; };
    refs.erase(std::unique(refs.begin(), refs.end(), same), refs.end());
    if (refs.size() > 2) refs.resize(2);

    // The user's own words first: the spoken runtime can only copy what the user said
    // (runtime::QuoteCopy), and RECCON lists its spans in turn order, the other side's often first.
    std::vector<std::pair<int, std::string>> ranked;
    for (const auto& s : annotated->cause_span) {
      if (!squash(s).empty()) ranked.emplace_back(span_rank(d, index, s), s);
    }
    std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> spans;
    for (const auto& [rank, s] : ranked) {
      if (spans.size() < 2) spans.push_back(clip_quote(s, zh));
    }
    std::string quote;
    if (!spans.empty()) {
      quote = spans[0];
      if (spans.size() > 1) quote += (zh ? "”和“" : "\" and \"") + spans[1];
    } else if (const CauseRef& first = refs.front(); first.kind == CauseRef::kOpening) {
      quote = clip_quote(d.meta.opening, zh);
    } else if (const Turn* t = find_turn(d, first.turn)) {
      quote = clip_quote(first.kind == CauseRef::kOwn ? t->text : t->response_text, zh);
    }
    if (!quote.empty()) {
      cause.kind = Cause::Kind::kTurns;
      cause.refs = std::move(refs);
      cause.quote = std::move(quote);
      return cause;
    }
  }
  if (!emotional) return cause;
  const std::string situation = clip_quote(d.meta.situation, zh);
  std::string problem = squash(d.meta.problem);
  if (!zh) problem = lower(problem);
  if (!situation.empty() && !problem.empty()) {
    cause.kind = Cause::Kind::kProblemSituation;
  } else if (!situation.empty()) {
    cause.kind = Cause::Kind::kSituation;
  } else if (!problem.empty()) {
    cause.kind = Cause::Kind::kProblem;
  }
  cause.quote = situation;
  cause.problem = problem;
  return cause;
}

// "what they said at turn 2 and my reply at turn 2" (thinking) or "what you said at turn 2" (answers).
std::string where_text(const std::vector<CauseRef>& refs, int current_turn, bool zh, bool answer, const Picker& pick) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < refs.size(); ++i) {
    const CauseRef& r = refs[i];
    Slot slot = Slot::kWhereOpening;
    if (r.kind == CauseRef::kOwn) {
      slot = answer ? Slot::kAnswerWhereOwn : (r.turn == current_turn ? Slot::kWhereNow : Slot::kWhereOwn);
    } else if (r.kind == CauseRef::kReply) {
      slot = answer ? Slot::kAnswerWhereReply : Slot::kWhereReply;
    } else if (answer) {
      slot = Slot::kAnswerWhereOpening;
    }
    Args args;
    args.n = std::to_string(r.turn);
    parts.push_back(fill(pick.slot(slot, zh, i), args));
  }
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i == 0 ? "" : (zh ? "和" : " and ")) + parts[i];
  return out;
}

std::string cause_sentence(const Dialogue& d, size_t index, const Cause& cause, bool zh, const Picker& pick) {
  const Turn& turn = d.turns[index];
  Args args;
  args.quote = cause.quote;
  args.problem = cause.problem;
  switch (cause.kind) {
    case Cause::Kind::kTurns:
      args.where = where_text(cause.refs, turn.turn_id, zh, false, pick);
      return fill(pick.slot(Slot::kCauseQuote, zh), args);
    case Cause::Kind::kSituation:
      return fill(pick.slot(Slot::kCauseSituation, zh), args);
    case Cause::Kind::kProblem:
      return fill(pick.slot(Slot::kCauseProblem, zh), args);
    case Cause::Kind::kProblemSituation:
      return fill(pick.slot(Slot::kCauseProblemSituation, zh), args);
    case Cause::Kind::kNone:
      break;
  }
  if (turn.emotion.empty()) return "";  // nothing to explain
  return fill(pick.slot(turn.emotion == "neutral" ? Slot::kCauseNone : Slot::kCauseUnknown, zh), args);
}

std::string plan_sentence(const Turn& turn, bool cause_known, bool zh, const Picker& pick) {
  Args args;
  const auto clause = ieat_text::strategy_clause(turn.strategy, zh);
  if (!clause.empty()) {
    args.core = fmt::format("{}{}{}", ieat_text::plan_short(turn.emotion, zh), ieat_text::plan_join(zh), clause);
  } else {
    const auto& cores = ieat_text::plan_cores(turn.emotion, cause_known, zh);
    args.core = std::string(cores[pick.index(0xC0DEull, cores.size())]);
  }
  return fill(pick.slot(Slot::kPlan, zh), args);
}

// ---- T1 / T2 ----------------------------------------------------------------------------------

struct T2Target {
  size_t index = 0;
  Cause cause;
};

// The most salient non-neutral turn whose cause is known: a turn-level cause beats the dialogue's
// situation, then the higher intensity, then the later turn.
std::optional<T2Target> t2_target(const Dialogue& d, bool zh) {
  std::optional<T2Target> best;
  std::tuple<int, double, size_t> best_key{-1, 0.0, 0};
  for (size_t i = 0; i < d.turns.size(); ++i) {
    const Turn& t = d.turns[i];
    if (is_question(t) || t.emotion.empty() || t.emotion == "neutral") continue;
    Cause cause = find_cause(d, i, zh);
    if (cause.kind == Cause::Kind::kNone) continue;
    const std::tuple<int, double, size_t> key{cause.kind == Cause::Kind::kTurns ? 1 : 0, turn_intensity(t), i};
    if (key >= best_key) {
      best_key = key;
      best = T2Target{i, std::move(cause)};
    }
  }
  return best;
}

std::string t1_answer(const std::vector<EmotionRun>& runs, bool zh, const Picker& pick) {
  Args args;
  const auto set = [&](const EmotionRun& r) {
    args.e = std::string(affect::emotion_words(r.emotion, zh).adjective);
    args.n = std::to_string(r.first_turn);
  };
  if (runs.size() == 1) {
    set(runs[0]);
    args.a = std::to_string(runs[0].first_turn);
    args.b = std::to_string(runs[0].last_turn);
    return fill(pick.slot(Slot::kAnswerSteady, zh), args);
  }
  set(runs[0]);
  std::string out = fill(pick.slot(Slot::kAnswerFirst, zh), args);
  for (size_t i = 1; i + 1 < runs.size(); ++i) {
    set(runs[i]);
    out += fill(pick.slot(Slot::kAnswerMiddle, zh, i), args);
  }
  set(runs.back());
  return out + fill(pick.slot(Slot::kAnswerLast, zh), args);
}

std::string t2_answer(const Dialogue& d, const T2Target& target, bool zh, const Picker& pick) {
  const Turn& t = d.turns[target.index];
  const auto& words = affect::emotion_words(t.emotion, zh);
  Args args;
  args.e = std::string(words.adjective);
  args.noun = std::string(words.noun);
  args.n = std::to_string(t.turn_id);
  args.quote = target.cause.quote;
  args.problem = target.cause.problem;
  switch (target.cause.kind) {
    case Cause::Kind::kTurns:
      args.where = where_text(target.cause.refs, t.turn_id, zh, true, pick);
      return fill(pick.slot(Slot::kAnswerCauseQuote, zh), args);
    case Cause::Kind::kSituation:
      return fill(pick.slot(Slot::kAnswerCauseSituation, zh), args);
    case Cause::Kind::kProblem:
      return fill(pick.slot(Slot::kAnswerCauseProblem, zh), args);
    case Cause::Kind::kProblemSituation:
    case Cause::Kind::kNone:
      break;
  }
  return fill(pick.slot(Slot::kAnswerCauseProblemSituation, zh), args);
}

std::string question_thinking(const Dialogue& d, const Turn& turn, bool zh, const Picker& pick) {
  Args args;
  if (turn.task == "t2") {
    if (auto target = t2_target(d, zh)) {
      const Turn& t = d.turns[target->index];
      const auto& words = affect::emotion_words(t.emotion, zh);
      args.e = std::string(words.adjective);
      args.noun = std::string(words.noun);
      args.n = std::to_string(t.turn_id);
      return fill(pick.slot(Slot::kThinkT2, zh), args);
    }
  }
  args.path = trajectory_text(emotion_runs(d, d.turns.size()), zh ? "zh" : "en");
  return fill(pick.slot(Slot::kThinkT1, zh), args);
}

std::string full_thinking(const Dialogue& d, size_t index, const IeatOptions& options) {
  const Turn& turn = d.turns[index];
  const bool zh = is_zh(d.lang);
  const Picker pick(options.seed, d.dialogue_id, index);
  if (is_question(turn)) return question_thinking(d, turn, zh, pick);

  std::vector<std::string> sentences;
  Args args;
  if (turn.emotion.empty()) {
    sentences.push_back(fill(pick.slot(Slot::kUnclear, zh), args));
  } else {
    const double intensity = turn_intensity(turn);
    args.feel = feel_phrase(turn.emotion, intensity, zh, pick);
    args.x = number(intensity, 1);
    sentences.push_back(fill(pick.slot(Slot::kEmotion, zh), args));
  }
  sentences.push_back(voice_sentences(d, index, zh, pick));
  sentences.push_back(trajectory_sentence(d, index, zh, pick));
  const Cause cause = find_cause(d, index, zh);
  sentences.push_back(cause_sentence(d, index, cause, zh, pick));
  sentences.push_back(plan_sentence(turn, cause.kind != Cause::Kind::kNone, zh, pick));

  std::string out;
  for (const auto& s : sentences) {
    if (!s.empty()) out += (out.empty() || zh ? "" : " ") + s;
  }
  return out;
}

}  // namespace

ThinkingMode parse_thinking_mode(std::string_view name) {
  if (name == "none") return ThinkingMode::kNone;
  if (name == "label") return ThinkingMode::kLabel;
  if (name == "full") return ThinkingMode::kFull;
  throw ConfigError(fmt::format("thinking mode '{}': expected none, label or full", name));
}

std::string_view to_string(ThinkingMode mode) {
  switch (mode) {
    case ThinkingMode::kNone:
      return "none";
    case ThinkingMode::kLabel:
      return "label";
    case ThinkingMode::kFull:
      return "full";
  }
  return "full";
}

double turn_intensity(const Turn& turn) {
  if (turn.intensity && std::isfinite(*turn.intensity)) return std::clamp(*turn.intensity, 0.0, 1.0);
  return turn.emotion == "neutral" ? 0.2 : 0.6;
}

bool words_and_voice_disagree(const Turn& turn, std::string_view corpus) {
  if (!turn.voice || turn.voice->source != "synthetic") return false;
  if (turn.emotion.empty() || turn.emotion == "neutral" || turn.voice->style_emotion != turn.emotion) return false;
  return !turn.source_emotion.empty() && words_read_neutral(corpus, turn.source_emotion);
}

std::string describe_voice(const Turn& turn, std::string_view lang, const Dialogue* dialogue) {
  const bool zh = is_zh(lang);
  std::vector<std::string> parts;
  const auto& v = turn.voice;
  if (v && v->gender == "female") parts.emplace_back(zh ? "女声" : "female voice");
  if (v && v->gender == "male") parts.emplace_back(zh ? "男声" : "male voice");
  if (!turn.emotion.empty()) {
    const std::string x = number(turn_intensity(turn), 1);
    parts.push_back(zh ? fmt::format("{}（{}）", affect::emotion_word(turn.emotion, lang), x)
                       : fmt::format("{} ({})", affect::emotion_word(turn.emotion, lang), x));
  }
  if (v) {
    bool first = false;
    if (dialogue) {
      for (size_t i = 0; i < dialogue->turns.size(); ++i) {
        if (&dialogue->turns[i] == &turn) first = first_voiced_turn(*dialogue, i);
      }
    }
    const auto changes = has_measurements(*v) ? voice_parts(*v) : std::vector<VoicePart>{};
    if (first && changes.empty()) {
      parts.emplace_back(zh ? "第一轮" : "first turn");
    } else if (has_measurements(*v)) {
      // A first turn is measured against the speaker's calm voice, later ones against earlier turns.
      const char* than = first ? (zh ? "比平静时" : " than when calm") : (zh ? "比之前" : " than before");
      for (auto p : changes) {
        switch (p) {
          case VoicePart::kPitchUp:
          case VoicePart::kPitchUpMuch:
            parts.push_back(zh ? fmt::format("音调{}高", than) : fmt::format("higher pitch{}", than));
            break;
          case VoicePart::kPitchDown:
          case VoicePart::kPitchDownMuch:
            parts.push_back(zh ? fmt::format("音调{}低", than) : fmt::format("lower pitch{}", than));
            break;
          case VoicePart::kFaster:
            parts.emplace_back(zh ? "语速更快" : "faster");
            break;
          case VoicePart::kSlower:
            parts.emplace_back(zh ? "语速更慢" : "slower");
            break;
          case VoicePart::kLouder:
            parts.emplace_back(zh ? "声音更响" : "louder");
            break;
          case VoicePart::kSofter:
            parts.emplace_back(zh ? "声音更轻" : "softer");
            break;
          case VoicePart::kShaky:
            parts.emplace_back(zh ? "声音发颤" : "shaky");
            break;
        }
      }
      if (changes.empty()) parts.emplace_back(zh ? "平稳" : "steady");
    }
    if (words_and_voice_disagree(turn, dialogue ? std::string_view(dialogue->meta.corpus) : std::string_view())) {
      parts.emplace_back(zh ? "字面平静" : "the words alone sound calm");
    }
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : (zh ? "，" : ", ")) + p;
  return out;
}

void add_describe_targets(Dialogue& dialogue) {
  const bool zh = is_zh(dialogue.lang);
  for (Turn& t : dialogue.turns) {
    if (t.split_audio_file.empty() || !t.response_text.empty() || !t.task.empty()) continue;
    t.task = "describe";
    const std::string voice = describe_voice(t, dialogue.lang, &dialogue);
    t.response_text = zh ? fmt::format("你说的是：“{}”。我听到的是{}。", t.text, voice)
                         : fmt::format("You said: \"{}\" I hear {}.", t.text, voice.empty() ? "a voice" : voice);
  }
}

void add_to_runs(std::vector<EmotionRun>& runs, std::string_view emotion, int turn_id) {
  if (emotion.empty()) return;
  if (!runs.empty() && runs.back().emotion == emotion) {
    runs.back().last_turn = turn_id;
  } else {
    runs.push_back({std::string(emotion), turn_id, turn_id});
  }
}

std::vector<EmotionRun> emotion_runs(const Dialogue& dialogue, size_t end) {
  std::vector<EmotionRun> runs;
  end = std::min(end, dialogue.turns.size());
  for (size_t i = 0; i < end; ++i) {
    const Turn& t = dialogue.turns[i];
    if (!is_question(t)) add_to_runs(runs, t.emotion, t.turn_id);
  }
  return runs;
}

std::string trajectory_text(const std::vector<EmotionRun>& runs, std::string_view lang) {
  const bool zh = is_zh(lang);
  std::string out;
  for (const auto& r : runs) {
    if (!out.empty()) out += zh ? " → " : " -> ";
    const std::string word = affect::emotion_word(r.emotion, lang);
    if (zh) {
      out += r.first_turn == r.last_turn ? fmt::format("{}（第{}轮）", word, r.first_turn)
                                         : fmt::format("{}（第{}-{}轮）", word, r.first_turn, r.last_turn);
    } else {
      out += r.first_turn == r.last_turn ? fmt::format("{} (turn {})", word, r.first_turn)
                                         : fmt::format("{} (turns {}-{})", word, r.first_turn, r.last_turn);
    }
  }
  return out;
}

std::vector<std::string> trace_quotes(std::string_view thinking) {
  std::vector<std::string> quotes;
  for (size_t open = thinking.find('"'); open != std::string_view::npos;) {
    const size_t close = thinking.find('"', open + 1);
    if (close == std::string_view::npos) break;
    quotes.emplace_back(thinking.substr(open + 1, close - open - 1));
    open = thinking.find('"', close + 1);
  }
  return quotes;
}

std::string build_thinking(const Dialogue& dialogue, size_t index, const IeatOptions& options) {
  if (index >= dialogue.turns.size()) {
    throw Error(fmt::format("IEAT: dialogue '{}' has no turn at index {}", dialogue.dialogue_id, index));
  }
  check_labels(dialogue);
  const Turn& turn = dialogue.turns[index];
  if (options.mode == ThinkingMode::kNone) return "";
  const std::string style = affect::style_line(affect::empathic_style(turn.emotion, turn_intensity(turn)));
  if (options.mode == ThinkingMode::kLabel) {
    const bool zh = is_zh(dialogue.lang);
    const std::string word =
        turn.emotion.empty() ? (zh ? "不确定" : "unclear") : affect::emotion_word(turn.emotion, dialogue.lang);
    return word + "\n" + style;
  }
  return full_thinking(dialogue, index, options) + "\n" + style;
}

std::vector<Turn> question_turns(const Dialogue& dialogue, const IeatOptions& options) {
  check_labels(dialogue);
  const bool zh = is_zh(dialogue.lang);
  const auto runs = emotion_runs(dialogue, dialogue.turns.size());
  size_t labelled = 0;
  for (const auto& t : dialogue.turns) labelled += !is_question(t) && !t.emotion.empty();
  if (labelled < 2) return {};
  const auto target = t2_target(dialogue, zh);

  const Picker choice(options.seed ^ kQuestionSalt, dialogue.dialogue_id, 0);
  std::vector<std::string> tasks = {"t1"};
  if (target) {
    const size_t r = choice.index(1, 5);  // 2/5 T1, 2/5 T2, 1/5 both
    tasks = r < 2 ? std::vector<std::string>{"t1"}
                  : (r < 4 ? std::vector<std::string>{"t2"} : std::vector<std::string>{"t1", "t2"});
  }

  Dialogue extended = dialogue;
  int next_id = dialogue.turns.empty() ? 1 : dialogue.turns.back().turn_id + 1;
  std::vector<size_t> added;
  for (const auto& task : tasks) {
    const size_t index = extended.turns.size();
    const Picker pick(options.seed, dialogue.dialogue_id, index);
    Turn q;
    q.turn_id = next_id++;
    q.task = task;
    q.emotion = runs.back().emotion;
    Args args;
    if (task == "t1") {
      q.text = fill(pick.slot(Slot::kQuestionT1, zh), args);
      q.response_text = t1_answer(runs, zh, pick);
    } else {
      args.e = std::string(affect::emotion_words(dialogue.turns[target->index].emotion, zh).adjective);
      q.text = fill(pick.slot(Slot::kQuestionT2, zh), args);
      q.response_text = t2_answer(dialogue, *target, zh, pick);
    }
    extended.turns.push_back(std::move(q));
    added.push_back(index);
  }
  std::vector<Turn> out;
  for (size_t index : added) {
    Turn& q = extended.turns[index];
    q.thinking = build_thinking(extended, index, options);
    q.response_style = affect::empathic_style(q.emotion, turn_intensity(q));
    out.push_back(q);
  }
  return out;
}

void add_thinking(Dialogue& dialogue, const IeatOptions& options) {
  check_labels(dialogue);
  bool has_questions = false;
  for (size_t i = 0; i < dialogue.turns.size(); ++i) {
    Turn& t = dialogue.turns[i];
    has_questions = has_questions || is_question(t);
    if (t.response_text.empty()) {
      t.thinking.clear();
      t.response_style.reset();
      continue;
    }
    t.thinking = build_thinking(dialogue, i, options);
    t.response_style = affect::empathic_style(t.emotion, turn_intensity(t));
  }
  if (options.add_questions && !has_questions) {
    for (auto& q : question_turns(dialogue, options)) dialogue.turns.push_back(std::move(q));
  }
}

}  // namespace attune::data
