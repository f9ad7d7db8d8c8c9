// Transcripts as the speech encoder's CTC head writes them (model/encoder_heads.h): the character
// normalisation both training targets and scoring use, the CTC alphabet, and error rates. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace attune::text {

// The characters CTC transcribes for `text`: lower-cased (ASCII and Latin-1 letters), letters,
// digits and apostrophes kept, every other run of characters one space, trimmed. One UTF-8
// character per entry.
std::vector<std::string> ctc_characters(std::string_view text);

// Characters seen at least `min_count` times over `transcripts` (ctc_characters of each), most
// frequent first, ties in byte order.
std::vector<std::string> build_ctc_alphabet(const std::vector<std::vector<std::string>>& transcripts,
                                            int64_t min_count);

// Levenshtein distance between two character sequences (substitutions, insertions, deletions).
int64_t edit_distance(const std::vector<std::string>& a, const std::vector<std::string>& b);

// Character and word error rates of hypotheses against references, both normalised by
// ctc_characters (words: its space-separated runs), summed over every pair added.
struct TranscriptErrors {
  int64_t char_edits = 0, reference_chars = 0;
  int64_t word_edits = 0, reference_words = 0;
  void add(std::string_view hypothesis, std::string_view reference);
  double cer() const;  // 0 when nothing was added
  double wer() const;
};

}  // namespace attune::text
