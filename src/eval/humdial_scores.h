// The objective (judge-free) checks of HumDial Track I, on text: which emotions a reply names, which
// turns it points at, set precision/recall/F1, distinct-n, and which turn T3 grades. Torch-free.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "data/dialogue.h"

namespace attune::eval {

// The labels whose words a text uses ("You sounded angry, then calmer" -> {anger, neutral}):
// English words standing alone (angry, furious, scared, calm, ...), Chinese words anywhere.
std::set<std::string> named_emotions(std::string_view text);

// Turn numbers a text points at: "turn 3", "turns 2 and 4" (the first), "第3轮".
std::set<int> mentioned_turns(std::string_view text);

struct SetScore {
  double precision = 0, recall = 0, f1 = 0;
};
// Both empty: 1, 1, 1 (nothing to find, nothing claimed).
SetScore set_score(const std::set<int>& predicted, const std::set<int>& reference);

// HumDial's T1 rule: the emotions named must be exactly the annotated ones (neutral included; no
// renaming, no extras).
bool same_emotions(const std::set<std::string>& named, const std::set<std::string>& annotated);

// Words separated by spaces, tabs or line breaks.
size_t word_count(std::string_view text);

// Distinct n-grams over all n-grams of the texts' words (lower-cased), 0 with no n-grams.
double distinct_n(const std::vector<std::string>& texts, int n);

// Does a reply acknowledge the feeling: it names an emotion, or uses an empathy phrase ("sorry",
// "sounds like", "must be", "I understand", "glad", "难过", "理解", ...)?
bool acknowledges_emotion(std::string_view reply);

// Index into d.turns of the turn T3 grades: the second user turn (an ordinary one, task "") whose
// emotion is not neutral; -1 when there is none.
int graded_turn(const data::Dialogue& d);

}  // namespace attune::eval
