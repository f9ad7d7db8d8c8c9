// How well a thinking block names what caused the user's feeling: the words it quotes (“...” or
// "...") against the annotated cause (RECCON's cause spans, else the words of the cause turns), by
// word-level F1. Torch-free.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace attune::eval {

// The quoted spans of `text`: between “ and ”, or between a pair of ASCII double quotes.
std::vector<std::string> quoted_spans(std::string_view text);

// Word-level F1 of two texts (lower-cased ASCII letter/digit runs; every other non-space UTF-8
// character, e.g. a Chinese one, is a word of its own). 0 when either has no words.
double word_f1(std::string_view a, std::string_view b);

// The best word_f1 between any quoted span of `thinking` and any of `references`; 0 without quotes.
double cause_f1(std::string_view thinking, const std::vector<std::string>& references);

}  // namespace attune::eval
