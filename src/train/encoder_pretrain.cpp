#include "train/encoder_pretrain.h"

#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>

#include <spdlog/spdlog.h>
#include "attune/error.h"
#include "audio/audio_file.h"
#include "audio/augment.h"
#include "audio/log_mel.h"
#include "audio/prosody.h"
#include "common/file_util.h"
#include "common/parallel.h"
#include "common/progress.h"
#include "common/random.h"
#include "data/dialogue.h"
#include "data/voicing.h"
#include "model/encoder_heads.h"
#include "model/spoken_language_model.h"
#include "model/style_head.h"
#include "model/torch_error.h"
#include "text/transcript.h"
#include "train/metrics.h"
#include "train/run_support.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace attune::train {

namespace {

// One voiced user turn.
struct Clip {
  fs::path audio;
  std::vector<std::string> chars;  // the CTC transcript
  std::vector<int64_t> ctc;        // alphabet ids (1-based); empty: no CTC target for this clip
  int64_t emotion = 0;             // index into the heads' emotions
  float intensity = -1;            // [0, 1]; -1 unknown
  bool real = false;               // a recording (not synthesised)
  double seconds = 0;
  std::string corpus;
};

// Every usable turn of the builds: audio present and no longer than `max_s`, emotion labelled.
std::vector<Clip> read_clips(const std::vector<fs::path>& builds, const std::vector<std::string>& emotions,
                             double max_s, bool progress) {
  std::vector<Clip> clips;
  int64_t too_long = 0, unreadable = 0;
  for (const fs::path& build : builds) {
    const fs::path file = fs::is_directory(build) ? build / "dialogues.jsonl" : build;
    if (!fs::exists(file)) {
      throw InputError(file.string() +
                       ": no dialogues.jsonl here; build the data with `attune data build --corpus ... "
                       "--voices --out " +
                       build.string() + "`");
    }
    const fs::path base = file.parent_path();
    const std::vector<data::Dialogue> dialogues = data::read_dialogues(file.string());
    common::Progress bar("reading " + file.string(), static_cast<int64_t>(dialogues.size()), "dialogues",
                         {.live = progress ? -1 : 0});
    for (const data::Dialogue& d : dialogues) {
      bar.advance();
      for (const data::Turn& t : d.turns) {
        if (t.split_audio_file.empty() || t.emotion.empty() || t.task == "t1" || t.task == "t2") continue;
        const auto it = std::find(emotions.begin(), emotions.end(), t.emotion);
        if (it == emotions.end()) continue;
        Clip c;
        c.audio = data::resolve_audio(base, t.split_audio_file);
        try {
          c.seconds = audio::probe_audio(c.audio).duration_s();
          if (c.seconds > max_s) {
            ++too_long;
            continue;
          }
        } catch (const Error&) {
          ++unreadable;
          continue;
        }
        c.chars = text::ctc_characters(t.text);
        c.emotion = it - emotions.begin();
        c.intensity = t.intensity ? static_cast<float>(*t.intensity) : -1.0f;
        c.real = t.voice && t.voice->source == "recorded";
        c.corpus = d.meta.corpus;
        clips.push_back(std::move(c));
      }
    }
  }
  if (too_long + unreadable > 0) {
    spdlog::info("left out {} clips longer than {:.0f} s and {} unreadable ones", too_long, max_s, unreadable);
  }
  return clips;
}

// Alphabet ids of each clip's transcript; a transcript with more than 5 % characters outside the
// alphabet (e.g. Chinese, whose characters are mostly rare) gets no CTC target.
void assign_ctc_targets(std::vector<Clip>& clips, const std::vector<std::string>& alphabet) {
  std::map<std::string, int64_t> id;
  for (size_t i = 0; i < alphabet.size(); ++i) id[alphabet[i]] = static_cast<int64_t>(i) + 1;
  for (Clip& c : clips) {
    c.ctc.clear();
    int64_t unknown = 0;
    for (const auto& ch : c.chars) {
      auto it = id.find(ch);
      if (it == id.end()) {
        ++unknown;
      } else {
        c.ctc.push_back(it->second);
      }
    }
    if (c.ctc.empty() || unknown * 20 > static_cast<int64_t>(c.chars.size())) c.ctc.clear();
  }
}

// The augmentations pre-training draws from (issue: SNR 5-30 dB, gain, speed 0.9-1.1, telephone or
// laptop bandwidth, a small room).
audio::AugmentRanges pretrain_augment_ranges() {
  audio::AugmentRanges r;
  r.gain_db_min = -6, r.gain_db_max = 6;
  r.noise_probability = 0.6;
  r.snr_db_min = 5, r.snr_db_max = 30;
  r.speed_min = 0.9, r.speed_max = 1.1;
  r.band_probability = 0.3;
  r.reverb_probability = 0.3;
  return r;
}

// A step's clips, sorted by length and cut into chunks of similar length so that little of each
// chunk is padding (attention costs the square of the longest clip).
struct ClipBatch {
  std::vector<size_t> items;
  at::Tensor mel;        // float [B, M, T_max]
  at::Tensor lengths;    // int64 [B] mel frames
  at::Tensor emotion;    // int64 [B]
  at::Tensor intensity;  // float [B] (-1 unknown)
  at::Tensor prosody;    // float [B, P]: the heads' prosody functionals of the (augmented) audio
};
inline constexpr size_t kChunkClips = 8;

class ClipSampler {
 public:
  ClipSampler(const std::vector<Clip>& clips, const EncoderPretrainSpec& spec, uint64_t seed)
      : spec_(spec), seed_(seed) {
    for (size_t i = 0; i < clips.size(); ++i) {
      if (clips[i].real) {
        real_.push_back(i);
      } else {
        synthetic_by_label_[clips[i].emotion].push_back(i);
        synthetic_.push_back(i);
      }
    }
  }
  // The clips of step `step` (0-based): a function of the seed and the step only.
  std::vector<size_t> clips_of_step(int64_t step) const {
    common::SeededRng rng(seed_, "encoder-batch", static_cast<uint64_t>(step));
    std::vector<size_t> out;
    for (int64_t k = 0; k < spec_.batch_clips; ++k) {
      const bool real = !real_.empty() && (synthetic_.empty() || rng.chance(spec_.real_share));
      if (real) {
        out.push_back(real_[rng.below(real_.size())]);
      } else if (spec_.balance_classes) {
        auto it = synthetic_by_label_.begin();
        std::advance(it, static_cast<std::ptrdiff_t>(rng.below(synthetic_by_label_.size())));
        out.push_back(it->second[rng.below(it->second.size())]);
      } else {
        out.push_back(synthetic_[rng.below(synthetic_.size())]);
      }
    }
    return out;
  }
  size_t real_count() const { return real_.size(); }
  size_t synthetic_count() const { return synthetic_.size(); }

 private:
  const EncoderPretrainSpec& spec_;
  uint64_t seed_;
  std::vector<size_t> real_, synthetic_;
  std::map<int64_t, std::vector<size_t>> synthetic_by_label_;
};

// Loads, (optionally) augments and featurises clips, in chunks of kChunkClips by length;
// `augment_seed` 0: no augmentation (evaluation). `words_only`: no prosody functionals (a batch for
// transcription alone).
std::vector<ClipBatch> make_clip_batches(const std::vector<Clip>& clips, std::vector<size_t> items,
                                         const audio::LogMelExtractor& mel, const model::EncoderHeadsImpl& heads,
                                         const EncoderPretrainSpec& spec, uint64_t augment_seed, int64_t step,
                                         bool words_only = false) {
  const int64_t n = static_cast<int64_t>(items.size());
  const bool with_prosody = !words_only && !heads.config().prosody_features.empty();
  std::vector<audio::LogMel> mels;
  std::vector<std::vector<float>> prosody;
  const audio::AugmentRanges ranges = pretrain_augment_ranges();
  const auto max_samples = static_cast<size_t>(spec.max_clip_seconds * audio::kModelSampleRate);
  for (int64_t k = 0; k < n; ++k) {
    const Clip& c = clips[items[static_cast<size_t>(k)]];
    AudioBuffer a = audio::load_mono(c.audio);
    if (augment_seed != 0) {
      common::SeededRng rng(augment_seed, "encoder-augment",
                            static_cast<uint64_t>(step) * 4096 + static_cast<uint64_t>(k));
      const uint64_t s = rng.next();
      if (rng.chance(c.real ? spec.augment_real : spec.augment_synthetic)) {
        a = audio::augment(a, audio::sample_augment_options(ranges, s), s);
      }
    }
    if (a.samples.size() > max_samples) a.samples.resize(max_samples);
    if (a.samples.size() < 800) a.samples.resize(800, 0.0f);  // at least 50 ms: some frames to pool
    mels.push_back(mel.compute(a.samples));
    if (with_prosody) prosody.push_back(heads.select_prosody(audio::analyse_prosody(a.samples, a.sample_rate).values));
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return mels[static_cast<size_t>(a)].frames < mels[static_cast<size_t>(b)].frames;
  });
  std::vector<ClipBatch> out;
  for (size_t from = 0; from < order.size(); from += kChunkClips) {
    const size_t to = std::min(order.size(), from + kChunkClips);
    const int64_t B = static_cast<int64_t>(to - from);
    int64_t max_t = 0;
    for (size_t i = from; i < to; ++i) max_t = std::max(max_t, mels[static_cast<size_t>(order[i])].frames);
    const int64_t M = mels[0].n_mels;
    ClipBatch b;
    b.mel = at::zeros({B, M, max_t}, at::kFloat);
    b.lengths = at::empty({B}, at::kLong);
    b.emotion = at::empty({B}, at::kLong);
    b.intensity = at::empty({B}, at::kFloat);
    const int64_t P = with_prosody ? static_cast<int64_t>(prosody[0].size()) : 0;
    if (with_prosody) b.prosody = at::empty({B, P}, at::kFloat);
    for (int64_t k = 0; k < B; ++k) {
      const size_t j = static_cast<size_t>(order[from + static_cast<size_t>(k)]);
      const audio::LogMel& m = mels[j];
      b.mel[k]
          .narrow(1, 0, m.frames)
          .copy_(at::from_blob(const_cast<float*>(m.data.data()), {M, m.frames}, at::kFloat));
      b.lengths[k] = m.frames;
      const Clip& c = clips[items[j]];
      b.emotion[k] = c.emotion;
      b.intensity[k] = c.intensity;
      if (with_prosody) b.prosody[k].copy_(at::tensor(prosody[j], at::kFloat));
      b.items.push_back(items[j]);
    }
    out.push_back(std::move(b));
  }
  return out;
}

struct Losses {
  at::Tensor total;
  double ctc = 0, emotion = 0, intensity = 0, prosody_expert = 0;
  int64_t correct = 0, rows = 0;
  model::EncoderHeadsOutput heads;
  at::Tensor frames;  // encoder frames per row
};

// Adds the CTC loss of the batch's clips with a transcript to out.total (out.heads.ctc_logits and
// out.frames set).
void add_ctc_loss(Losses& out, const std::vector<Clip>& clips, const ClipBatch& b, const EncoderPretrainSpec& spec,
                  at::Device device) {
  std::vector<int64_t> rows, input_lengths, target_lengths, targets;
  const int64_t* frames = out.frames.data_ptr<int64_t>();
  for (size_t k = 0; k < b.items.size(); ++k) {
    const Clip& c = clips[b.items[k]];
    if (c.ctc.empty()) continue;
    rows.push_back(static_cast<int64_t>(k));
    input_lengths.push_back(frames[k]);
    target_lengths.push_back(static_cast<int64_t>(c.ctc.size()));
    targets.insert(targets.end(), c.ctc.begin(), c.ctc.end());
  }
  if (rows.empty()) return;
  const at::Tensor r = at::tensor(rows, at::kLong).to(device);
  at::Tensor log_probs = at::log_softmax(out.heads.ctc_logits.index_select(0, r), -1).transpose(0, 1);
  at::Tensor ctc = at::ctc_loss(log_probs, at::tensor(targets, at::kLong).to(device), input_lengths, target_lengths,
                                /*blank=*/0, at::Reduction::Mean, /*zero_infinity=*/true);
  out.ctc = ctc.item<double>();
  out.total = out.total + ctc * spec.ctc_weight;
}

// `words_only`: the transcription loss alone, through the heads' own encoder (the shared encoder and
// the emotion head are not run).
Losses compute_losses(model::SpokenLanguageModelImpl& slm, const std::vector<Clip>& clips, const ClipBatch& b,
                      const EncoderPretrainSpec& spec, at::Device device, bool words_only = false) {
  Losses out;
  if (!b.mel.defined()) {  // a batch of functionals alone: the prosody expert trains by itself
    const at::Tensor emotion = b.emotion.to(device);
    const at::Tensor logits = slm.encoder_heads()->prosody_expert_logits(b.prosody);
    out.total = at::cross_entropy_loss(logits, emotion) * spec.prosody_expert_loss;
    out.prosody_expert = out.total.item<double>() / spec.prosody_expert_loss;
    out.rows = emotion.numel();
    out.correct = logits.argmax(-1).eq(emotion).sum().item<int64_t>();
    return out;
  }
  const at::Tensor mel = b.mel.to(device), mel_lengths = b.lengths.to(device);
  model::EncoderHeadsImpl& heads = *slm.encoder_heads();
  const bool want_ctc = spec.ctc_weight > 0;
  at::Tensor ctc_hidden;
  if (auto* transcriber = heads.ctc_encoder()) {
    model::EncoderOutput own = transcriber->forward(mel, mel_lengths);
    ctc_hidden = own.hidden;
    if (words_only) {
      out.heads.ctc_logits = heads.transcription_logits(own.hidden, own.lengths);
      out.frames = own.lengths.to(at::kCPU);
    }
  }
  if (words_only) {
    out.total = at::zeros({}, at::TensorOptions().device(device));
    add_ctc_loss(out, clips, b, spec, device);
    return out;
  }
  model::EncoderOutput enc = slm.encoder().forward(mel, mel_lengths);
  out.heads = heads.forward(enc.hidden, enc.lengths, /*with_ctc=*/true, b.prosody, ctc_hidden);
  out.frames = enc.lengths.to(at::kCPU);
  const at::Tensor emotion = b.emotion.to(device);
  at::Tensor ce = at::cross_entropy_loss(out.heads.head_logits, emotion);
  out.emotion = ce.item<double>();
  out.rows = emotion.numel();
  out.correct = out.heads.emotion_logits.argmax(-1).eq(emotion).sum().item<int64_t>();  // as heard (fused)
  at::Tensor total = ce * spec.emotion_weight;
  if (out.heads.prosody_logits.defined() && spec.prosody_expert_loss > 0) {
    at::Tensor expert = at::cross_entropy_loss(out.heads.prosody_logits, emotion);
    out.prosody_expert = expert.item<double>();
    total = total + expert * spec.prosody_expert_loss;
  }

  const at::Tensor known = b.intensity.ge(0).nonzero().squeeze(1);
  if (known.numel() > 0 && spec.intensity_weight > 0) {
    at::Tensor mse = at::mse_loss(out.heads.intensity.index_select(0, known.to(device)),
                                  b.intensity.index_select(0, known).to(device));
    out.intensity = mse.item<double>();
    total = total + mse * spec.intensity_weight;
  }

  out.total = total;
  if (want_ctc) add_ctc_loss(out, clips, b, spec, device);
  return out;
}

// Unweighted average recall over the labels present in `truth`.
double unweighted_recall(const std::vector<int64_t>& truth, const std::vector<int64_t>& guess) {
  std::map<int64_t, std::pair<int64_t, int64_t>> per;  // label -> (right, all)
  for (size_t i = 0; i < truth.size(); ++i) {
    auto& p = per[truth[i]];
    p.first += truth[i] == guess[i];
    ++p.second;
  }
  double sum = 0;
  for (const auto& [label, p] : per) sum += static_cast<double>(p.first) / static_cast<double>(p.second);
  return per.empty() ? 0.0 : sum / static_cast<double>(per.size());
}

// Every tensor of `from` into `to`, an encoder of the same shape.
void copy_encoder(model::SpeechEncoderImpl& from, model::SpeechEncoderImpl& to) {
  at::NoGradGuard no_grad;
  const auto source = from.named_parameters();
  for (auto& item : to.named_parameters()) item.value().copy_(source[item.key()]);
}

// Heads trained before a part existed get it fresh: a prosody expert when they have none,
// transcription blocks up to model.heads.ctc_layers, and with model.heads.ctc_encoder a speech
// encoder for transcription, copied from the shared one. Everything they had is kept.
// A run that trains the expert alone also sets its weight (model.heads.prosody_expert_weight).
void grow_heads(model::SpokenLanguageModelImpl& slm, const EncoderPretrainSpec& spec, bool expert_only) {
  const io::EncoderHeadsConfig before = slm.encoder_heads()->config();
  io::EncoderHeadsConfig config = before;
  const bool add_expert =
      before.prosody_expert_hidden == 0 && spec.prosody_expert_hidden > 0 && !before.prosody_features.empty();
  if (add_expert) config.prosody_expert_hidden = spec.prosody_expert_hidden;
  if (add_expert || expert_only) config.prosody_expert_weight = spec.prosody_expert_weight;
  config.ctc_layers = std::max(before.ctc_layers, spec.ctc_layers);
  const bool add_ctc_encoder = spec.ctc_encoder && !before.ctc_encoder && !before.ctc_alphabet.empty();
  config.ctc_encoder = before.ctc_encoder || add_ctc_encoder;
  if (!add_expert && !add_ctc_encoder && config.ctc_layers == before.ctc_layers &&
      config.prosody_expert_weight == before.prosody_expert_weight) {
    return;
  }
  std::map<std::string, at::Tensor> kept;
  for (const auto& item : slm.encoder_heads()->named_parameters()) kept[item.key()] = item.value().detach().clone();
  slm.attach_encoder_heads(config);
  at::NoGradGuard no_grad;
  for (auto& item : slm.encoder_heads()->named_parameters()) {
    if (const auto it = kept.find(item.key()); it != kept.end()) item.value().copy_(it->second);
  }
  if (add_ctc_encoder) {
    copy_encoder(slm.encoder(), *slm.encoder_heads()->ctc_encoder());
    spdlog::info("encoder heads: transcription gets a speech encoder of its own, started as a copy of the shared one");
  }
  if (add_expert) {
    spdlog::info("encoder heads: a prosody expert added ({} hidden units, read with weight {:g})",
                 spec.prosody_expert_hidden, spec.prosody_expert_weight);
  }
  if (!add_expert && config.prosody_expert_weight != before.prosody_expert_weight) {
    spdlog::info("encoder heads: the prosody expert is read with weight {:g} (was {:g})", config.prosody_expert_weight,
                 before.prosody_expert_weight);
  }
  if (config.ctc_layers > before.ctc_layers) {
    spdlog::info("encoder heads: {} transcription block(s) added before the CTC projection",
                 config.ctc_layers - before.ctc_layers);
  }
}

// Mean and standard deviation of each prosody functional over an evenly spread sample of the
// training clips (unaugmented), so the head sees standardised values.
void set_prosody_statistics(model::EncoderHeadsImpl& heads, const std::vector<Clip>& clips) {
  const size_t p = heads.config().prosody_features.size();
  if (p == 0) return;
  const size_t n = std::min<size_t>(clips.size(), 1500);
  std::vector<double> sum(p, 0), sum2(p, 0);
  std::vector<int64_t> count(p, 0);
  for (size_t k = 0; k < n; ++k) {
    const AudioBuffer a = audio::load_mono(clips[k * clips.size() / n].audio);
    const std::vector<float> x = heads.select_prosody(audio::analyse_prosody(a.samples, a.sample_rate).values);
    for (size_t i = 0; i < p; ++i) {
      if (!std::isfinite(x[i])) continue;
      sum[i] += x[i], sum2[i] += static_cast<double>(x[i]) * x[i], ++count[i];
    }
  }
  std::vector<double> mean(p, 0), stddev(p, 1);
  for (size_t i = 0; i < p; ++i) {
    if (count[i] < 2) continue;
    mean[i] = sum[i] / static_cast<double>(count[i]);
    stddev[i] = std::sqrt(std::max(0.0, sum2[i] / static_cast<double>(count[i]) - mean[i] * mean[i]));
  }
  heads.set_prosody_statistics(mean, stddev);
}

// Every clip's prosody functionals (the heads' selection), unaugmented, cut like a training clip:
// float [clips, P], on `threads` workers (0: all cores).
at::Tensor measure_clean_prosody(const std::vector<Clip>& clips, const model::EncoderHeadsImpl& heads,
                                 const EncoderPretrainSpec& spec, int threads, bool progress) {
  const int64_t n = static_cast<int64_t>(clips.size());
  const int64_t p = static_cast<int64_t>(heads.config().prosody_features.size());
  at::Tensor out = at::empty({n, p}, at::kFloat);
  float* rows = out.data_ptr<float>();
  const auto max_samples = static_cast<size_t>(spec.max_clip_seconds * audio::kModelSampleRate);
  common::Progress bar("prosody of the training clips", n, "clips", {.live = progress ? -1 : 0});
  std::mutex bar_mutex;
  common::parallel_for(n, threads, [&](int64_t i, int) {
    AudioBuffer a = audio::load_mono(clips[static_cast<size_t>(i)].audio);
    if (a.samples.size() > max_samples) a.samples.resize(max_samples);
    const std::vector<float> x = heads.select_prosody(audio::analyse_prosody(a.samples, a.sample_rate).values);
    std::copy(x.begin(), x.end(), rows + i * p);
    std::lock_guard<std::mutex> lock(bar_mutex);
    bar.advance();
  });
  bar.finish();
  return out;
}

// A step of the expert alone: the step's clips (the sampler's, so real_share and class balance
// hold) with their clean functionals, in one chunk without audio.
std::vector<ClipBatch> expert_batch(const std::vector<Clip>& clips, std::vector<size_t> items,
                                    const at::Tensor& clean_prosody) {
  ClipBatch b;
  const auto n = static_cast<int64_t>(items.size());
  b.emotion = at::empty({n}, at::kLong);
  b.intensity = at::empty({n}, at::kFloat);
  std::vector<int64_t> index;
  for (int64_t k = 0; k < n; ++k) {
    const Clip& c = clips[items[static_cast<size_t>(k)]];
    b.emotion[k] = c.emotion;
    b.intensity[k] = c.intensity;
    index.push_back(static_cast<int64_t>(items[static_cast<size_t>(k)]));
  }
  b.prosody = clean_prosody.index_select(0, at::tensor(index, at::kLong));
  b.lengths = at::zeros({n}, at::kLong);
  b.items = std::move(items);
  std::vector<ClipBatch> out;
  out.push_back(std::move(b));
  return out;
}

class EncoderRun {
 public:
  EncoderRun(const Recipe& recipe, const TrainOptions& options);
  TrainResult train();

 private:
  json evaluate();
  void save_model_dir(const fs::path& dir, io::Dtype dtype) const;

  const Recipe& r_;
  const EncoderPretrainSpec& spec_;
  TrainOptions options_;
  at::Device device_{at::kCPU};
  std::vector<Clip> train_, valid_;
  std::vector<size_t> eval_items_;
  std::unique_ptr<ClipSampler> sampler_;
  // train.parts ["prosody_expert"]: the expert learns from each training clip's unaugmented
  // functionals [clips, P], measured once, and no audio is read or encoded per step.
  bool expert_only_ = false;
  bool words_only_ = false;  // train.parts ["ctc"] with a ctc_encoder: the shared encoder need not run
  at::Tensor clean_prosody_;
  audio::LogMelExtractor mel_, prefetch_mel_;
  std::shared_ptr<model::SpokenLanguageModelImpl> slm_;
  std::shared_ptr<model::StyleHeadImpl> style_head_;
  NamedParameters trainable_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::unique_ptr<MetricsLog> log_;
  CheckpointWriter checkpoints_;
  double elapsed_before_ = 0;
  fs::path tokenizer_path_;
};

EncoderRun::EncoderRun(const Recipe& recipe, const TrainOptions& options)
    : r_(recipe), spec_(recipe.pretrain), options_(options), checkpoints_(recipe.out, recipe.keep_checkpoints) {
  const int threads = options.threads > 0 ? options.threads : recipe.threads;
  if (threads > 0) at::set_num_threads(threads);
  device_ = pick_device(r_.device, 0);
  // oneDNN made the encoder's backward non-repeatable on this CPU (trainer.cpp says more).
  if (device_.is_cpu()) at::globalContext().setUserEnabledMkldnn(false);
  tokenizer_path_ = fs::is_directory(r_.tokenizer) ? r_.tokenizer / "tokenizer.json" : r_.tokenizer;
  if (!fs::exists(tokenizer_path_))
    throw InputError(tokenizer_path_.string() + ": no tokenizer.json (model.tokenizer)");

  torch::manual_seed(r_.seed);
  slm_ = build_spoken_model(r_);
  if (!r_.from.empty()) style_head_ = model::StyleHeadImpl::from_pretrained(r_.from, slm_->config().style_head);

  // Class ids follow the heads' output order: the starting model's when it has heads, else a new head's.
  const std::vector<std::string> emotions =
      slm_->encoder_heads() ? slm_->encoder_heads()->config().emotions : io::EncoderHeadsConfig{}.emotions;
  train_ = read_clips(spec_.train_builds, emotions, spec_.max_clip_seconds, options.progress);
  if (train_.empty()) throw InputError(r_.train_data.string() + ": no voiced user turn with an emotion label");
  if (!spec_.valid_builds.empty())
    valid_ = read_clips(spec_.valid_builds, emotions, spec_.max_clip_seconds, options.progress);

  // The heads: kept when the starting model has them (a continued pre-training), else fresh, with
  // an alphabet from the training transcripts.
  if (!slm_->encoder_heads()) {
    std::vector<std::vector<std::string>> transcripts;
    for (const Clip& c : train_) transcripts.push_back(c.chars);
    io::EncoderHeadsConfig heads;
    heads.hidden_size = spec_.heads_hidden;
    heads.ctc_alphabet = text::build_ctc_alphabet(transcripts, spec_.alphabet_min_count);
    heads.prosody_features = audio::prosody_feature_names();
    heads.evidence_weight = spec_.evidence_weight;
    heads.prosody_expert_hidden = spec_.prosody_expert_hidden;
    heads.prosody_expert_weight = spec_.prosody_expert_weight;
    heads.ctc_layers = spec_.ctc_layers;
    heads.ctc_encoder = spec_.ctc_encoder && !heads.ctc_alphabet.empty();
    slm_->attach_encoder_heads(heads);
    if (heads.ctc_encoder) copy_encoder(slm_->encoder(), *slm_->encoder_heads()->ctc_encoder());
    set_prosody_statistics(*slm_->encoder_heads(), train_);
  } else {
    grow_heads(*slm_, spec_, r_.parts == std::vector<std::string>{"prosody_expert"});
  }
  const auto& alphabet = slm_->encoder_heads()->config().ctc_alphabet;
  assign_ctc_targets(train_, alphabet);
  assign_ctc_targets(valid_, alphabet);
  slm_->to(device_);

  sampler_ = std::make_unique<ClipSampler>(train_, spec_, r_.seed);
  int64_t with_ctc = 0;
  for (const Clip& c : train_) with_ctc += !c.ctc.empty();
  spdlog::info("encoder pre-training: {} clips ({} recorded, {} synthetic, {} with a CTC transcript), alphabet of {}",
               train_.size(), sampler_->real_count(), sampler_->synthetic_count(), with_ctc, alphabet.size());
  // A fixed evaluation sample: every recorded clip up to half the budget, synthetic ones evenly spread.
  std::vector<size_t> real, synthetic;
  for (size_t i = 0; i < valid_.size(); ++i) (valid_[i].real ? real : synthetic).push_back(i);
  const size_t budget = static_cast<size_t>(spec_.eval_clips);
  for (size_t i = 0; i < real.size() && eval_items_.size() < budget / 2; ++i) eval_items_.push_back(real[i]);
  const size_t left = budget - eval_items_.size();
  for (size_t k = 0; k < std::min(left, synthetic.size()); ++k) {
    eval_items_.push_back(synthetic[k * synthetic.size() / std::min(left, synthetic.size())]);
  }

  for (auto& p : slm_->parameters()) p.set_requires_grad(false);
  auto wants = [&](const char* part) { return std::find(r_.parts.begin(), r_.parts.end(), part) != r_.parts.end(); };
  if (wants("encoder")) {
    for (auto& item : slm_->encoder().named_parameters()) {
      if (item.key().find("embed_positions") != std::string::npos) continue;  // Whisper's fixed sinusoids
      item.value().set_requires_grad(true);
      trainable_.emplace_back("encoder." + item.key(), item.value());
    }
  }
  if (wants("encoder_heads") || wants("ctc") || wants("prosody_expert")) {
    for (auto& item : slm_->encoder_heads()->named_parameters()) {
      const std::string& key = item.key();
      if (key == "prosody_mean" || key == "prosody_std") continue;     // statistics, not trained
      if (key.find("embed_positions") != std::string::npos) continue;  // the ctc_encoder's fixed sinusoids
      const bool transcription = key.rfind("ctc", 0) == 0;             // ctc., ctc_layers., ctc_encoder.
      const bool expert = key.rfind("prosody_expert.", 0) == 0;
      if (!wants("encoder_heads") && !(transcription && wants("ctc")) && !(expert && wants("prosody_expert"))) continue;
      item.value().set_requires_grad(true);
      trainable_.emplace_back("encoder_heads." + item.key(), item.value());
    }
  }
  optimizer_ = make_adamw(r_, trainable_);

  words_only_ = r_.parts == std::vector<std::string>{"ctc"} && slm_->encoder_heads()->ctc_encoder() != nullptr;
  expert_only_ = r_.parts == std::vector<std::string>{"prosody_expert"};  // grow_heads set its weight
  if (expert_only_) {
    if (slm_->encoder_heads()->config().prosody_expert_hidden == 0) {
      throw ConfigError(r_.source.string() +
                        ": train.parts: the model has no prosody expert to train (model.heads.prosody_expert_hidden)");
    }
    clean_prosody_ = measure_clean_prosody(train_, *slm_->encoder_heads(), spec_, threads, options.progress);
  }
}

void EncoderRun::save_model_dir(const fs::path& dir, io::Dtype dtype) const {
  slm_->save_pretrained(dir, {.dtype = dtype, .include_path_components = true, .style_head = style_head_.get()});
  fs::copy_file(tokenizer_path_, dir / "tokenizer.json", fs::copy_options::overwrite_existing);
}

json EncoderRun::evaluate() {
  json out;
  if (eval_items_.empty()) return out;
  at::NoGradGuard no_grad;
  slm_->eval();
  std::vector<int64_t> truth_real, guess_real, truth_synth, guess_synth;
  std::vector<int64_t> expert_real, expert_synth;  // the prosody expert's own guesses, when there is one
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<int64_t>>> per_corpus;  // recorded only
  int64_t edits = 0, ref_chars = 0;
  double loss = 0, ctc = 0;
  int64_t batches = 0;
  const auto& alphabet = slm_->encoder_heads()->config().ctc_alphabet;
  std::vector<ClipBatch> chunks;
  for (size_t from = 0; from < eval_items_.size(); from += 64) {
    const size_t to = std::min(eval_items_.size(), from + 64);
    for (ClipBatch& b : make_clip_batches(valid_, {eval_items_.begin() + from, eval_items_.begin() + to}, mel_,
                                          *slm_->encoder_heads(), spec_, 0, 0)) {
      chunks.push_back(std::move(b));
    }
  }
  for (const ClipBatch& b : chunks) {
    Losses l = compute_losses(*slm_, valid_, b, spec_, device_);
    loss += l.total.item<double>(), ctc += l.ctc, ++batches;
    const at::Tensor guess = l.heads.emotion_logits.argmax(-1).to(at::kCPU);
    const at::Tensor expert =
        l.heads.prosody_logits.defined() ? l.heads.prosody_logits.argmax(-1).to(at::kCPU) : at::Tensor();
    for (size_t k = 0; k < b.items.size(); ++k) {
      const Clip& c = valid_[b.items[k]];
      const int64_t g = guess[static_cast<int64_t>(k)].item<int64_t>();
      if (expert.defined())
        (c.real ? expert_real : expert_synth).push_back(expert[static_cast<int64_t>(k)].item<int64_t>());
      (c.real ? truth_real : truth_synth).push_back(c.emotion);
      (c.real ? guess_real : guess_synth).push_back(g);
      if (c.real) per_corpus[c.corpus].first.push_back(c.emotion), per_corpus[c.corpus].second.push_back(g);
      if (!c.real && !c.ctc.empty()) {
        const int64_t n = l.frames[static_cast<int64_t>(k)].item<int64_t>();
        const std::string heard =
            model::ctc_greedy_decode(l.heads.ctc_logits[static_cast<int64_t>(k)].narrow(0, 0, n), alphabet);
        std::vector<std::string> ref;
        for (int64_t id : c.ctc) ref.push_back(alphabet[static_cast<size_t>(id - 1)]);
        edits += text::edit_distance(text::ctc_characters(heard), ref);
        ref_chars += static_cast<int64_t>(ref.size());
      }
    }
  }
  slm_->train();
  out["valid_loss"] = loss / static_cast<double>(batches);
  out["valid_ctc"] = ctc / static_cast<double>(batches);
  if (!truth_real.empty()) out["valid_ua_recorded"] = unweighted_recall(truth_real, guess_real);
  for (const auto& [corpus, tg] : per_corpus) out["valid_ua_" + corpus] = unweighted_recall(tg.first, tg.second);
  if (!truth_synth.empty()) out["valid_ua_synthetic"] = unweighted_recall(truth_synth, guess_synth);
  if (!expert_real.empty()) out["valid_ua_expert_recorded"] = unweighted_recall(truth_real, expert_real);
  if (!expert_synth.empty()) out["valid_ua_expert_synthetic"] = unweighted_recall(truth_synth, expert_synth);
  if (ref_chars > 0) out["valid_cer_synthetic"] = static_cast<double>(edits) / static_cast<double>(ref_chars);
  out["valid_clips"] = eval_items_.size();
  return out;
}

TrainResult EncoderRun::train() {
  TrainResult result;
  int64_t start = 0;
  if (!options_.resume.empty()) {
    fs::path dir;
    json state = read_checkpoint(options_.resume, kEncoderStage, 1, trainable_, *optimizer_, dir);
    start = state.at("step").get<int64_t>();
    elapsed_before_ = state.value("elapsed_s", 0.0);
    checkpoints_.set_last(dir);
  } else if (fs::exists(r_.out / "checkpoints" / "latest")) {
    throw ConfigError(r_.out.string() + " already holds a run's checkpoints: continue it with --resume " +
                      r_.out.string() + ", or choose another out");
  }
  log_ = open_run_directory(r_, options_.resume.empty() ? -1 : start);
  const std::string title = r_.name + " (encoder pre-training)";
  auto eval_and_log = [&](int64_t step) {
    json e = evaluate();
    if (e.empty()) return;
    record_validation(*log_, e, step, result);
    spdlog::info("step {}: {}", step, e.dump());
  };
  slm_->train();
  if (start == 0) eval_and_log(0);

  StopSignals stop;
  const int64_t end_step = options_.stop_at_step > 0 ? std::min(options_.stop_at_step, r_.steps) : r_.steps;
  common::Progress bar(title, end_step - start, "steps", {.live = options_.progress ? -1 : 0});
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  std::vector<at::Tensor> params;
  for (auto& [name, p] : trainable_) params.push_back(p);
  // The next step's clips are decoded, augmented and featurised while this step trains.
  auto prepare = [this](int64_t s) {
    if (expert_only_) return expert_batch(train_, sampler_->clips_of_step(s), clean_prosody_);
    return make_clip_batches(train_, sampler_->clips_of_step(s), prefetch_mel_, *slm_->encoder_heads(), spec_, r_.seed,
                             s, words_only_);
  };
  std::future<std::vector<ClipBatch>> next = std::async(std::launch::async, prepare, start);
  int64_t step = start, clips_seen = 0;
  double audio_seconds = 0;
  while (step < end_step) {
    std::vector<ClipBatch> chunks = next.get();
    if (step + 1 < end_step) next = std::async(std::launch::async, prepare, step + 1);
    const double lr = learning_rate(r_, step);
    for (auto& group : optimizer_->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    optimizer_->zero_grad();
    // Each chunk's losses weigh by its share of the step's clips; gradients add up over chunks.
    Losses l;
    double value = 0;
    int64_t rows = 0;
    for (const ClipBatch& b : chunks) rows += static_cast<int64_t>(b.items.size());
    for (const ClipBatch& b : chunks) {
      Losses c = compute_losses(*slm_, train_, b, spec_, device_, words_only_);
      const double share = static_cast<double>(b.items.size()) / static_cast<double>(rows);
      const double v = c.total.item<double>();
      if (!std::isfinite(v)) {
        throw Error("step " + std::to_string(step + 1) + ": the loss is " + std::to_string(v) + "; training stopped" +
                    (checkpoints_.last().empty() ? std::string()
                                                 : ". The last good checkpoint is " + checkpoints_.last().string()));
      }
      (c.total * share).backward();
      value += v * share;
      l.ctc += c.ctc * share, l.emotion += c.emotion * share, l.intensity += c.intensity * share;
      l.prosody_expert += c.prosody_expert * share;
      l.correct += c.correct, l.rows += c.rows;
      clips_seen += static_cast<int64_t>(b.items.size());
      audio_seconds += b.lengths.sum().item<double>() / 100.0;
    }
    for (auto& p : params) {
      if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    }
    const double grad_norm = torch::nn::utils::clip_grad_norm_(params, r_.clip_norm > 0 ? r_.clip_norm : 1e30);
    optimizer_->step();
    ++step;
    result.last_train_loss = value;
    bar.advance();
    char postfix[128];
    std::snprintf(postfix, sizeof postfix, "loss %.3f (ctc %.3f emo %.3f) %.1f audio s/s", value, l.ctc, l.emotion,
                  audio_seconds / std::max(1e-9, elapsed()));
    bar.set_postfix(postfix);
    if (step % r_.log_interval == 0 || step == end_step) {
      log_->write({{"step", step},
                   {"loss", value},
                   {"ctc", l.ctc},
                   {"emotion", l.emotion},
                   {"intensity", l.intensity},
                   {"prosody_expert", l.prosody_expert},
                   {"emotion_accuracy", static_cast<double>(l.correct) / std::max<int64_t>(1, l.rows)},
                   {"lr", lr},
                   {"grad_norm", grad_norm},
                   {"clips_per_s", clips_seen / std::max(1e-9, elapsed())},
                   {"audio_s_per_s", audio_seconds / std::max(1e-9, elapsed())},
                   {"elapsed_s", elapsed_before_ + elapsed()}});
    }
    const bool last = step == end_step;
    if ((r_.eval_interval > 0 && step % r_.eval_interval == 0) || last) eval_and_log(step);
    if ((r_.checkpoint_interval > 0 && step % r_.checkpoint_interval == 0) || last || stop.requested()) {
      json state = {{"step", step},
                    {"stage", kEncoderStage},
                    {"elapsed_s", elapsed_before_ + elapsed()},
                    {"world_size", 1},
                    {"recipe", r_.resolved}};
      checkpoints_.write(
          step, [&](const fs::path& dir) { save_model_dir(dir, io::Dtype::kF32); }, trainable_, *optimizer_, state);
      write_loss_plot(read_metrics(r_.out / "metrics.jsonl"), r_.out / "loss.svg", title);
    }
    if (stop.requested()) {
      if (next.valid()) next.wait();
      bar.finish();
      throw Error("interrupted at step " + std::to_string(step) + "; resume with --resume " + r_.out.string());
    }
  }
  if (next.valid()) next.wait();
  bar.finish();
  result.steps = step;
  result.tokens = clips_seen;
  result.tokens_per_second = clips_seen / std::max(1e-9, elapsed());
  result.final_dir = write_final_directory(
      r_.out,
      [&](const fs::path& dir) { save_model_dir(dir, r_.save_dtype == "bf16" ? io::Dtype::kBF16 : io::Dtype::kF32); },
      title);
  return result;
}

}  // namespace

TrainResult run_encoder_pretraining(const Recipe& recipe, const TrainOptions& options) {
  return model::with_torch_context("encoder pre-training", [&] {
    EncoderRun run(recipe, options);
    return run.train();
  });
}

}  // namespace attune::train
