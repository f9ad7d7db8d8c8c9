// Sentence splitting for streaming synthesis, English and Chinese punctuation, and the small text
// checks every back end needs (is there anything to pronounce, clean up control bytes).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace attune::tts {

inline constexpr size_t kMaxSentenceBytes = 400;

// Splits UTF-8 text into sentences, each trimmed and keeping its final punctuation and closing quotes.
// Boundaries: Chinese 。！？； and … end a sentence wherever they stand; English . ! ? (and runs of
// them, "?!", "...") end one only when followed by white space or the end, and a "." does not when
// the next word starts in lower case ("e.g. this"), after a single letter ("J. Smith") or after a
// known abbreviation ("Dr.", "Mr.", "etc."). A blank line ends a paragraph and so a sentence.
// Pieces with nothing to pronounce (a lone "--") join the sentence before them. A sentence longer
// than `max_bytes` is cut at its last clause mark (, ; : ， ； ： 、) or space before the limit, or
// at a character boundary, so streaming never waits on one huge piece. Never throws.
std::vector<std::string> split_sentences(std::string_view text, size_t max_bytes = kMaxSentenceBytes);

// True when `text` has something to pronounce: a letter or digit (any script). Punctuation,
// symbols and white space alone are not.
bool has_speakable_text(std::string_view text);

// Replaces control characters (other than tab and newline) and invalid UTF-8 bytes with spaces, so
// what reaches a back end is well-formed text.
std::string clean_text(std::string_view text);

}  // namespace attune::tts
