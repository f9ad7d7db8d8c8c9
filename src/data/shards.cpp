#include "data/shards.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "attune/error.h"
#include "audio/audio_file.h"
#include "common/file_util.h"
#include "data/ieat.h"
#include "data/labels.h"
#include "data/voicing.h"
#include "io/safetensors.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace attune::data {
namespace {

constexpr float kUnknown = std::numeric_limits<float>::quiet_NaN();

int task_code(const std::string& task) {
  if (task == "t1") return 1;
  if (task == "t2") return 2;
  return task == "describe" ? 3 : 0;
}

std::string shard_name(size_t i) { return fmt::format("shard-{:05d}.safetensors", i); }

// The user message of a turn in the text view: the transcript, and how it sounded when known.
std::string text_view_user(const Dialogue& d, const Turn& t) {
  std::string voice = t.voice ? describe_voice(t, d.lang) : std::string();
  return voice.empty() ? t.text : t.text + "\n[voice: " + voice + "]";
}

std::optional<std::string> thinking_of(const Turn& t) {
  if (t.thinking.empty()) return std::nullopt;
  return t.thinking;
}

// Appends the flat bytes of a vector as one tensor.
template <typename T>
io::TensorToWrite tensor(std::string name, io::Dtype dtype, std::vector<int64_t> shape, const std::vector<T>& v) {
  return {std::move(name), dtype, std::move(shape),
          std::span<const std::byte>(reinterpret_cast<const std::byte*>(v.data()), v.size() * sizeof(T))};
}

template <typename T>
std::vector<T> read_vector(const io::SafetensorsFile& f, const char* name, io::Dtype dtype) {
  const io::TensorView& t = f.tensor(name);
  if (t.dtype != dtype || t.nbytes % sizeof(T) != 0) {
    throw InputError(f.path().string(), std::string("tensor ") + name + " has dtype " +
                                            std::string(io::dtype_name(t.dtype)) + ", expected " +
                                            std::string(io::dtype_name(dtype)));
  }
  std::vector<T> out(t.nbytes / sizeof(T));
  if (t.nbytes) std::memcpy(out.data(), t.data, t.nbytes);
  return out;
}

}  // namespace

void ShardOptions::validate() const {
  if (n_mels != 80 && n_mels != 128) throw ConfigError(fmt::format("shards: n_mels = {}; expected 80 or 128", n_mels));
  if (adapter_stride < 1 || adapter_stride > 64) {
    throw ConfigError(fmt::format("shards: adapter_stride = {}; expected 1..64", adapter_stride));
  }
  if (max_tokens < 64) throw ConfigError(fmt::format("shards: max_tokens = {}; expected >= 64", max_tokens));
  if (records_per_shard < 1) {
    throw ConfigError(fmt::format("shards: records_per_shard = {}; expected >= 1", records_per_shard));
  }
  if (!(max_turn_audio_s > 0 && max_turn_audio_s <= 30)) {
    throw ConfigError(fmt::format("shards: max_turn_audio_s = {:g}; expected in (0, 30]", max_turn_audio_s));
  }
}

std::vector<std::pair<size_t, size_t>> target_runs(const std::vector<uint8_t>& mask) {
  std::vector<std::pair<size_t, size_t>> runs;
  for (size_t t = 0; t < mask.size();) {
    if (!mask[t]) {
      ++t;
      continue;
    }
    size_t end = t;
    while (end < mask.size() && mask[end]) ++end;
    runs.emplace_back(t, end);
    t = end;
  }
  return runs;
}

RecordBuilder::RecordBuilder(const text::ChatTemplate& chat, ShardOptions options, fs::path audio_base)
    : chat_(chat),
      options_(std::move(options)),
      audio_base_(std::move(audio_base)),
      mel_(audio::LogMelOptions{.n_mels = options_.n_mels}) {
  options_.validate();
}

bool RecordBuilder::add_audio_features(const Dialogue& d, const Turn& t, TurnRecord& r, Diagnostics& diag) const {
  fs::path path = resolve_audio(audio_base_, t.split_audio_file);
  try {
    AudioBuffer audio = audio::load_mono(path);
    auto max_samples = static_cast<size_t>(options_.max_turn_audio_s * audio.sample_rate);
    if (audio.samples.size() > max_samples) {
      diag.report(path.string(), 0,
                  fmt::format("{} turn {}: {:.1f} s of audio, cut to {:g} s", d.dialogue_id, t.turn_id,
                              audio.duration_s(), options_.max_turn_audio_s),
                  "audio cut");
      audio.samples.resize(max_samples);
    }
    audio::LogMel mel = mel_.compute(audio.samples);
    r.frames = mel.frames;
    r.slot_count = text::audio_slot_count(static_cast<int64_t>(audio.samples.size()), options_.adapter_stride);
    r.mel.resize(static_cast<size_t>(mel.frames) * mel.n_mels);
    for (int64_t f = 0; f < mel.frames; ++f) {
      for (int m = 0; m < mel.n_mels; ++m) r.mel[f * mel.n_mels + m] = io::f32_to_f16(mel.at(m, f));
    }
    return r.slot_count > 0;
  } catch (const Error& e) {
    diag.report(path.string(), 0, d.dialogue_id + " turn " + std::to_string(t.turn_id) + ": " + e.what(),
                "unreadable audio");
    return false;
  }
}

std::vector<Record> RecordBuilder::build(const Dialogue& d, Diagnostics& diag) const {
  const std::string& source = d.meta.corpus.empty() ? d.dialogue_id : d.meta.corpus;
  // Per usable turn: its features, then the token cost of its exchange, to cut windows.
  struct Prepared {
    const Turn* turn;
    TurnRecord rec;
    bool has_audio = false;
  };
  std::vector<Prepared> turns;
  for (const Turn& t : d.turns) {
    if (t.response_text.empty()) continue;  // nothing to learn from a turn without a reply
    if (t.text.empty() && t.split_audio_file.empty()) {
      diag.report(source, 0, d.dialogue_id + " turn " + std::to_string(t.turn_id) + ": empty user turn", "empty turn");
      continue;
    }
    Prepared p{&t, {}};
    TurnRecord& r = p.rec;
    r.turn_id = t.turn_id;
    r.emotion = emotion_index(t.emotion);
    r.intensity = t.intensity ? static_cast<float>(*t.intensity) : -1.f;
    const VoiceInfo* v = t.voice ? &*t.voice : nullptr;
    auto val = [](const std::optional<double>& x) { return x ? static_cast<float>(*x) : kUnknown; };
    r.voice[0] = v ? val(v->pitch_delta_st) : kUnknown;
    r.voice[1] = v ? val(v->rate_ratio) : kUnknown;
    r.voice[2] = v ? val(v->loudness_delta_db) : kUnknown;
    r.voice[3] = v ? val(v->jitter_ratio) : kUnknown;
    r.synthetic = v && v->source == "synthetic";
    r.task = task_code(t.task);
    if (!t.split_audio_file.empty()) p.has_audio = add_audio_features(d, t, r, diag);
    turns.push_back(std::move(p));
  }
  if (turns.empty()) return {};

  std::string system = options_.system_prompt;
  if (!d.meta.opening.empty()) {
    system += (system.empty() ? "" : "\n") + std::string("Earlier in this conversation you said: ") + d.meta.opening;
  }
  auto messages = [&](size_t begin, size_t end, bool audio) {
    std::vector<text::ChatMessage> m;
    if (!system.empty()) m.push_back({text::Role::kSystem, system});
    for (size_t i = begin; i < end; ++i) {
      const Turn& t = *turns[i].turn;
      if (audio) {
        m.push_back({text::Role::kUser, t.heard_words, turns[i].rec.slot_count});  // "" unless transcribed
      } else {
        m.push_back({text::Role::kUser, text_view_user(d, t)});
      }
      m.push_back({text::Role::kAssistant, t.response_text, 0, thinking_of(t)});
    }
    return m;
  };

  // Cost of each exchange alone (the larger view), without the shared system prefix.
  const int64_t prefix = static_cast<int64_t>(chat_.render(messages(0, 0, false)).ids.size());
  std::vector<int64_t> cost(turns.size());
  for (size_t i = 0; i < turns.size(); ++i) {
    int64_t c = static_cast<int64_t>(chat_.render(messages(i, i + 1, false)).ids.size());
    if (turns[i].has_audio) c = std::max(c, static_cast<int64_t>(chat_.render(messages(i, i + 1, true)).ids.size()));
    cost[i] = c - prefix;
  }

  std::vector<Record> out;
  auto emit = [&](size_t begin, size_t end) {
    Record rec;
    rec.dialogue_id = d.dialogue_id;
    text::RenderedChat tv = chat_.render(messages(begin, end, false));
    rec.text_ids = std::move(tv.ids);
    rec.text_mask = std::move(tv.loss_mask);
    bool window_audio = true;
    for (size_t i = begin; i < end; ++i) window_audio = window_audio && turns[i].has_audio;
    if (window_audio) {
      text::RenderedChat av = chat_.render(messages(begin, end, true));
      rec.audio_ids = std::move(av.ids);
      rec.audio_mask = std::move(av.loss_mask);
      for (size_t s = 0; s < av.audio_slots.size(); ++s) {
        turns[begin + s].rec.slot_first = av.audio_slots[s].first;
      }
    }
    for (size_t i = begin; i < end; ++i) {
      rec.turns.push_back(turns[i].rec);
      if (!window_audio) rec.turns.back().slot_first = -1;
    }
    out.push_back(std::move(rec));
  };
  size_t begin = 0;
  int64_t used = prefix;
  for (size_t i = 0; i < turns.size(); ++i) {
    if (prefix + cost[i] > options_.max_tokens) {
      diag.report(source, 0,
                  fmt::format("{} turn {}: {} tokens alone, more than max_tokens {}; left out", d.dialogue_id,
                              turns[i].rec.turn_id, prefix + cost[i], options_.max_tokens),
                  "turn too long");
      if (begin < i) emit(begin, i);
      begin = i + 1;
      used = prefix;
      continue;
    }
    if (used + cost[i] > options_.max_tokens) {
      emit(begin, i);
      begin = i;
      used = prefix;
    }
    used += cost[i];
  }
  if (begin < turns.size()) emit(begin, turns.size());
  return out;
}

ShardWriter::ShardWriter(fs::path dir, ShardOptions options, json info)
    : dir_(std::move(dir)),
      options_(std::move(options)),
      info_(std::make_unique<json>(std::move(info))),
      shards_(std::make_unique<json>(json::array())) {
  options_.validate();
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw IoError(dir_.string() + ": cannot create directory: " + ec.message());
}

ShardWriter::~ShardWriter() = default;

void ShardWriter::add(Record record) {
  if (finished_) throw Error("ShardWriter::add after finish");
  pending_.push_back(std::move(record));
  if (static_cast<int64_t>(pending_.size()) >= options_.records_per_shard) flush();
}

void ShardWriter::flush() {
  if (pending_.empty()) return;
  const int n_mels = options_.n_mels;
  std::vector<int32_t> text_ids, audio_ids, turn_id;
  std::vector<uint8_t> text_mask, audio_mask, synthetic;
  std::vector<int64_t> text_off{0}, audio_off{0}, turn_off{0}, frame_off{0}, slot_first, slot_count;
  std::vector<int8_t> emotion, task;
  std::vector<float> intensity, voice;
  std::vector<uint16_t> mel;
  json ids = json::array();
  int64_t targets = 0;
  for (const Record& r : pending_) {
    text_ids.insert(text_ids.end(), r.text_ids.begin(), r.text_ids.end());
    text_mask.insert(text_mask.end(), r.text_mask.begin(), r.text_mask.end());
    audio_ids.insert(audio_ids.end(), r.audio_ids.begin(), r.audio_ids.end());
    audio_mask.insert(audio_mask.end(), r.audio_mask.begin(), r.audio_mask.end());
    text_off.push_back(static_cast<int64_t>(text_ids.size()));
    audio_off.push_back(static_cast<int64_t>(audio_ids.size()));
    for (uint8_t m : r.text_mask) targets += m;
    for (const TurnRecord& t : r.turns) {
      turn_id.push_back(t.turn_id);
      emotion.push_back(static_cast<int8_t>(t.emotion));
      intensity.push_back(t.intensity);
      voice.insert(voice.end(), t.voice, t.voice + 4);
      synthetic.push_back(t.synthetic);
      task.push_back(static_cast<int8_t>(t.task));
      slot_first.push_back(t.slot_first);
      slot_count.push_back(t.slot_count);
      mel.insert(mel.end(), t.mel.begin(), t.mel.end());
      frame_off.push_back(frame_off.back() + t.frames);
    }
    turn_off.push_back(static_cast<int64_t>(turn_id.size()));
    ids.push_back(r.dialogue_id);
  }
  const auto R = static_cast<int64_t>(pending_.size());
  const auto T = static_cast<int64_t>(turn_id.size());
  using io::Dtype;
  std::vector<io::TensorToWrite> tensors;
  tensors.push_back(tensor("text_ids", Dtype::kI32, {(int64_t)text_ids.size()}, text_ids));
  tensors.push_back(tensor("text_loss_mask", Dtype::kU8, {(int64_t)text_mask.size()}, text_mask));
  tensors.push_back(tensor("text_offsets", Dtype::kI64, {R + 1}, text_off));
  tensors.push_back(tensor("audio_ids", Dtype::kI32, {(int64_t)audio_ids.size()}, audio_ids));
  tensors.push_back(tensor("audio_loss_mask", Dtype::kU8, {(int64_t)audio_mask.size()}, audio_mask));
  tensors.push_back(tensor("audio_offsets", Dtype::kI64, {R + 1}, audio_off));
  tensors.push_back(tensor("turn_offsets", Dtype::kI64, {R + 1}, turn_off));
  tensors.push_back(tensor("turn_id", Dtype::kI32, {T}, turn_id));
  tensors.push_back(tensor("turn_emotion", Dtype::kI8, {T}, emotion));
  tensors.push_back(tensor("turn_intensity", Dtype::kF32, {T}, intensity));
  tensors.push_back(tensor("turn_voice", Dtype::kF32, {T, 4}, voice));
  tensors.push_back(tensor("turn_synthetic", Dtype::kU8, {T}, synthetic));
  tensors.push_back(tensor("turn_task", Dtype::kI8, {T}, task));
  tensors.push_back(tensor("turn_slot_first", Dtype::kI64, {T}, slot_first));
  tensors.push_back(tensor("turn_slot_count", Dtype::kI64, {T}, slot_count));
  tensors.push_back(tensor("turn_frame_offsets", Dtype::kI64, {T + 1}, frame_off));
  tensors.push_back(tensor("mel", Dtype::kF16, {frame_off.back(), n_mels}, mel));
  std::string name = shard_name(shards_->size());
  io::write_safetensors(dir_ / name, std::move(tensors),
                        {{"format", "attune-shard"}, {"version", std::to_string(kShardFormatVersion)}});
  shards_->push_back({{"file", name},
                      {"records", R},
                      {"turns", T},
                      {"text_tokens", (int64_t)text_ids.size()},
                      {"audio_tokens", (int64_t)audio_ids.size()},
                      {"target_tokens", targets},
                      {"frames", frame_off.back()},
                      {"dialogue_ids", ids}});
  totals_.records += R;
  totals_.turns += T;
  totals_.text_tokens += static_cast<int64_t>(text_ids.size());
  totals_.audio_tokens += static_cast<int64_t>(audio_ids.size());
  totals_.target_tokens += targets;
  totals_.frames += frame_off.back();
  pending_.clear();
}

json ShardWriter::finish() {
  if (finished_) throw Error("ShardWriter::finish called twice");
  flush();
  finished_ = true;
  json index = *info_;
  index["format"] = "attune-shards";
  index["version"] = kShardFormatVersion;
  index["n_mels"] = options_.n_mels;
  index["adapter_stride"] = options_.adapter_stride;
  index["max_tokens"] = options_.max_tokens;
  index["emotion_labels"] = emotion_labels();
  index["totals"] = {{"records", totals_.records},
                     {"turns", totals_.turns},
                     {"text_tokens", totals_.text_tokens},
                     {"audio_tokens", totals_.audio_tokens},
                     {"target_tokens", totals_.target_tokens},
                     {"frames", totals_.frames}};
  index["shards"] = *shards_;
  common::write_file_atomically(dir_ / kShardIndexName, index.dump(1) + "\n");
  return index;
}

// ---- reading ------------------------------------------------------------------------------------

struct ShardSet::Impl {
  fs::path dir;
  json index;
  int n_mels = 80;
  std::vector<io::SafetensorsFile> files;
  std::vector<int64_t> first_record;  // per file, plus the total at the end
  std::vector<std::vector<std::string>> ids;
};

ShardSet::ShardSet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ShardSet::ShardSet(ShardSet&&) noexcept = default;
ShardSet::~ShardSet() = default;

ShardSet ShardSet::open(const fs::path& dir) {
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  fs::path index_path = dir / kShardIndexName;
  try {
    impl->index = json::parse(common::read_file(index_path));
  } catch (const json::exception& e) {
    throw InputError(index_path.string(), std::string("malformed JSON: ") + e.what());
  }
  // attune writes the index; a hand-edited or damaged one may hold any JSON, and a field of the
  // wrong type (nlohmann's type_error) is an error in that file, not an internal one.
  auto read_index = [&] {
    const json& ix = impl->index;
    if (!ix.is_object() || ix.value("format", "") != "attune-shards") {
      throw InputError(index_path.string(), "not an attune shard index (format != attune-shards)");
    }
    if (ix.value("version", 0) != kShardFormatVersion) {
      throw InputError(index_path.string(), fmt::format("shard format version {} (this attune reads version {})",
                                                        ix.value("version", 0), kShardFormatVersion));
    }
    impl->n_mels = ix.value("n_mels", 80);
    impl->first_record.push_back(0);
    if (!ix.contains("shards") || !ix["shards"].is_array()) throw InputError(index_path.string(), "shards: missing");
    for (const json& s : ix["shards"]) {
      fs::path file = dir / s.at("file").get<std::string>();
      impl->files.push_back(io::SafetensorsFile::open(file));
      int64_t records = s.at("records").get<int64_t>();
      const io::TensorView& off = impl->files.back().tensor("text_offsets");
      if (off.numel() != records + 1) {
        throw InputError(file.string(),
                         fmt::format("text_offsets has {} entries; the index says {} records", off.numel(), records));
      }
      impl->first_record.push_back(impl->first_record.back() + records);
      impl->ids.push_back(s.at("dialogue_ids").get<std::vector<std::string>>());
    }
  };
  try {
    read_index();
  } catch (const json::exception& e) {
    throw InputError(index_path.string(), std::string("unexpected shard index content: ") + e.what());
  }
  return ShardSet(std::move(impl));
}

const json& ShardSet::index() const { return impl_->index; }
int64_t ShardSet::size() const { return impl_->first_record.back(); }

std::vector<std::string> ShardSet::dialogue_ids() const {
  std::vector<std::string> out;
  for (const auto& file_ids : impl_->ids) out.insert(out.end(), file_ids.begin(), file_ids.end());
  return out;
}

std::vector<int64_t> ShardSet::lengths(std::string_view view) const {
  if (view != "text" && view != "audio") {
    throw ConfigError("shard view '" + std::string(view) + "'; expected text or audio");
  }
  const std::string name = std::string(view) + "_offsets";
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(size()));
  for (const io::SafetensorsFile& file : impl_->files) {
    auto offsets = read_vector<int64_t>(file, name.c_str(), io::Dtype::kI64);
    for (size_t r = 0; r + 1 < offsets.size(); ++r) out.push_back(offsets[r + 1] - offsets[r]);
  }
  return out;
}

Record ShardSet::record(int64_t i) const {
  if (i < 0 || i >= size()) throw Error(fmt::format("shard record {} out of range [0, {})", i, size()));
  size_t f =
      std::upper_bound(impl_->first_record.begin(), impl_->first_record.end(), i) - impl_->first_record.begin() - 1;
  const int64_t k = i - impl_->first_record[f];
  const io::SafetensorsFile& file = impl_->files[f];
  using io::Dtype;
  // Small shards: reading whole vectors keeps this simple; training reads through the same path.
  auto text_off = read_vector<int64_t>(file, "text_offsets", Dtype::kI64);
  auto audio_off = read_vector<int64_t>(file, "audio_offsets", Dtype::kI64);
  auto turn_off = read_vector<int64_t>(file, "turn_offsets", Dtype::kI64);
  auto frame_off = read_vector<int64_t>(file, "turn_frame_offsets", Dtype::kI64);
  auto slice = [&](const char* name, Dtype dtype, auto type_tag, int64_t a, int64_t b, int64_t width = 1) {
    using T = decltype(type_tag);
    const io::TensorView& t = file.tensor(name);
    if (t.dtype != dtype || b < a || static_cast<size_t>(b * width) * sizeof(T) > t.nbytes) {
      throw InputError(file.path().string(), std::string("tensor ") + name + " does not match the offsets");
    }
    std::vector<T> out(static_cast<size_t>((b - a) * width));
    if (!out.empty()) std::memcpy(out.data(), t.data + a * width * sizeof(T), out.size() * sizeof(T));
    return out;
  };
  Record r;
  r.dialogue_id = impl_->ids[f].at(static_cast<size_t>(k));
  r.text_ids = slice("text_ids", Dtype::kI32, int32_t{}, text_off[k], text_off[k + 1]);
  r.text_mask = slice("text_loss_mask", Dtype::kU8, uint8_t{}, text_off[k], text_off[k + 1]);
  r.audio_ids = slice("audio_ids", Dtype::kI32, int32_t{}, audio_off[k], audio_off[k + 1]);
  r.audio_mask = slice("audio_loss_mask", Dtype::kU8, uint8_t{}, audio_off[k], audio_off[k + 1]);
  const int64_t t0 = turn_off[k], t1 = turn_off[k + 1];
  auto turn_ids = slice("turn_id", Dtype::kI32, int32_t{}, t0, t1);
  auto emotion = slice("turn_emotion", Dtype::kI8, int8_t{}, t0, t1);
  auto intensity = slice("turn_intensity", Dtype::kF32, float{}, t0, t1);
  auto voice = slice("turn_voice", Dtype::kF32, float{}, t0, t1, 4);
  auto synthetic = slice("turn_synthetic", Dtype::kU8, uint8_t{}, t0, t1);
  auto task = slice("turn_task", Dtype::kI8, int8_t{}, t0, t1);
  auto slot_first = slice("turn_slot_first", Dtype::kI64, int64_t{}, t0, t1);
  auto slot_count = slice("turn_slot_count", Dtype::kI64, int64_t{}, t0, t1);
  for (int64_t t = t0; t < t1; ++t) {
    const size_t j = static_cast<size_t>(t - t0);
    TurnRecord tr;
    tr.turn_id = turn_ids[j];
    tr.emotion = emotion[j];
    tr.intensity = intensity[j];
    std::copy(voice.begin() + 4 * j, voice.begin() + 4 * j + 4, tr.voice);
    tr.synthetic = synthetic[j];
    tr.task = task[j];
    tr.slot_first = slot_first[j];
    tr.slot_count = slot_count[j];
    tr.frames = frame_off[t + 1] - frame_off[t];
    tr.mel = slice("mel", Dtype::kF16, uint16_t{}, frame_off[t], frame_off[t + 1], impl_->n_mels);
    r.turns.push_back(std::move(tr));
  }
  return r;
}

}  // namespace attune::data
