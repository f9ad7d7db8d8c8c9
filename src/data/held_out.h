// Keeping validation text out of training. Several corpora share dialogues (RECCON is annotated
// DailyDialog, ECF is annotated MELD) and their splits disagree, so a train build drops every
// dialogue whose lines appear in any corpus's validation split; otherwise scores on the validation
// splits would be measured on training data. docs/data.md ("Held-out overlap") has the counts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>

#include "data/dialogue.h"

namespace attune::data {

// Sentences shorter than this (after normalisation) are too common to identify a dialogue ("yes").
inline constexpr size_t kMinOverlapLine = 24;

// Lower-case ASCII letters and digits, and every non-ASCII byte (Chinese text); the rest dropped, so
// tokenisation and punctuation differences between copies of a corpus do not matter.
std::string normalise_line(std::string_view text);

class HeldOutLines {
 public:
  // Remembers the long lines (sentences of user turns and responses) of a held-out dialogue.
  void add(const Dialogue& dialogue);
  // True when at least two of the dialogue's long lines, and at least 30 % of them, are held out.
  bool overlaps(const Dialogue& dialogue) const;
  size_t size() const { return lines_.size(); }

 private:
  std::unordered_set<uint64_t> lines_;  // stable hashes of normalised lines
};

}  // namespace attune::data
