// The wording banks of the IEAT builder (internal to ieat.cpp; the phrasings are in
// ieat_templates.cpp). Every slot holds several phrasings per language so that the model learns
// the content of a trace, not one sentence; the builder picks one with a seeded RNG.
//
// Placeholders (fmt named arguments; a phrasing uses a subset of its slot's list):
//   {feel} adverb + emotion word   {x} intensity "0.6"   {parts} vocal changes   {v} how the voice sounds
//   {path} trajectory arrows       {e} emotion word      {noun} emotion noun     {n} {a} {b} turn numbers
//   {where} who said what, when    {quote} quoted words  {problem} ESConv problem  {core} the plan
#pragma once

#include <string_view>
#include <vector>

namespace attune::data::ieat_text {

enum class Slot {
  kEmotion,                      // {feel} {x}
  kUnclear,                      // no label on this turn
  kVoiceChanged,                 // {parts}
  kVoiceSteady,                  // nothing notable
  kVoiceFirst,                   // the speaker's first voiced turn, nothing measured
  kVoiceVsCalm,                  // {parts}: a first turn measured against the speaker's calm voice
  kVoiceAbsolute,                // {v}: how a synthetic voice sounds on its own
  kWordsOnly,                    // no voice (text corpus)
  kDisagree,                     // {v}: neutral words, emotional voice
  kTrajFirst,                    // first labelled turn
  kTrajSteady,                   // {e} {n}
  kTrajChanged,                  // {path} {e} {n}
  kWhereNow,                     // the current user turn
  kWhereOwn,                     // {n}: an earlier user turn
  kWhereReply,                   // {n}: the other side's reply at turn n
  kWhereOpening,                 // what the other side said before the first turn
  kCauseQuote,                   // {where} {quote}
  kCauseSituation,               // {quote}
  kCauseProblem,                 // {problem}
  kCauseProblemSituation,        // {problem} {quote}
  kCauseUnknown,                 // non-neutral, nothing known
  kCauseNone,                    // neutral, nothing known
  kPlan,                         // {core}
  kQuestionT1,                   // the user's trajectory question
  kQuestionT2,                   // the user's cause question; may use {e}
  kThinkT1,                      // {path}
  kThinkT2,                      // {e} {noun} {n}
  kAnswerSteady,                 // {e} {a} {b}
  kAnswerFirst,                  // {e} {n}: first run of a changing trajectory (no final stop)
  kAnswerMiddle,                 // {e} {n}: a middle run, starts with a comma
  kAnswerLast,                   // {e} {n}: the last run, starts with a comma, ends the sentence
  kAnswerWhereOwn,               // {n}: the user's words at turn n (second person)
  kAnswerWhereReply,             // {n}: the assistant's reply at turn n
  kAnswerWhereOpening,           // what the assistant said before the first turn
  kAnswerCauseQuote,             // {e} {noun} {n} {where} {quote}
  kAnswerCauseSituation,         // {e} {noun} {n} {quote}
  kAnswerCauseProblem,           // {e} {noun} {n} {problem}
  kAnswerCauseProblemSituation,  // {e} {noun} {n} {problem} {quote}
  kCount
};

// The phrasings of `slot` in Chinese (zh) or English; never empty.
const std::vector<std::string_view>& phrasings(Slot slot, bool zh);

// How an emotion is named in a trace. Unknown labels get the neutral entry.
// Intensity adverbs of level 0 (< 0.35), 1 (< 0.7) or 2; none for neutral.
const std::vector<std::string_view>& intensity_adverbs(int level, bool zh);

// Plan cores ("validate the sadness, then gently ask what happened") for an emotion ("" = unclear)
// and whether its cause is known.
const std::vector<std::string_view>& plan_cores(std::string_view emotion, bool cause_known, bool zh);
// The short core used when an ESConv strategy follows ("stay gentle"), and the strategy's clause
// ("" when the strategy is unknown or "Others"). Joined by plan_join.
std::string_view plan_short(std::string_view emotion, bool zh);
std::string_view strategy_clause(std::string_view strategy, bool zh);
std::string_view plan_join(bool zh);

// The vocal changes.
enum class VoicePart { kPitchUp, kPitchUpMuch, kPitchDown, kPitchDownMuch, kFaster, kSlower, kLouder, kSofter, kShaky };
std::string_view voice_part(VoicePart part, bool zh);

}  // namespace attune::data::ieat_text
