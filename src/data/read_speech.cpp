// Speech corpora (RAVDESS, EmoDB) from metadata.csv: one single-turn dialogue per clip, the clip's
// transcript as the user's text and the recording as its audio; the split is the suggested_split
// column (RAVDESS actors 19-20, EmoDB speakers 03 and 08 are valid).
#include "attune/error.h"
#include "data/csv.h"
#include "data/reader_util.h"

namespace attune::data::detail {

std::vector<Dialogue> read_speech(ReadContext& ctx) {
  const bool ravdess = ctx.corpus == "ravdess";
  const fs::path path = ctx.file("speech", "metadata.csv");
  const std::string file = path.string();
  const fs::path dir = fs::absolute(path.parent_path()).lexically_normal();
  const CsvTable table = read_csv(path);
  const char* text_col = ravdess ? "text" : "text_de";
  const char* speaker_col = ravdess ? "actor" : "speaker";
  for (const char* name : {"file", "gender", "emotion", "suggested_split", text_col, speaker_col}) {
    if (table.column(name) < 0) throw InputError(file, std::string("no column '") + name + "' in the header");
  }
  const int c_file = table.column("file"), c_gender = table.column("gender"), c_emotion = table.column("emotion"),
            c_split = table.column("suggested_split"), c_text = table.column(text_col),
            c_speaker = table.column(speaker_col), c_intensity = table.column("intensity");

  std::vector<Dialogue> out;
  for (const CsvRecord& rec : table.rows) {
    if (!rec.error.empty() || rec.fields.size() != table.header.size()) {
      ctx.report({file, rec.line, ""}, rec.error.empty() ? "wrong number of fields (row skipped)" : rec.error,
                 "malformed line");
      continue;
    }
    const auto& f = rec.fields;
    if (f[c_split] != ctx.split) continue;
    const std::string stem = fs::path(f[c_file]).stem().string();
    const Where at{file, rec.line, stem};
    const fs::path audio = (dir / f[c_file]).lexically_normal();
    if (!fs::is_regular_file(audio)) {
      ctx.report(at, "audio file " + audio.string() + " is missing (clip skipped)", "missing audio");
      continue;
    }
    Utterance u;
    u.text = f[c_text];
    if (!ctx.check_text(u.text, at, "transcript")) continue;
    ctx.set_label(u, f[c_emotion], at);

    Turn t;
    t.turn_id = 1;
    t.text = u.text;
    t.emotion = u.emotion;
    t.source_emotion = u.source_emotion;
    // RAVDESS acts each emotion at two levels; neutral has one and no strength to speak of. EmoDB's
    // listener recognition rate says how recognisable a clip is, not how strong: no intensity.
    if (ravdess && c_intensity >= 0 && !t.emotion.empty() && t.emotion != "neutral") {
      if (f[c_intensity] == "normal") t.intensity = 0.5;
      if (f[c_intensity] == "strong") t.intensity = 0.9;
    }
    t.split_audio_file = audio.string();
    std::string speaker = f[c_speaker];
    if (ravdess && speaker.size() == 1) speaker = "0" + speaker;
    t.voice = VoiceInfo{};
    t.voice->source = "recorded";
    t.voice->speaker = ctx.corpus + (ravdess ? "_actor_" : "_speaker_") + speaker;
    t.voice->gender = f[c_gender] == "male" || f[c_gender] == "female" ? f[c_gender] : "";

    Dialogue d;
    d.dialogue_id = ctx.unique_id(stem, at);
    d.lang = ravdess ? "en" : "de";
    d.turns.push_back(std::move(t));
    d.meta.corpus = ctx.corpus;
    d.meta.source_id = stem;
    d.meta.split = ctx.split;
    d.meta.user_speaker = d.turns[0].voice->speaker;
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace attune::data::detail
