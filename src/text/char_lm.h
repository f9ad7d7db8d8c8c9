// A character n-gram language model for decoding CTC transcripts (text/ctc_beam.h): interpolated
// Kneser-Ney (Chen & Goodman 1998, one discount per order, D_n = n1 / (n1 + 2 n2)), stored as an
// ARPA file, the format KenLM, SRILM and pyctcdecode read (log10 probabilities and backoff weights;
// gzip-compressed when the name ends in .gz). Torch-free.
//
// Symbols are single characters as text/transcript.h writes them (ctc_characters), plus "<s>"
// (only ever a context), "</s>" (the end of a sentence) and "<unk>" (any symbol not seen in training).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace attune::text {

class CharLm {
 public:
  struct TrainOptions {
    int order = 6;
    // N-grams of order >= 3 seen fewer times are left out; their probability mass goes to the
    // backoff weights, which are recomputed so that every distribution still sums to 1.
    int64_t min_count = 2;
  };
  // Learns a model from `sentences`, each a sequence of characters.
  static CharLm train(const std::vector<std::vector<std::string>>& sentences, const TrainOptions& options);
  // Reads an ARPA file; InputError naming the file and line on anything malformed.
  static CharLm load_arpa(const std::filesystem::path& path);
  // Writes the model as ARPA (atomically; gzip when the name ends in .gz).
  void save_arpa(const std::filesystem::path& path) const;

  int order() const { return order_; }
  // N-grams stored, per order (1-based: counts()[0] is the unigrams).
  std::vector<int64_t> counts() const;
  // log10 p(symbol | context): the last order() - 1 symbols of `context` are used; a context may
  // start with "<s>". An unknown symbol is scored as "<unk>".
  double log10_prob(std::span<const std::string> context, const std::string& symbol) const;

 private:
  struct Entry {
    float log10_p = 0;    // log10 p(w | h) of the n-gram h w
    float log10_bow = 0;  // log10 backoff weight of the n-gram as a context (0 when it is none)
  };
  const Entry* find(std::span<const std::string> ngram) const;

  int order_ = 0;
  std::vector<std::unordered_map<std::string, Entry>> grams_;  // per order - 1, keyed by joined symbols
};

}  // namespace attune::text
