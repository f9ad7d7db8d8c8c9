#include "data/held_out.h"

#include "common/random.h"
#include "tts/sentences.h"

namespace attune::data {
namespace {

// Sentences rather than turns: readers join consecutive lines of one side into a turn, and
// different copies of a corpus join differently. A leading "Name: " (multi-party responses) is
// dropped for the same reason.
template <typename Fn>
void for_each_long_line(const Dialogue& d, Fn&& fn) {
  for (const Turn& t : d.turns) {
    for (const std::string* text : {&t.text, &t.response_text}) {
      for (std::string_view sentence : tts::split_sentences(*text)) {
        const size_t colon = sentence.find(": ");
        if (colon != std::string_view::npos && colon <= 30) sentence.remove_prefix(colon + 2);
        std::string line = normalise_line(sentence);
        if (line.size() >= kMinOverlapLine) fn(common::stable_hash(line));
      }
    }
  }
}

}  // namespace

std::string normalise_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) {
      out += static_cast<char>(c);
    } else if (c >= 'A' && c <= 'Z') {
      out += static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

void HeldOutLines::add(const Dialogue& dialogue) {
  for_each_long_line(dialogue, [&](uint64_t h) { lines_.insert(h); });
}

bool HeldOutLines::overlaps(const Dialogue& dialogue) const {
  size_t total = 0, held = 0;
  for_each_long_line(dialogue, [&](uint64_t h) {
    ++total;
    held += lines_.count(h);
  });
  return held >= 2 && 10 * held >= 3 * total;
}

}  // namespace attune::data
