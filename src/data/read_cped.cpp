// CPED (valid_split.csv only; Chinese TV dialogues): one utterance per row with Speaker, Emotion,
// Dialogue_ID, Utterance. The file starts with a UTF-8 BOM. Multi-party like MELD; the one file is
// split by hash of the dialogue id.
#include "data/reader_util.h"
#include "data/readers.h"

namespace attune::data::detail {

std::vector<Dialogue> read_cped(ReadContext& ctx) {
  const fs::path path = ctx.file("text", "valid_split.csv");
  auto dialogues = read_multiparty_csv(ctx, path, {"Dialogue_ID", "Speaker", "Utterance", "Emotion"}, "",
                                       [&](const std::string& id) { return hash_split(id) == ctx.split; });
  for (Dialogue& d : dialogues) d.lang = "zh";
  return dialogues;
}

}  // namespace attune::data::detail
