#include "train/batch.h"

#include <cmath>

#include "affect/speech_style.h"
#include "affect/trace.h"
#include "attune/error.h"
#include "data/ieat.h"
#include "tts/talker.h"

namespace attune::train {
namespace {

// Flat positions whose hidden state predicts a masked token, and those tokens.
void collect_targets(const std::vector<int32_t>& ids, const std::vector<uint8_t>& mask, int64_t row, int64_t width,
                     std::vector<int64_t>& positions, std::vector<int64_t>& targets) {
  for (size_t t = 1; t < ids.size(); ++t) {
    if (!mask[t]) continue;
    positions.push_back(row * width + static_cast<int64_t>(t) - 1);
    targets.push_back(ids[t]);
  }
}

at::Tensor to_tensor(const std::vector<int64_t>& v) {
  return at::tensor(at::ArrayRef<int64_t>(v.data(), v.size()), at::kLong);
}

// One view of the records right-padded to [B, L] (ids, mask), plus that view's target positions and tokens.
struct PaddedView {
  at::Tensor ids, mask;
  std::vector<int64_t> positions, targets;
  int64_t tokens = 0;
};

PaddedView pad_view(const std::vector<data::Record>& records, bool text) {
  PaddedView v;
  int64_t width = 0;
  for (const auto& r : records)
    width = std::max<int64_t>(width, static_cast<int64_t>((text ? r.text_ids : r.audio_ids).size()));
  v.ids = at::zeros({static_cast<int64_t>(records.size()), width}, at::kLong);
  v.mask = at::zeros_like(v.ids);
  auto ia = v.ids.accessor<int64_t, 2>();
  auto ma = v.mask.accessor<int64_t, 2>();
  for (size_t b = 0; b < records.size(); ++b) {
    const auto& ids = text ? records[b].text_ids : records[b].audio_ids;
    const auto& mask = text ? records[b].text_mask : records[b].audio_mask;
    for (size_t t = 0; t < ids.size(); ++t) {
      ia[b][t] = ids[t];
      ma[b][t] = 1;
    }
    v.tokens += static_cast<int64_t>(ids.size());
    collect_targets(ids, mask, static_cast<int64_t>(b), width, v.positions, v.targets);
  }
  return v;
}

}  // namespace

std::vector<float> style_attribute_targets(const std::string& emotion, double intensity,
                                           const std::vector<std::string>& attributes) {
  return affect::style_to_attributes(affect::emotion_style(emotion, intensity), attributes);
}

BatchMaker::BatchMaker(int stage, const text::Tokenizer& tokenizer, io::StyleHeadConfig style_head)
    : stage_(stage), tokenizer_(tokenizer), style_head_(std::move(style_head)) {
  if (auto id = tokenizer.find_token("</think>")) think_end_id_ = *id;
  if (auto id = tokenizer.find_token("<think>")) think_start_id_ = *id;
  if (stage_ == 2) {
    if (think_end_id_ < 0) {
      throw ConfigError("stage 2: the tokenizer has no </think> token, so the reply's speech style has no position");
    }
    style_attribute_targets("neutral", 0.5, style_head_.style_attributes);  // validates the names
  }
}

Batch BatchMaker::make(const data::ShardSet& shards, const std::vector<int64_t>& indices) const {
  Batch batch;
  std::vector<data::Record> records;
  records.reserve(indices.size());
  for (int64_t i : indices) records.push_back(shards.record(i));
  batch.rows = static_cast<int64_t>(records.size());

  if (stage_ == 0) {
    PaddedView text = pad_view(records, /*text=*/true);
    batch.ids = text.ids;
    batch.attention_mask = text.mask;
    batch.tokens = text.tokens;
    batch.target_positions = to_tensor(text.positions);
    batch.targets = to_tensor(text.targets);
    return batch;
  }

  std::vector<int64_t> positions, targets;
  // Stages 1 and 2: the audio view.
  int64_t width = 0;
  for (const auto& r : records) {
    if (r.audio_ids.empty()) {
      throw InputError("record " + r.dialogue_id + " has no audio view (a user turn without audio)");
    }
    width = std::max<int64_t>(width, static_cast<int64_t>(r.audio_ids.size()));
    batch.tokens += static_cast<int64_t>(r.audio_ids.size());
  }
  std::vector<int64_t> style_pos, style_emotion, reply_pos, reply_owner;
  std::vector<float> style_attr;
  for (size_t b = 0; b < records.size(); ++b) {
    const data::Record& r = records[b];
    model::SlmExample ex;
    ex.ids = r.audio_ids;
    for (const data::TurnRecord& turn : r.turns) {
      if (turn.slot_first < 0) continue;
      ex.audio_slots.push_back({0, turn.slot_first, turn.slot_count});
      const int64_t n_mels = turn.frames > 0 ? static_cast<int64_t>(turn.mel.size()) / turn.frames : 0;
      at::Tensor mel = at::from_blob(const_cast<uint16_t*>(turn.mel.data()), {turn.frames, n_mels}, at::kHalf)
                           .to(at::kFloat)
                           .t()
                           .contiguous();
      ex.mels.push_back(mel);
    }
    collect_targets(r.audio_ids, r.audio_mask, static_cast<int64_t>(b), width, positions, targets);

    if (stage_ == 2) {
      // Each run of masked tokens is one assistant turn: <think> ... </think> reply <|im_end|>.
      const auto& ids = r.audio_ids;
      for (const auto& [t, end] : data::target_runs(r.audio_mask)) {
        size_t think_end = t;
        while (think_end < end && ids[think_end] != think_end_id_) ++think_end;
        if (think_end < end) {
          size_t from = t;
          if (ids[from] == think_start_id_) ++from;
          std::string thinking = tokenizer_.decode(std::span<const int32_t>(ids.data() + from, think_end - from));
          auto style = affect::parse_style_line(thinking);
          auto it = style ? std::find(style_head_.emotions.begin(), style_head_.emotions.end(), style->emotion)
                          : style_head_.emotions.end();
          if (style && it != style_head_.emotions.end()) {
            const auto owner = static_cast<int64_t>(style_pos.size());
            style_pos.push_back(static_cast<int64_t>(b) * width + static_cast<int64_t>(think_end));
            style_emotion.push_back(it - style_head_.emotions.begin());
            auto attr = style_attribute_targets(style->emotion, style->intensity, style_head_.style_attributes);
            style_attr.insert(style_attr.end(), attr.begin(), attr.end());
            // The reply text: after </think> up to (not including) the closing <|im_end|>.
            for (size_t p = think_end + 1; p + 1 < end; ++p) {
              reply_pos.push_back(static_cast<int64_t>(b) * width + static_cast<int64_t>(p));
              reply_owner.push_back(owner);
            }
          }
        }
      }
    }
    batch.examples.push_back(std::move(ex));
  }
  batch.target_positions = to_tensor(positions);
  batch.targets = to_tensor(targets);

  if (stage_ == 1) {
    PaddedView text = pad_view(records, /*text=*/true);
    if (text.targets != targets) {
      throw InputError("shards: the text and audio views of a batch carry different targets (" +
                       std::to_string(text.targets.size()) + " vs " + std::to_string(targets.size()) +
                       " tokens); rebuild them with `attune data build`");
    }
    batch.teacher_ids = text.ids;
    batch.teacher_mask = text.mask;
    batch.teacher_positions = to_tensor(text.positions);
  }
  if (stage_ == 2) {
    batch.style_positions = to_tensor(style_pos);
    batch.style_emotion = to_tensor(style_emotion);
    const auto a = static_cast<int64_t>(style_head_.style_attributes.size());
    batch.style_attributes =
        at::tensor(at::ArrayRef<float>(style_attr.data(), style_attr.size()), at::kFloat).view({-1, a});
    batch.reply_positions = to_tensor(reply_pos);
    batch.reply_owner = to_tensor(reply_owner);
  }
  return batch;
}

}  // namespace attune::train
