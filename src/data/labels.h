// Emotion label normalisation: every corpus label onto HumDial's seven (happy, sad, anger, fear,
// neutral, surprise, disgust). The full table (every source label, misspellings included) is in
// docs/data.md and is this file's kLabelMap; tests check both agree.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "affect/emotions.h"

namespace attune::data {

// HumDial's seven labels (affect/emotions.h), used unqualified all over data/.
using affect::emotion_index;
using affect::emotion_labels;

struct LabelMapping {
  std::string source;  // the corpus label, lower case
  std::string target;  // one of emotion_labels(), or "" when the label is dropped
  std::string note;    // why (for the documentation table), e.g. "misspelling in RECCON"
};

// The table for `corpus` ("reccon", "ecf", "meld", "esconv", "empatheticdialogues", "cped",
// "dailydialog", "emocontext", "ravdess", "emodb").
const std::vector<LabelMapping>& label_table(std::string_view corpus);

// The normalised label of `source` (case and surrounding space ignored) in `corpus`: a label,
// "" for a label the table drops on purpose, std::nullopt for one it does not know.
std::optional<std::string> normalise_emotion(std::string_view corpus, std::string_view source);

// True when a corpus label says the words are emotionally neutral: it normalises to "neutral", or,
// for a corpus without a table, it is one of the common spellings (neutral, no emotion, none, calm).
bool words_read_neutral(std::string_view corpus, std::string_view source);

}  // namespace attune::data
