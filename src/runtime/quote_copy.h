// The thinking's cause quote is a copy of the user's words. IEAT traces quote the words a feeling
// comes from ("It goes back to what they said: \"...\""); a small model hallucinates the quote, so
// while a quote is open the decoder may only extend it along a span of the dialogue's user turns
// (their typed words, and on request what the encoder's CTC head heard) or close it after two whole
// words. The model still chooses which span and where it ends. Torch-free (docs/runtime.md, "Quoting").
//
//   runtime::QuoteCopy quotes(tokenizer);       // once per model: a table of the vocabulary's pieces
//   runtime::QuoteCopy session = quotes;        // copies share the table, each keeps its own sources
//   session.add_source(user_text);              // each user turn, as it arrives
//   quotes.constrain(row, thinking_bytes);      // before sampling each thinking token
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace attune::text {
class Tokenizer;
}

namespace attune::runtime {

class QuoteCopy {
 public:
  explicit QuoteCopy(const text::Tokenizer& tokenizer);  // no sources yet

  // A turn's words. A quote copies their case, except that its first letter may be either case;
  // runs of white space match one space (a quote writes it as ' '), typographic apostrophes match '.
  void add_source(std::string_view words);
  bool has_sources() const { return !sources_.empty(); }
  void clear_sources() {
    sources_.clear();
    source_ends_.clear();
  }

  // Where a quote comes from is learnt data too: log_prior[a] is the log-probability that a cause
  // quote copies the user turn a turns back (0: the newest source; the last entry stands for all
  // older ones), as measured on the training traces (`attune data stats`). Inside a quote each
  // allowed token gains weight x log_prior of the newest source it continues. Empty (default): none.
  void set_source_prior(std::vector<float> log_prior, float weight);
  // And how long it runs: hazard[i] is the probability that a quote of i + 2 words ends there, given
  // that it reached them (the last entry stands for all longer ones), from the same traces. Where an
  // open quote could close, closing gains weight x ln hazard and going on weight x ln (1 - hazard)
  // (each clamped to [0.01, 0.99]). Empty (default): none.
  void set_length_hazard(std::vector<float> hazard, float weight);

  // Sets to -infinity every logit of `row` whose token would make the quote open at the end of
  // `thinking` (the thinking's bytes so far; a quote is open after an odd number of '"') something
  // other than a span of a source (a second space in a row is not), or close it before two words or
  // inside a word. Tokens that neither open nor
  // continue a quote are untouched; so is the row when there are no sources. At least one token stays
  // allowed whenever a quote is open.
  void constrain(std::span<float> row, std::string_view thinking) const;

  // Whether `piece` may follow `thinking` (the test behind constrain).
  bool allows(std::string_view thinking, std::string_view piece) const;

 private:
  std::vector<size_t> occurrences(std::string_view content) const;  // where sources_ holds the quote
  bool is_span(std::string_view content) const;
  bool ends_a_word(std::string_view content) const;
  float source_bonus(size_t at) const;  // weight x log prior of the source holding sources_[at]
  struct Pieces {
    std::vector<std::string> bytes;  // each id's bytes
    std::vector<int32_t> quote_ids;  // ids whose bytes hold a '"'
    // The other ids by their text as a quote matches it (white space as ' ').
    std::unordered_map<std::string, std::vector<int32_t>> by_text;
    size_t longest = 0;
  };
  std::shared_ptr<const Pieces> pieces_;  // the vocabulary's, shared by copies
  std::string sources_;                   // normalised turns, each followed by '\n'
  std::vector<size_t> source_ends_;       // where each turn's '\n' is in sources_
  std::vector<float> prior_;              // weight x log prior by age (set_source_prior)
  // weight x ln hazard and x ln (1 - hazard) by words (set_length_hazard)
  std::vector<std::pair<float, float>> length_bonus_;
};

}  // namespace attune::runtime
