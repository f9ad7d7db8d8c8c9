#include "data/voicing.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "affect/speech_style.h"
#include "attune/error.h"
#include "audio/audio_file.h"
#include "audio/prosody.h"
#include "common/random.h"
#include "common/stats.h"
#include "data/labels.h"
#include "tts/talker.h"

namespace fs = std::filesystem;

namespace attune::data {
namespace {

// Emotions a neutral-worded turn may be spoken with. Disgust is left out: espeak-ng's rendering
// of it is hard to tell from anger, which would teach the model a label it cannot hear.
const std::vector<std::string> kMismatchEmotions = {"anger", "sad", "happy", "fear", "surprise"};

// Said once per synthetic speaker in a neutral voice: the reference a first turn is compared with.
constexpr const char* kReferenceEn = "I am calling about the order I placed last week; it should arrive on Monday.";
constexpr const char* kReferenceZh = "我想问一下上周订的东西，应该星期一就能到。";

double default_intensity(const std::string& emotion) { return emotion == "neutral" || emotion.empty() ? 0.0 : 0.6; }

VoiceMeasure measure(const AudioBuffer& audio) {
  audio::ProsodyOptions options;
  options.spectral = options.hnr = false;  // not used by the evidence; a third of the analysis time
  audio::Prosody p = audio::analyse_prosody(audio.samples, audio.sample_rate, options);
  auto finite = [](double v) { return std::isfinite(v) ? v : 0.0; };
  return {finite(p.get("f0_p50_hz")), finite(p.get("speaking_rate_syl_per_s")), finite(p.get("loudness_db")),
          finite(p.get("jitter_local_pct"))};
}

bool is_neutral_words(const Dialogue& d, const Turn& t) {
  // A turn without a corpus label but labelled neutral (e.g. HumDial input) counts as neutral words.
  return t.emotion == "neutral" && (t.source_emotion.empty() || words_read_neutral(d.meta.corpus, t.source_emotion));
}

}  // namespace

void VoicingOptions::validate() const {
  if (!(mismatch_rate >= 0 && mismatch_rate <= 1)) {
    throw ConfigError(fmt::format("voicing: mismatch_rate = {:g}; expected a share in [0, 1]", mismatch_rate));
  }
  if (!(flite_share >= 0 && flite_share <= 1)) {
    throw ConfigError(fmt::format("voicing: flite_share = {:g}; expected a share in [0, 1]", flite_share));
  }
  if (augment) augment_ranges.validate();
}

std::optional<VoiceMeasure> median_measure(const std::vector<VoiceMeasure>& measures) {
  if (measures.empty()) return std::nullopt;
  std::vector<double> f0, rate, loud, jitter;
  for (const VoiceMeasure& m : measures) {
    if (m.f0_hz > 0) {
      f0.push_back(m.f0_hz);
      jitter.push_back(m.jitter_pct);
    }
    rate.push_back(m.rate_syl_s);
    loud.push_back(m.loudness_db);
  }
  VoiceMeasure out;
  out.f0_hz = f0.empty() ? 0 : common::median(f0);
  out.jitter_pct = jitter.empty() ? 0 : common::median(jitter);
  out.rate_syl_s = common::median(rate);
  out.loudness_db = common::median(loud);
  return out;
}

fs::path resolve_audio(const fs::path& base_dir, const std::string& file) {
  fs::path p(file);
  return p.is_absolute() ? p : base_dir / p;
}

Voicer::Voicer(VoicingOptions options, fs::path out_dir) : options_(std::move(options)), out_dir_(std::move(out_dir)) {
  options_.validate();
  if (!options_.synthesize) return;
  talker_ = tts::make_talker(options_.backend);
  std::error_code ec;
  fs::create_directories(out_dir_ / "audio", ec);
  if (ec) throw IoError((out_dir_ / "audio").string() + ": cannot create directory: " + ec.message());
}

Voicer::~Voicer() = default;

DialogueMeasures Voicer::voice(Dialogue& d, const fs::path& audio_base, Diagnostics& diag, bool measure_turns) {
  DialogueMeasures out;
  out.turns.resize(d.turns.size());
  const bool can_speak = d.lang == "en" || d.lang == "zh";
  // Each dialogue starts from a fresh synthesiser, so its audio never depends on which dialogues
  // this worker happened to voice before (builds stay byte-identical for a seed).
  if (talker_) talker_->reset();
  common::SeededRng rng(options_.seed, d.dialogue_id);
  std::optional<tts::Voice> voice;
  auto speaker = [&]() -> const tts::Voice& {
    if (!voice) {
      const bool flite = options_.flite_share > 0 && d.lang == "en" && rng.chance(options_.flite_share);
      voice = tts::random_voice(rng.next(), d.lang, rng.chance(0.5) ? "female" : "male", flite ? "flite" : "espeak");
    }
    return *voice;
  };

  for (size_t i = 0; i < d.turns.size(); ++i) {
    Turn& t = d.turns[i];
    const std::string where = d.dialogue_id + " turn " + std::to_string(t.turn_id);
    if (!t.split_audio_file.empty()) {
      if (!measure_turns) continue;
      fs::path path = resolve_audio(audio_base, t.split_audio_file);
      try {
        out.turns[i] = measure(audio::load_mono(path));
      } catch (const Error& e) {
        diag.report(path.string(), 0, where + ": " + e.what() + "; the turn stays without audio", "unreadable audio");
        t.split_audio_file.clear();
      }
      continue;
    }
    if (t.text.empty() || !options_.synthesize) continue;
    if (!measure_turns && t.task != "t1" && t.task != "t2") continue;  // the first pass said why it has none
    if (!can_speak) {
      diag.report(d.meta.corpus, 0, where + ": no synthetic voice for language '" + d.lang + "'", "unvoiced language");
      continue;
    }
    const tts::Voice& v = speaker();
    std::string emotion = t.emotion.empty() ? "neutral" : t.emotion;
    double intensity = t.intensity.value_or(default_intensity(emotion));
    if (t.task.empty() && is_neutral_words(d, t) && rng.chance(options_.mismatch_rate)) {
      emotion = kMismatchEmotions[rng.below(kMismatchEmotions.size())];
      intensity = rng.uniform(0.6, 0.9);
      t.emotion = emotion;
      t.intensity = intensity;
    }
    tts::SpeechStyle style = affect::emotion_style(emotion, std::clamp(intensity, 0.0, 1.0));
    // Per-turn variation, so the same emotion is never rendered twice the same way.
    style.pitch_semitones = std::clamp(style.pitch_semitones + rng.uniform(-0.5, 0.5), -12.0, 12.0);
    style.rate = std::clamp(style.rate * rng.uniform(0.95, 1.05), 0.5, 2.0);
    AudioBuffer audio = talker_->synthesize(t.text, style, v);
    if (audio.frames() == 0) {
      diag.report(d.meta.corpus, 0, where + ": text has nothing to pronounce: '" + t.text.substr(0, 60) + "'",
                  "unvoiceable text");
      continue;
    }
    if (options_.augment) {
      uint64_t aug_seed = rng.next();
      audio = audio::augment(audio, audio::sample_augment_options(options_.augment_ranges, aug_seed), aug_seed);
    }
    std::string rel = "audio/" + d.dialogue_id + "_" + std::to_string(t.turn_id) + ".flac";
    audio::write_audio(out_dir_ / rel, audio);
    t.split_audio_file = rel;
    VoiceInfo info;
    info.source = "synthetic";
    info.speaker = v.name;
    info.gender = v.sex;
    info.style_emotion = emotion;
    info.style_intensity = intensity;
    t.voice = info;
    if (!measure_turns) continue;
    out.turns[i] = measure(audio);
    if (!out.first_reference) {
      // A first turn spoken neutrally is its own reference; otherwise say the reference sentence.
      out.first_reference = emotion == "neutral"
                                ? out.turns[i]
                                : measure(talker_->synthesize(d.lang == "zh" ? kReferenceZh : kReferenceEn,
                                                              affect::emotion_style("neutral", 0), v));
    }
  }
  return out;
}

void assign_voice_deltas(Dialogue& d, const DialogueMeasures& measures,
                         const std::optional<VoiceMeasure>& speaker_baseline) {
  std::vector<VoiceMeasure> earlier;
  for (size_t i = 0; i < d.turns.size() && i < measures.turns.size(); ++i) {
    if (!measures.turns[i]) continue;
    const VoiceMeasure& m = *measures.turns[i];
    std::optional<VoiceMeasure> ref = median_measure(earlier);
    if (!ref) ref = measures.first_reference ? measures.first_reference : speaker_baseline;
    earlier.push_back(m);
    if (!ref) continue;
    Turn& t = d.turns[i];
    if (!t.voice) {
      t.voice.emplace();
      t.voice->source = "recorded";
    }
    VoiceInfo& v = *t.voice;
    if (m.f0_hz > 0 && ref->f0_hz > 0) {
      v.pitch_delta_st = 12 * std::log2(m.f0_hz / ref->f0_hz);
      if (ref->jitter_pct > 0) v.jitter_ratio = m.jitter_pct / ref->jitter_pct;
    }
    if (ref->rate_syl_s > 0) v.rate_ratio = m.rate_syl_s / ref->rate_syl_s;
    v.loudness_delta_db = m.loudness_db - ref->loudness_db;
  }
}

std::map<std::string, VoiceMeasure> speaker_baselines(const std::vector<Dialogue>& dialogues,
                                                      const std::vector<DialogueMeasures>& measures) {
  std::map<std::string, std::vector<VoiceMeasure>> neutral, all;
  for (size_t d = 0; d < dialogues.size() && d < measures.size(); ++d) {
    const auto& turns = dialogues[d].turns;
    for (size_t i = 0; i < turns.size() && i < measures[d].turns.size(); ++i) {
      if (!measures[d].turns[i] || !turns[i].voice || turns[i].voice->source != "recorded") continue;
      const std::string& who = turns[i].voice->speaker;
      all[who].push_back(*measures[d].turns[i]);
      if (turns[i].emotion == "neutral") neutral[who].push_back(*measures[d].turns[i]);
    }
  }
  std::map<std::string, VoiceMeasure> out;
  for (const auto& [who, ms] : all) {
    const auto it = neutral.find(who);
    out[who] = *median_measure(it != neutral.end() ? it->second : ms);
  }
  return out;
}

}  // namespace attune::data
