// Undoing corpus tokenisation in English text. DailyDialog, RECCON and ECF store their lines split
// into space-separated tokens ("Don ' t you know ?", "It ’ s $ 500 ."), MELD keeps typographic
// quotes and double spaces. Reply targets and voiced turns should read like written English, so the
// readers of those corpora pass every line (and every cause span) through detokenize_english().
//
//   detokenize_english("Say , Jim , how about going for a few beers after dinner ?")
//     == "Say, Jim, how about going for a few beers after dinner?"
//
// The rules (Moses-detokeniser-like, for the artefacts these corpora have; docs/data.md):
//   - typographic apostrophes and quotes become ASCII, "…" becomes "...", runs of white space
//     (line breaks too) one space, a lone backslash nothing;
//   - , . ? ! ; : % ) ] and "..." attach to the word before; ( [ $ £ # attach to the word after;
//   - contractions join: "Don ' t", "do n't", "It 's" -> "Don't", "don't", "It's";
//   - double quotes alternate between opening (attach right) and closing (attach left);
//   - "24 - hour" -> "24-hour" (a hyphen after a number);
//   - a sentence glued to the next ("Good.Let's", "there?I") gets its space back.
// Text without these artefacts comes back unchanged (apart from the first rule).
#pragma once

#include <string>
#include <string_view>

namespace attune::data {

std::string detokenize_english(std::string_view text);

}  // namespace attune::data
