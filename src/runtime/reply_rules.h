// Rules on the reply part of a turn (the text after </think>), torch-free: it may not end before a
// minimum length, it may not repeat an n-gram, repeated tokens can be penalised, and a reply the
// token budget cuts mid-sentence ends at its last full sentence (docs/runtime.md, "Reply rules").
//
//   runtime::constrain_reply(row, reply_ids, rules, stop_ids);   // before sampling each reply token
//   text = runtime::end_at_sentence(text);                        // when the budget ran out
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>

namespace attune::runtime {

struct ReplyRules {
  int64_t min_tokens = 0;         // stop ids are banned until the reply has this many tokens
  int64_t no_repeat_ngram = 0;    // no n-gram of this size twice in the reply (0: off)
  double repetition_penalty = 1;  // CTRL penalty over the reply's own tokens (1: off)
};

// Sets the logits of `ids` to -infinity (ids outside the row are ignored).
void ban_tokens(std::span<float> logits, const std::unordered_set<int32_t>& ids);

// Applies `rules` to one row of next-token logits, given the reply's tokens so far.
void constrain_reply(std::span<float> logits, std::span<const int32_t> reply_ids, const ReplyRules& rules,
                     const std::unordered_set<int32_t>& stop_ids);

// Classifier-free guidance on one row: `logits` becomes l + weight (l - u), where l and u are the
// log-softmax of `logits` and `unguided` (same size), u floored at ln 1e-9 so a token the unguided
// line rules out is not boosted without bound.
void guide_logits(std::span<float> logits, std::span<const float> unguided, double weight);

// `text` without its last sentence when that one is unfinished (tts::split_sentences' last piece,
// without final punctuation) and an earlier one is complete; otherwise `text` unchanged.
std::string end_at_sentence(std::string_view text);

}  // namespace attune::runtime
