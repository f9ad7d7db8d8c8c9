#include "data/labels.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace attune::data {

namespace {

using Table = std::vector<LabelMapping>;

// Every label found in the shipped files (scanned with python; counts in docs/data.md), plus a few
// variant spellings not in this copy, so a fuller copy reads cleanly. Keep docs/data.md in step: a
// test compares the two.
const std::map<std::string, Table, std::less<>>& tables() {
  static const Table kFriends = {{"neutral", "neutral", ""}, {"joy", "happy", ""},   {"surprise", "surprise", ""},
                                 {"anger", "anger", ""},     {"sadness", "sad", ""}, {"disgust", "disgust", ""},
                                 {"fear", "fear", ""}};
  static const std::map<std::string, Table, std::less<>> kTables = {
      {"humdial",
       {{"happy", "happy", ""},
        {"sad", "sad", ""},
        {"anger", "anger", ""},
        {"fear", "fear", ""},
        {"neutral", "neutral", ""},
        {"surprise", "surprise", ""},
        {"disgust", "disgust", ""}}},
      {"reccon",
       {{"neutral", "neutral", ""},
        {"happiness", "happy", ""},
        {"surprise", "surprise", ""},
        {"anger", "anger", ""},
        {"sadness", "sad", ""},
        {"disgust", "disgust", ""},
        {"fear", "fear", ""},
        {"happy", "happy", "variant spelling"},
        {"happines", "happy", "misspelling (not in this copy)"},
        {"excited", "happy", "outside RECCON's scheme; excitement is high-arousal joy"},
        {"sad", "sad", "variant spelling"},
        {"surprised", "surprise", "variant spelling"},
        {"angry", "anger", "variant spelling"},
        {"disgusted", "disgust", "variant spelling (not in this copy)"},
        {"fearful", "fear", "variant spelling (not in this copy)"}}},
      // ECF and MELD share the Friends label set.
      {"ecf", kFriends},
      {"meld", kFriends},
      // The seeker's emotion for the whole conversation.
      {"esconv",
       {{"anxiety", "fear", "anxious worry about what may happen"},
        {"depression", "sad", ""},
        {"sadness", "sad", ""},
        {"anger", "anger", ""},
        {"fear", "fear", ""},
        {"disgust", "disgust", ""},
        {"shame", "sad", "self-directed, low-arousal negative; no shame class (disgust is other-directed)"},
        {"nervousness", "fear", ""},
        {"guilt", "sad", "self-directed, low-arousal negative"},
        {"jealousy", "anger", "resentment towards another person"},
        {"pain", "sad", "emotional pain in the one conversation that has it"}}},
      // The 32 situation emotions; the speaker's feeling about the situation, not a momentary state.
      {"empatheticdialogues",
       {{"surprised", "surprise", ""},
        {"excited", "happy", ""},
        {"joyful", "happy", ""},
        {"proud", "happy", ""},
        {"grateful", "happy", ""},
        {"content", "happy", ""},
        {"hopeful", "happy", "positive expectation"},
        {"impressed", "happy", "positive admiration (could be surprise; the stories are mostly approving)"},
        {"confident", "happy", ""},
        {"caring", "happy", "warm, positive tone"},
        {"anticipating", "happy", "looking forward to an event, mostly a good one"},
        {"trusting", "neutral", "calm, no marked emotion in the voice"},
        {"faithful", "neutral", "calm, no marked emotion in the voice"},
        {"prepared", "neutral", "calm readiness"},
        {"sad", "sad", ""},
        {"lonely", "sad", ""},
        {"devastated", "sad", ""},
        {"disappointed", "sad", ""},
        {"nostalgic", "sad", "wistful, low arousal (bittersweet at best)"},
        {"sentimental", "sad", "wistful, low arousal"},
        {"guilty", "sad", "self-directed, low-arousal negative"},
        {"ashamed", "sad", "self-directed, low-arousal negative; disgust is other-directed"},
        {"embarrassed", "sad", "self-conscious, low-arousal negative"},
        {"angry", "anger", ""},
        {"furious", "anger", ""},
        {"annoyed", "anger", "mild anger"},
        {"jealous", "anger", "resentment towards another person"},
        {"terrified", "fear", ""},
        {"afraid", "fear", ""},
        {"anxious", "fear", ""},
        {"apprehensive", "fear", ""},
        {"disgusted", "disgust", ""}}},
      // CPED names its 13 labels in English in the CSV.
      {"cped",
       {{"neutral", "neutral", ""},
        {"happy", "happy", ""},
        {"grateful", "happy", ""},
        {"positive-other", "happy", "an unspecified positive emotion; happy is the only positive class"},
        {"relaxed", "neutral", "calm, low arousal (as RAVDESS calm)"},
        {"anger", "anger", ""},
        {"depress", "sad", ""},
        {"sadness", "sad", ""},
        {"worried", "fear", ""},
        {"fear", "fear", ""},
        {"disgust", "disgust", ""},
        {"astonished", "surprise", ""},
        {"negative-other", "", "dropped: an unspecified negative emotion fits none of the negative classes"}}},
      {"dailydialog",
       {{"no_emotion", "neutral", ""},
        {"happiness", "happy", ""},
        {"surprise", "surprise", ""},
        {"sadness", "sad", ""},
        {"anger", "anger", ""},
        {"disgust", "disgust", ""},
        {"fear", "fear", ""}}},
      // The label of the final user turn.
      {"emocontext",
       {{"happy", "happy", ""},
        {"sad", "sad", ""},
        {"angry", "anger", ""},
        {"others", "neutral",
         "\"none of happy, sad, angry\": mostly neutral chit-chat, though it can hide other emotions"}}},
      {"ravdess",
       {{"neutral", "neutral", ""},
        {"calm", "neutral", "low-arousal, no marked emotion; kept as neutral rather than dropped"},
        {"happy", "happy", ""},
        {"sad", "sad", ""},
        {"angry", "anger", ""},
        {"fearful", "fear", ""},
        {"disgust", "disgust", ""},
        {"surprised", "surprise", ""}}},
      // metadata.csv gives the English names of the file-name codes (W L E A F T N).
      {"emodb",
       {{"anger", "anger", ""},
        {"boredom", "", "dropped: no boredom class (DATA README)"},
        {"disgust", "disgust", ""},
        {"fear", "fear", ""},
        {"happiness", "happy", ""},
        {"sadness", "sad", ""},
        {"neutral", "neutral", ""}}},
  };
  return kTables;
}

std::string lower_trimmed(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  std::string out(s.substr(b, e - b));
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

const std::vector<LabelMapping>& label_table(std::string_view corpus) {
  static const Table kEmpty;
  auto it = tables().find(corpus);
  return it == tables().end() ? kEmpty : it->second;
}

std::optional<std::string> normalise_emotion(std::string_view corpus, std::string_view source) {
  const std::string key = lower_trimmed(source);
  for (const LabelMapping& m : label_table(corpus)) {
    if (m.source == key) return m.target;
  }
  return std::nullopt;
}

bool words_read_neutral(std::string_view corpus, std::string_view source) {
  if (auto label = normalise_emotion(corpus, source)) return *label == "neutral";
  const std::string key = lower_trimmed(source);
  return key == "neutral" || key == "no emotion" || key == "no_emotion" || key == "none" || key == "calm";
}

}  // namespace attune::data
