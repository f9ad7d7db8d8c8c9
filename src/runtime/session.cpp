// attune::Model and attune::Session (attune/runtime.h): one KV cache per dialogue, fed each turn's
// own tokens only; the thinking is generated first and read for the heard emotion, the speech-style
// head turns the hidden state at </think> into the reply's voice, and the reply is spoken sentence
// by sentence while it is generated (TalkerStream). docs/runtime.md describes the policy choices.
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <unordered_set>

#include "attune/error.h"
#include "attune/runtime.h"
#include "audio/log_mel.h"
#include "audio/prosody.h"
#include "data/ieat.h"
#include "io/model_config.h"
#include "model/generate.h"
#include "model/sampling.h"
#include "model/spoken_language_model.h"
#include "model/talker_head.h"
#include "model/torch_error.h"
#include "runtime/reply_rules.h"
#include "runtime/talker_stream.h"
#include "runtime/thinking_reader.h"
#include "runtime/turn_audio.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"
#include "tts/talker.h"

namespace fs = std::filesystem;

namespace attune {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Weights below this size run in fp32 on a CPU when the dtype is "auto" (see Model::load).
constexpr std::uintmax_t kSmallModelBytes = 512ull << 20;

// The style when neither the head nor a style line says anything (docs/ieat.md: neutral 0.30).
// The share of the next token's mass on emotion words that marks the thinking's emotion slot
// ("I hear someone ___": ~0.5 on "calm" with the rest on adverbs and other words).
constexpr double kEvidenceSlotMass = 0.2;

SpeechStyle default_style() { return tts::emotion_style("neutral", 0.3); }

void check_max_new_tokens(const SessionOptions& options) {
  if (options.max_new_tokens < 1)
    throw ConfigError(fmt::format("max_new_tokens = {}; expected >= 1", options.max_new_tokens));
}

}  // namespace

const std::vector<std::string>& emotion_labels() { return tts::emotion_labels(); }

double TurnTimings::decode_tokens_per_second() const {
  const double span = last_token - first_token;
  return generated_tokens > 1 && span > 0 ? static_cast<double>(generated_tokens - 1) / span : 0.0;
}

struct Model::Impl {
  fs::path dir;
  RuntimeOptions options;
  std::shared_ptr<model::SpokenLanguageModelImpl> slm;
  std::shared_ptr<model::TalkerHeadImpl> talker_head;
  std::optional<text::ChatTemplate> chat;
  std::optional<audio::LogMelExtractor> mel;
  std::string dtype, device;
  double load_seconds = 0;
  std::unordered_set<int32_t> stop_ids;
  int32_t think_start = -1, think_end = -1, im_end = -1;
  std::vector<int32_t> newline;  // "\n" after <|im_end|>
  // Per label (emotion_labels() order), the ids a trace's emotion word can start with.
  std::array<std::vector<int32_t>, tts::kEmotionCount> label_ids;
  // Every first token of an emotion word and the labels whose words start with it (shared ones too).
  std::unordered_map<int32_t, std::vector<size_t>> word_start_labels;
  // The encoder heads' use (io::EncoderHeadsConfig, or RuntimeOptions' overrides); head_index[i]: the
  // heads' output for emotion_labels()[i], -1 when the heads lack it.
  bool heard_from_head = false;
  double evidence_weight = 0;
  std::array<int64_t, tts::kEmotionCount> head_index{};

  void find_label_ids() {
    const text::Tokenizer& tok = chat->tokenizer();
    std::array<std::unordered_set<int32_t>, tts::kEmotionCount> sets;
    std::unordered_map<int32_t, int> owners;
    for (size_t i = 0; i < tts::kEmotionCount; ++i) {
      for (const std::string& word : runtime::emotion_words(emotion_labels()[i])) {
        for (const std::string& form : {word, " " + word}) {
          const std::vector<int32_t> ids = tok.encode(form);
          if (!ids.empty() && sets[i].insert(ids[0]).second) owners[ids[0]] += 1;
        }
      }
    }
    // A first token shared by two labels' words says nothing about which one follows.
    for (size_t i = 0; i < tts::kEmotionCount; ++i) {
      for (int32_t id : sets[i]) {
        if (owners[id] == 1) label_ids[i].push_back(id);
        word_start_labels[id].push_back(i);
      }
    }
  }
};

struct Session::Impl {
  std::shared_ptr<const Model::Impl> model;
  SessionOptions options;
  int64_t budget = 0;
  std::unique_ptr<tts::Talker> talker;
  tts::Voice voice;

  // What the cache holds: the system part, then per kept exchange its user ids (with the audio
  // embeddings at its slots) and the generated assistant ids; "<|im_end|>\n" closes each exchange
  // when the next one is fed.
  struct Exchange {
    std::vector<int32_t> user_ids;
    std::vector<text::AudioSlot> slots;
    at::Tensor audio;  // [N, C]
    std::vector<int32_t> assistant_ids;
  };
  std::vector<int32_t> system_ids;
  std::vector<Exchange> exchanges;  // kept in the cache
  model::KvCache cache;
  std::vector<int32_t> context_ids;       // every id in the cache, in order (for the repetition history)
  std::vector<std::string> heard_labels;  // every turn's heard label, dropped ones included
  size_t turns = 0;
  size_t dropped = 0;

  at::Tensor embed(const std::vector<int32_t>& ids, const std::vector<text::AudioSlot>& slots,
                   const at::Tensor& audio) {
    model::SpokenLanguageModelImpl& slm = *model->slm;
    if (slots.empty()) return slm.splice(ids, {}, {});
    return slm.splice(ids, slots, {audio});
  }

  std::vector<int32_t> closing() const {
    std::vector<int32_t> ids{model->im_end};
    ids.insert(ids.end(), model->newline.begin(), model->newline.end());
    return ids;
  }

  // Drops the oldest exchanges until `incoming` new tokens plus the reply fit the budget, then
  // re-reads what is kept. Returns the number dropped now.
  size_t make_room(int64_t incoming) {
    const int64_t reply = options.max_new_tokens;
    auto used_by = [&](size_t from) {
      int64_t n = static_cast<int64_t>(system_ids.size());
      for (size_t i = from; i < exchanges.size(); ++i) {
        n += static_cast<int64_t>(exchanges[i].user_ids.size() + exchanges[i].assistant_ids.size() + closing().size());
      }
      return n;
    };
    if (used_by(0) + incoming + reply <= budget) return 0;
    size_t drop = 0;
    while (drop < exchanges.size() && used_by(drop) + incoming + reply > budget) ++drop;
    if (static_cast<int64_t>(system_ids.size()) + incoming + reply > budget) {
      throw ConfigError(fmt::format(
          "the context budget of {} tokens cannot hold this turn: {} tokens for the system message, {} for the turn "
          "and {} for the reply (raise --context or lower --max-new-tokens)",
          budget, system_ids.size(), incoming, reply));
    }
    exchanges.erase(exchanges.begin(), exchanges.begin() + static_cast<std::ptrdiff_t>(drop));
    dropped += drop;
    reread();
    return drop;
  }

  // Empties the cache and reads the system message and the kept exchanges into it again (their
  // audio embeddings are kept, so nothing is re-encoded).
  void reread() {
    cache.reset();
    context_ids.clear();
    std::vector<int32_t> ids = system_ids;
    std::vector<text::AudioSlot> slots;
    std::vector<at::Tensor> audio;
    for (const Exchange& e : exchanges) {
      const auto offset = static_cast<int64_t>(ids.size());
      ids.insert(ids.end(), e.user_ids.begin(), e.user_ids.end());
      for (text::AudioSlot s : e.slots) {
        s.first += offset;
        slots.push_back(s);
        audio.push_back(e.audio);
      }
      ids.insert(ids.end(), e.assistant_ids.begin(), e.assistant_ids.end());
      const std::vector<int32_t> close = closing();
      ids.insert(ids.end(), close.begin(), close.end());
    }
    if (!exchanges.empty()) {
      ids.resize(ids.size() - closing().size());  // the last exchange is closed with the new turn
      at::Tensor x = model->slm->splice(ids, slots, audio);
      model->slm->language_model().forward_embeds(x, {.cache = &cache, .skip_logits = true});
    } else if (!ids.empty()) {
      model->slm->language_model().forward(
          at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong).unsqueeze(0),
          {.cache = &cache, .skip_logits = true});
    }
    context_ids = ids;
  }

  // The user's part of a turn, heard, rendered and read into the cache (the logits of its last position in `out`).
  struct UserPart {
    Exchange exchange;
    model::ForwardOutput out;
    // The encoder heads' posterior over emotion_labels() and intensity (none without heads or audio).
    std::optional<std::array<double, tts::kEmotionCount>> head_probabilities;
    double head_intensity = 0;
  };
  UserPart read_user(const AudioBuffer& audio_in, std::string_view text_in, const std::string& what,
                     TurnTimings& timings, std::vector<std::string>& warnings);
  void add_exchange(const AudioBuffer& audio_in, std::string_view text_in, std::string_view reply_text,
                    std::optional<std::string_view> thinking);
  Reply turn(const AudioBuffer& audio_in, std::string_view text_in, const TurnCallbacks& cb);
};

Session::Impl::UserPart Session::Impl::read_user(const AudioBuffer& audio_in, std::string_view text_in,
                                                 const std::string& what, TurnTimings& timings,
                                                 std::vector<std::string>& warnings) {
  const auto t0 = Clock::now();
  const Model::Impl& m = *model;
  if (audio_in.samples.empty() && text_in.empty()) throw InputError(what, "no audio and no text");
  std::optional<runtime::TurnAudio> audio;
  if (!audio_in.samples.empty()) {
    audio = runtime::prepare_turn_audio(audio_in, what);
    warnings = audio->warnings;
    timings.audio_seconds = audio->duration_s;
  }
  model::SpokenLanguageModelImpl& slm = *m.slm;
  model::LanguageModelImpl& lm = slm.language_model();

  // 1. Hear: log-mel, encoder (and its heads), adapter.
  at::Tensor audio_embeds;
  std::optional<std::array<double, tts::kEmotionCount>> head_probabilities;
  double head_intensity = 0;
  int64_t audio_tokens = 0;
  if (audio) {
    audio::LogMel mel = m.mel->compute(audio->samples);
    timings.features = seconds_since(t0);
    const auto t1 = Clock::now();
    const at::Tensor log_mel = at::from_blob(mel.data.data(), {mel.n_mels, mel.frames}, at::kFloat);
    model::EncoderHeadsOutput heard;
    at::Tensor prosody;
    if (const model::EncoderHeadsImpl* heads = slm.encoder_heads();
        heads && !heads->config().prosody_features.empty()) {
      std::vector<float> p = heads->select_prosody(audio::analyse_prosody(audio->samples, 16000).values);
      prosody = at::tensor(p, at::kFloat).unsqueeze(0);
    }
    audio_embeds = slm.embed_audio({log_mel}, &heard, prosody)[0];
    if (heard.emotion_logits.defined()) {
      const at::Tensor p = at::softmax(heard.emotion_logits[0].to(at::kCPU, at::kDouble), -1).contiguous();
      std::array<double, tts::kEmotionCount> probabilities{};
      double total = 0;
      for (size_t i = 0; i < tts::kEmotionCount; ++i) {
        if (m.head_index[i] >= 0) probabilities[i] = p[m.head_index[i]].item<double>();
        total += probabilities[i];
      }
      if (total > 0) {
        for (double& v : probabilities) v /= total;
        head_probabilities = probabilities;
        head_intensity = heard.intensity[0].item<double>();
      }
    }
    audio_tokens = audio_embeds.size(0);
    timings.encoder = seconds_since(t1);
  }

  // 2. The turn's tokens: close the previous exchange, the user message, the assistant prompt.
  text::RenderOptions render;
  render.add_generation_prompt = true;
  const text::RenderedChat user =
      m.chat->render({{text::Role::kUser, std::string(text_in), audio_tokens, std::nullopt}}, render);
  if (turns == 0 && system_ids.empty() && !options.system.empty()) {
    system_ids = m.chat->render({{text::Role::kSystem, options.system, 0, std::nullopt}}).ids;
    const at::Tensor ids = at::tensor(std::vector<int64_t>(system_ids.begin(), system_ids.end()), at::kLong);
    lm.forward(ids.unsqueeze(0), {.cache = &cache, .skip_logits = true});
    context_ids = system_ids;
  }
  const int64_t incoming = static_cast<int64_t>(user.ids.size() + (exchanges.empty() ? 0 : closing().size()));
  const auto t2 = Clock::now();  // prefill: re-reading kept history (when needed) and the turn
  const size_t dropped_now = make_room(incoming);
  if (!options.reuse_cache && !dropped_now) reread();  // the baseline bench_runtime measures
  if (dropped_now) {
    warnings.push_back(fmt::format(
        "the dialogue outgrew the {}-token context: the oldest {} exchange(s) were dropped from the model's view "
        "(the trajectory keeps them)",
        budget, dropped_now));
  }
  std::vector<int32_t> ids = exchanges.empty() ? std::vector<int32_t>{} : closing();
  std::vector<text::AudioSlot> slots = user.audio_slots;
  for (text::AudioSlot& s : slots) s.first += static_cast<int64_t>(ids.size());
  ids.insert(ids.end(), user.ids.begin(), user.ids.end());

  // 3. Read the turn into the cache.
  const at::Tensor x = embed(ids, slots, audio_embeds);
  UserPart part{Exchange{user.ids, user.audio_slots, audio_embeds, {}},
                lm.forward_embeds(x, {.cache = &cache, .logits_to_keep = 1}), head_probabilities, head_intensity};
  context_ids.insert(context_ids.end(), ids.begin(), ids.end());
  timings.prefill = seconds_since(t2);
  timings.prompt_tokens = static_cast<int64_t>(ids.size());
  return part;
}

void Session::Impl::add_exchange(const AudioBuffer& audio_in, std::string_view text_in, std::string_view reply_text,
                                 std::optional<std::string_view> thinking) {
  const Model::Impl& m = *model;
  const std::string what = fmt::format("history turn {}", turns + 1);
  model::with_torch_context("a past exchange", [&] {
    c10::InferenceMode inference;
    TurnTimings timings;
    std::vector<std::string> warnings;
    UserPart user = read_user(audio_in, text_in, what, timings, warnings);
    // The assistant's words as the template writes them, after "<|im_start|>assistant\n" and
    // before the closing "<|im_end|>\n" (which the next turn adds).
    text::ChatMessage said{text::Role::kAssistant, std::string(reply_text), 0, std::nullopt};
    if (thinking) said.thinking = std::string(*thinking);
    std::vector<int32_t> ids = m.chat->render({said}).ids;
    const std::vector<int32_t> head = m.chat->tokenizer().encode("<|im_start|>assistant\n");
    const std::vector<int32_t> tail = closing();
    if (ids.size() < head.size() + tail.size() || !std::equal(head.begin(), head.end(), ids.begin()))
      throw InputError(what, "the chat template renders an assistant message in an unexpected form");
    ids = std::vector<int32_t>(ids.begin() + static_cast<std::ptrdiff_t>(head.size()),
                               ids.end() - static_cast<std::ptrdiff_t>(tail.size()));
    if (cache.length() + static_cast<int64_t>(ids.size()) + options.max_new_tokens > budget)
      throw InputError(what, fmt::format("the history does not fit the {}-token context", budget));
    if (!ids.empty()) {
      model::LanguageModelImpl& lm = m.slm->language_model();
      lm.forward(at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong).unsqueeze(0),
                 {.cache = &cache, .skip_logits = true});
    }
    user.exchange.assistant_ids = ids;
    context_ids.insert(context_ids.end(), ids.begin(), ids.end());
    exchanges.push_back(std::move(user.exchange));
    heard_labels.emplace_back();
    ++turns;
  });
}

Reply Session::Impl::turn(const AudioBuffer& audio_in, std::string_view text_in, const TurnCallbacks& cb) {
  const auto t0 = Clock::now();
  const Model::Impl& m = *model;
  Reply reply;
  reply.turn = turns + 1;
  const std::string what = fmt::format("turn {}", reply.turn);
  return model::with_torch_context("the dialogue turn", [&] {
    c10::InferenceMode inference;
    model::LanguageModelImpl& lm = m.slm->language_model();
    UserPart user = read_user(audio_in, text_in, what, reply.timings, reply.warnings);
    Exchange& exchange = user.exchange;
    model::ForwardOutput& out = user.out;

    // 4. Generate: thinking, </think> (-> the speech style), then the reply, spoken as it comes.
    model::SamplingOptions sampling;
    sampling.greedy = options.temperature <= 0;
    if (!sampling.greedy) sampling.temperature = options.temperature;
    sampling.top_p = options.top_p;
    sampling.seed = options.seed + turns;
    model::Sampler sampler(sampling);
    text::StreamDecoder decoder(m.chat->tokenizer());
    runtime::TalkerStream speech(options.speak ? talker.get() : nullptr, voice, t0);

    enum class Part { kBeforeThinking, kThinking, kReply } part = Part::kBeforeThinking;
    std::string raw_thinking, reply_text;
    std::vector<int32_t> reply_ids;  // the reply's tokens, for the reply rules
    int64_t thinking_tokens = 0;
    std::optional<SpeechStyle> head_style;
    // Per thinking token: where its text starts in raw_thinking and the label distribution it was drawn from.
    struct LabelStep {
      size_t offset;
      std::array<double, tts::kEmotionCount> mass;
    };
    std::vector<LabelStep> label_steps;
    bool evidence_pending = m.evidence_weight > 0 && user.head_probabilities.has_value();
    std::vector<float> row;
    auto take_row = [&](const at::Tensor& logits) {
      const at::Tensor r = logits[0][logits.size(1) - 1].to(at::kCPU, at::kFloat).contiguous();
      row.assign(r.data_ptr<float>(), r.data_ptr<float>() + r.numel());
    };
    take_row(out.logits);
    const int64_t max_positions = budget;
    reply.stop_reason = "max tokens";
    for (int64_t step = 0; step < options.max_new_tokens; ++step) {
      if (cb.should_stop && cb.should_stop()) {
        reply.stop_reason = "cancelled";
        break;
      }
      std::optional<LabelStep> label_step;
      if (part != Part::kReply) {
        std::vector<double> p = model::softmax(row);
        auto label_mass = [&] {
          LabelStep s{raw_thinking.size(), {}};
          for (size_t i = 0; i < tts::kEmotionCount; ++i) {
            for (int32_t id : m.label_ids[i]) s.mass[i] += p[static_cast<size_t>(id)];
          }
          return s;
        };
        LabelStep s = label_mass();
        // The evidence path: where the thinking names the feeling (a fifth or more of the next
        // token's mass on the first tokens of emotion words), each such token gains w x log of the head's
        // probability for the labels whose words start with it.
        if (evidence_pending) {
          double word_mass = 0;
          for (const auto& [id, labels] : m.word_start_labels) word_mass += p[static_cast<size_t>(id)];
          if (word_mass >= kEvidenceSlotMass) {
            for (const auto& [id, labels] : m.word_start_labels) {
              double q = 0;
              for (size_t i : labels) q += (*user.head_probabilities)[i];
              row[static_cast<size_t>(id)] += static_cast<float>(m.evidence_weight * std::log(std::max(q, 1e-6)));
            }
            p = model::softmax(row);
            s = label_mass();
          }
        }
        label_step = s;
      }
      if (part == Part::kThinking) {
        // The turn cannot end inside the thinking: the reply would be lost.
        runtime::ban_tokens(row, m.stop_ids);
      }
      if (part == Part::kThinking && m.think_end >= 0 && thinking_tokens >= options.max_thinking_tokens) {
        // A thinking that runs this long is looping: close it, so that the turn still has a reply.
        std::fill(row.begin(), row.end(), -std::numeric_limits<float>::infinity());
        row[static_cast<size_t>(m.think_end)] = 0;
        reply.warnings.push_back(
            fmt::format("the thinking reached {} tokens and was closed (max_thinking_tokens)", thinking_tokens));
      }
      if (part == Part::kReply) {
        runtime::constrain_reply(row, reply_ids,
                                 {.min_tokens = options.min_reply_tokens,
                                  .no_repeat_ngram = options.no_repeat_ngram,
                                  .repetition_penalty = options.reply_repetition_penalty},
                                 m.stop_ids);
      }
      const int32_t id = sampler.sample(row, context_ids);
      // The evidence applies until the thinking has named a feeling (an adverb such as "fairly" may
      // come first) or reached the intensity that follows it.
      if (evidence_pending && (m.word_start_labels.count(id) || raw_thinking.find('(') != std::string::npos)) {
        evidence_pending = false;
      }
      if (step == 0) reply.timings.first_token = seconds_since(t0);
      reply.timings.generated_tokens += 1;
      if (m.stop_ids.count(id)) {
        reply.stop_reason = "stop token";
        break;
      }
      exchange.assistant_ids.push_back(id);
      context_ids.push_back(id);
      if (id == m.think_start) {
        part = Part::kThinking;
      } else if (id == m.think_end) {
        part = Part::kReply;
        raw_thinking += decoder.finish();
      } else if (id < m.chat->tokenizer().vocab_size()) {
        std::string piece;
        try {
          piece = decoder.push(id);
        } catch (const InputError&) {  // an id without a token (padded vocabulary): no text
        }
        if (part == Part::kThinking) ++thinking_tokens;
        if (part == Part::kReply) {
          reply_ids.push_back(id);
          if (reply_text.empty()) {
            // Leading blank lines after </think> are layout, not speech.
            const size_t keep = piece.find_first_not_of(" \n\r\t");
            piece = keep == std::string::npos ? "" : piece.substr(keep);
            if (!piece.empty()) reply.timings.first_reply_token = seconds_since(t0);
          }
          reply_text += piece;
          speech.push_text(piece);
          if (cb.on_text && !piece.empty()) cb.on_text(piece);
        } else {
          if (label_step) label_steps.push_back(*label_step);
          raw_thinking += piece;
          if (cb.on_thinking && !piece.empty()) cb.on_thinking(piece);
        }
      }
      speech.deliver(cb.on_audio);
      if (cache.length() + 1 > max_positions) {
        reply.stop_reason = "context full";
        break;
      }
      const at::Tensor next = at::full({1, 1}, static_cast<int64_t>(id), at::TensorOptions().dtype(at::kLong));
      out = lm.forward(next, {.cache = &cache, .logits_to_keep = 1});
      if (id == m.think_end && m.talker_head) {
        // The hidden state at </think> is what the head was trained on (stage 2).
        const at::Tensor h = out.last_hidden_state[0][-1].unsqueeze(0);
        model::TalkerOutput t = m.talker_head->forward(h);
        const at::Tensor e = t.emotion_logits[0].to(at::kCPU, at::kFloat);
        const at::Tensor a = t.attributes[0].to(at::kCPU, at::kFloat).contiguous();
        const io::TalkerConfig& tc = m.talker_head->config();
        const std::string emotion = tc.emotions.at(static_cast<size_t>(e.argmax().item<int64_t>()));
        head_style = tts::style_from_attributes(
            emotion, std::vector<float>(a.data_ptr<float>(), a.data_ptr<float>() + a.numel()), tc.style_attributes);
      }
      if (id == m.think_end) {
        if (head_style) {
          reply.style = *head_style;
          reply.style_source = "talker head";
        } else if (auto s = data::parse_style_line(raw_thinking)) {
          reply.style = tts::emotion_style(s->emotion, s->intensity);
          reply.style_source = "style line";
        } else {
          reply.style = default_style();
          reply.style_source = "default";
        }
        speech.set_style(reply.style);
      }
      take_row(out.logits);
    }
    if (part == Part::kReply) {
      const std::string tail = decoder.finish();
      reply_text += tail;
      speech.push_text(tail);
      if (cb.on_text && !tail.empty()) cb.on_text(tail);
      if (reply.stop_reason == "max tokens" || reply.stop_reason == "context full") {
        // Out of budget mid-sentence: the reply ends at its last full sentence (text and speech).
        const std::string cut = runtime::end_at_sentence(reply_text);
        if (cut.size() < reply_text.size()) {
          reply_text = cut;
          speech.drop_unfinished();
        }
      }
    } else {
      raw_thinking += decoder.finish();
      // No </think>: the thinking never closed, so there is no reply (and no style from the head).
      reply.style = default_style();
      reply.style_source = "default";
      if (part == Part::kBeforeThinking) {
        // The model answered without a thinking block: what it wrote is the reply.
        const text::ThinkingSplit split = text::split_thinking(raw_thinking);
        reply_text = split.reply;
        raw_thinking = split.thinking;
        speech.set_style(reply.style);
        speech.push_text(reply_text);
        if (cb.on_text && !reply_text.empty()) cb.on_text(reply_text);
      } else {
        reply.warnings.push_back(
            "the thinking did not finish within the token limit, so there is no reply "
            "(raise --max-new-tokens)");
      }
    }
    reply.timings.last_token = seconds_since(t0);

    // 5. What was heard, from the thinking (and the probabilities it was chosen with).
    const size_t from = raw_thinking.find_first_not_of(" \n\r\t");
    const size_t to = raw_thinking.find_last_not_of(" \n\r\t");
    reply.thinking = from == std::string::npos ? "" : raw_thinking.substr(from, to - from + 1);
    const runtime::ThinkingEmotion heard = runtime::read_heard_emotion(raw_thinking);
    reply.thinking_label = heard.label;
    if (user.head_probabilities) {
      const std::array<double, tts::kEmotionCount>& p = *user.head_probabilities;
      reply.head_label = emotion_labels()[static_cast<size_t>(std::max_element(p.begin(), p.end()) - p.begin())];
    }
    if (m.heard_from_head && user.head_probabilities) {
      const auto& labels = emotion_labels();
      const std::array<double, tts::kEmotionCount>& p = *user.head_probabilities;
      reply.emotion.label = reply.head_label;
      reply.emotion.intensity = user.head_intensity;
      reply.emotion.source = "encoder head";
      for (size_t i = 0; i < tts::kEmotionCount; ++i) reply.emotion.probabilities.emplace_back(labels[i], p[i]);
    } else if (!heard.label.empty()) {
      reply.emotion.label = heard.label;
      reply.emotion.intensity = heard.intensity;
      reply.emotion.source = "thinking";
      std::array<double, tts::kEmotionCount> mass{};
      for (size_t i = 0; i < label_steps.size(); ++i) {
        const size_t end = i + 1 < label_steps.size() ? label_steps[i + 1].offset : raw_thinking.size();
        if (label_steps[i].offset <= heard.word_offset && heard.word_offset < end) mass = label_steps[i].mass;
      }
      const auto& labels = emotion_labels();
      const size_t index = static_cast<size_t>(std::find(labels.begin(), labels.end(), heard.label) - labels.begin());
      double total = 0;
      for (double v : mass) total += v;
      if (total <= 0 || mass[index] <= 0) {
        mass.fill(0);
        mass[index] = 1;
        total = 1;
      }
      for (size_t i = 0; i < tts::kEmotionCount; ++i)
        reply.emotion.probabilities.emplace_back(labels[i], mass[i] / total);
    }
    heard_labels.push_back(reply.emotion.label);
    reply.trajectory = heard_labels;
    reply.trajectory_text = runtime::read_trajectory_sentence(raw_thinking);

    // 6. The reply text (never with thinking tags) and the rest of its audio.
    reply.text = text::split_thinking(reply_text).reply;
    speech.finish(cb.on_audio);
    reply.audio = speech.audio();
    reply.timings.first_audio = speech.first_audio_seconds();
    reply.timings.total = seconds_since(t0);

    exchanges.push_back(std::move(exchange));
    ++turns;
    reply.context_tokens = cache.length();
    reply.dropped_turns = dropped;
    return reply;
  });
}

// ---- Model ----------------------------------------------------------------------------------------

Model::Model(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::load(const fs::path& dir, const RuntimeOptions& options) {
  const auto t0 = Clock::now();
  if (!fs::is_directory(dir))
    throw InputError(dir.string(), "not a model directory (expected config.json, model.safetensors, tokenizer.json)");
  model::require_spoken_model(dir);
  if (options.speak) (void)tts::make_talker(options.talker);  // names the known ones (engines start on first use)
  auto impl = std::make_shared<Impl>();
  impl->dir = dir;
  impl->options = options;
  model::ModelLoadOptions load;
  load.dtype = options.dtype;
  load.device = options.device;
  model::SlmLoadOptions slm_options = model::resolve_slm_load_options(load);
  if (options.dtype == "auto" && slm_options.device.is_cpu()) {
    // A small model decodes faster in fp32 on a CPU even with native bf16: one token is many small
    // kernels, and bf16 adds casts (bench_runtime: 197 vs 149 tokens/s for attune-small).
    std::error_code ec;
    const auto bytes = fs::file_size(dir / "model.safetensors", ec);
    if (!ec && bytes < kSmallModelBytes) slm_options.dtype = at::kFloat;
  }
  impl->dtype = slm_options.int8_language_model ? "int8" : slm_options.dtype == at::kBFloat16 ? "bf16" : "fp32";
  impl->device = slm_options.device.str();
  if (options.threads > 0) model::set_num_threads(options.threads);
  model::with_torch_context("loading the spoken language model", [&] {
    impl->slm = model::SpokenLanguageModelImpl::from_pretrained(dir, slm_options);
    impl->slm->eval();
    impl->talker_head = model::TalkerHeadImpl::from_pretrained(dir, impl->slm->config().talker, slm_options.device);
    if (impl->talker_head) {
      impl->talker_head->to(at::kFloat);
      impl->talker_head->eval();
    }
  });
  impl->chat.emplace(model::load_slm_tokenizer(dir, impl->slm->config().language_model.config.vocab_size));
  const text::Tokenizer& tok = impl->chat->tokenizer();
  for (int32_t id : impl->chat->stop_ids()) impl->stop_ids.insert(id);
  auto require = [&](const char* token) {
    const auto id = tok.find_token(token);
    if (!id)
      throw InputError(tok.source(),
                       std::string("no ") + token + " token: the runtime needs the chat and thinking tokens");
    return *id;
  };
  impl->think_start = require("<think>");
  impl->think_end = require("</think>");
  impl->im_end = require("<|im_end|>");
  impl->newline = tok.encode("\n");
  impl->find_label_ids();
  if (const auto& heads = impl->slm->config().encoder_heads) {
    const std::string from = options.heard_from.empty() ? heads->heard_from : options.heard_from;
    if (from != "head" && from != "thinking") {
      throw ConfigError("heard_from: expected \"head\" or \"thinking\", got \"" + from + "\"");
    }
    impl->heard_from_head = from == "head";
    impl->evidence_weight = options.evidence_weight >= 0 ? options.evidence_weight : heads->evidence_weight;
    for (size_t i = 0; i < tts::kEmotionCount; ++i) {
      const auto it = std::find(heads->emotions.begin(), heads->emotions.end(), emotion_labels()[i]);
      impl->head_index[i] = it == heads->emotions.end() ? -1 : it - heads->emotions.begin();
    }
  }
  impl->mel.emplace(model::slm_log_mel_options(impl->slm->config()));
  impl->load_seconds = seconds_since(t0);
  return Model(std::move(impl));
}

Session Model::open_session(const SessionOptions& options) const {
  check_max_new_tokens(options);
  if (options.context_tokens < 0)
    throw ConfigError(fmt::format("context_tokens = {}; expected >= 0", options.context_tokens));
  auto s = std::make_unique<Session::Impl>();
  s->model = impl_;
  s->options = options;
  const int64_t max_positions = impl_->slm->config().language_model.config.max_position_embeddings;
  s->budget = options.context_tokens > 0 ? std::min(options.context_tokens, max_positions) : max_positions;
  s->voice = tts::find_voice(options.voice);
  if (impl_->options.speak) s->talker = tts::make_talker(impl_->options.talker);
  s->cache = model::with_torch_context("allocating the KV cache", [&] {
    return impl_->slm->language_model().make_cache(1, std::min<int64_t>(s->budget, 1024), s->budget);
  });
  return Session(std::move(s));
}

std::string Model::describe() const {
  int64_t count = 0;
  for (const auto& p : impl_->slm->parameters()) count += p.numel();
  if (impl_->talker_head) {
    for (const auto& p : impl_->talker_head->parameters()) count += p.numel();
  }
  return fmt::format("{} | {} on {} | {:.1f}M parameters | speech-style head: {}", impl_->dir.filename().string(),
                     impl_->dtype, impl_->device, static_cast<double>(count) / 1e6, impl_->talker_head ? "yes" : "no");
}
fs::path Model::directory() const { return impl_->dir; }
int64_t Model::context_length() const { return impl_->slm->config().language_model.config.max_position_embeddings; }
double Model::load_seconds() const { return impl_->load_seconds; }
bool Model::has_talker_head() const { return impl_->talker_head != nullptr; }

// ---- Session --------------------------------------------------------------------------------------

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

Reply Session::turn(const AudioBuffer& audio, std::string_view text, const TurnCallbacks& callbacks) {
  return impl_->turn(audio, text, callbacks);
}

void Session::add_exchange(const AudioBuffer& audio, std::string_view text, std::string_view reply,
                           std::optional<std::string_view> thinking) {
  impl_->add_exchange(audio, text, reply, thinking);
}

void Session::reset() {
  impl_->cache.reset();
  impl_->exchanges.clear();
  impl_->system_ids.clear();
  impl_->context_ids.clear();
  impl_->heard_labels.clear();
  impl_->turns = 0;
  impl_->dropped = 0;
}
void Session::set_options(const SessionOptions& options) {
  check_max_new_tokens(options);
  impl_->voice = tts::find_voice(options.voice);
  const SessionOptions kept = impl_->options;
  impl_->options = options;
  impl_->options.system = kept.system;
  impl_->options.context_tokens = kept.context_tokens;
}
size_t Session::turns() const { return impl_->turns; }
int64_t Session::context_tokens() const { return impl_->cache.length(); }
int64_t Session::context_budget() const { return impl_->budget; }

}  // namespace attune
