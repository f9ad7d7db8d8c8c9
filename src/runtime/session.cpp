// attune::Model and attune::Session (attune/runtime.h): one KV cache per dialogue, fed each turn's
// own tokens only; the thinking is generated first and read for the heard emotion, the speech-style
// head turns the hidden state at </think> into the reply's voice, and the reply is spoken sentence
// by sentence while it is generated (SpeechStream). docs/runtime.md describes the policy choices.
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

#include "affect/emotions.h"
#include "affect/speech_style.h"
#include "affect/trace.h"
#include "attune/error.h"
#include "attune/runtime.h"
#include "audio/log_mel.h"
#include "audio/prosody.h"
#include "data/ieat.h"
#include "data/ieat_templates.h"
#include "io/model_config.h"
#include "model/encoder_heads.h"
#include "model/generate.h"
#include "model/sampling.h"
#include "model/spoken_language_model.h"
#include "model/step_decoder.h"
#include "model/style_head.h"
#include "model/torch_error.h"
#include "runtime/quote_copy.h"
#include "runtime/reply_rules.h"
#include "runtime/speech_stream.h"
#include "runtime/turn_audio.h"
#include "text/char_lm.h"
#include "text/chat_template.h"
#include "text/ctc_beam.h"
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

// The probability mass `p` puts on the tokens of `starts` (a map keyed by token id).
template <typename Map>
double mass_on(const std::vector<double>& p, const Map& starts) {
  double mass = 0;
  for (const auto& [id, labels] : starts) mass += p[static_cast<size_t>(id)];
  return mass;
}

// Adds w x ln q to the row's entry of each token of `starts`, q the probability `label_p` gives the
// labels whose words the token can begin (floored at 1e-6).
template <typename Map>
void add_label_evidence(std::vector<float>& row, const Map& starts,
                        const std::array<double, affect::kEmotionCount>& label_p, double w) {
  for (const auto& [id, labels] : starts) {
    double q = 0;
    for (size_t i : labels) q += label_p[i];
    row[static_cast<size_t>(id)] += static_cast<float>(w * std::log(std::max(q, 1e-6)));
  }
}

SpeechStyle default_style() { return affect::emotion_style("neutral", 0.3); }

void check_session_options(const SessionOptions& options) {
  if (options.max_new_tokens < 1)
    throw ConfigError(fmt::format("max_new_tokens = {}; expected >= 1", options.max_new_tokens));
  if (!(options.dialogue_guidance >= 0))
    throw ConfigError(fmt::format("dialogue_guidance = {}; expected >= 0", options.dialogue_guidance));
  if (options.guidance_tokens < 0)
    throw ConfigError(fmt::format("guidance_tokens = {}; expected >= 0", options.guidance_tokens));
}

}  // namespace

const std::vector<std::string>& emotion_labels() { return affect::emotion_labels(); }

double TurnTimings::decode_tokens_per_second() const {
  const double span = last_token - first_token;
  return generated_tokens > 1 && span > 0 ? static_cast<double>(generated_tokens - 1) / span : 0.0;
}

struct Model::Impl {
  fs::path dir;
  RuntimeOptions options;
  std::shared_ptr<model::SpokenLanguageModelImpl> slm;
  std::shared_ptr<model::StyleHeadImpl> style_head;
  std::optional<text::ChatTemplate> chat;
  std::optional<audio::LogMelExtractor> mel;
  std::string dtype, device;
  double load_seconds = 0;
  std::unordered_set<int32_t> stop_ids;
  int32_t think_start = -1, think_end = -1, im_end = -1;
  std::vector<int32_t> newline;  // "\n" after <|im_end|>
  // An empty user turn and the assistant prompt: what stands for the latest user message in the
  // line the guided reply is contrasted with (SessionOptions::dialogue_guidance).
  std::vector<int32_t> empty_user_turn;
  // Per label (emotion_labels() order), the ids a trace's emotion word can start with.
  std::array<std::vector<int32_t>, affect::kEmotionCount> label_ids;
  // Every first token of an emotion word and the labels whose words start with it (shared ones too).
  std::unordered_map<int32_t, std::vector<size_t>> word_start_labels;
  // Where the thinking of a trajectory question writes the path ("They want the trajectory, {path};
  // I'll recount it in order."): per IEAT phrasing, the text before {path}, the space between, and
  // the rest of the sentence.
  struct PathSlot {
    std::string before, gap, after;
    bool zh = false;
  };
  std::vector<PathSlot> path_slots;
  std::array<int32_t, 10> digit_ids{};       // "0" .. "9" (-1 when one is not a single token)
  std::unordered_set<int32_t> arrow_starts;  // the first tokens of " -> " and " → "
  void find_path_slots() {
    for (const char* arrow : {" ->", " \xE2\x86\x92"}) arrow_starts.insert(chat->tokenizer().encode(arrow).at(0));
    for (int d = 0; d < 10; ++d) {
      const std::vector<int32_t> ids = chat->tokenizer().encode(std::to_string(d));
      digit_ids[static_cast<size_t>(d)] = ids.size() == 1 ? ids[0] : -1;
    }
    for (bool zh : {false, true}) {
      for (std::string_view phrasing : data::ieat_text::phrasings(data::ieat_text::Slot::kThinkT1, zh)) {
        const size_t at = phrasing.find("{path}");
        if (at == std::string_view::npos) continue;
        const std::string_view head = phrasing.substr(0, at);
        const size_t end = head.find_last_not_of(' ') + 1;
        if (end < 4) continue;  // too short to recognise (npos + 1 is 0)
        path_slots.push_back({std::string(head.substr(0, end)), std::string(head.substr(end)),
                              std::string(phrasing.substr(at + 6)), zh});
      }
    }
  }
  // The first tokens of the intensity adverbs a trace may put before the emotion word ("fairly
  // sad"), which no neutral trace has, and the labels that take them (all but neutral).
  std::unordered_map<int32_t, std::vector<size_t>> adverb_start_labels;
  // The encoder heads' use (io::EncoderHeadsConfig, or RuntimeOptions' overrides); head_index[i]: the
  // heads' output for emotion_labels()[i], -1 when the heads lack it.
  bool heard_from_head = false;
  double evidence_weight = 0;
  std::array<int64_t, affect::kEmotionCount> head_index{};
  // The vocabulary's pieces for quoting, built once; each session copies it and adds its sources.
  std::optional<runtime::QuoteCopy> quotes;

  // The quote priors of config.json "quotes" at the weight `options` ask for.
  void set_quote_priors(runtime::QuoteCopy& q, const SessionOptions& options) const {
    const io::QuotesConfig& c = slm->config().quotes;
    const auto weight =
        static_cast<float>(options.quote_prior_weight >= 0 ? options.quote_prior_weight : c.prior_weight);
    auto logs = [](const std::vector<double>& p) {
      std::vector<float> out;
      for (double x : p) out.push_back(static_cast<float>(std::log(x)));
      return out;
    };
    q.set_source_prior(logs(c.source_prior), weight);
    q.set_length_hazard(std::vector<float>(c.length_hazard.begin(), c.length_hazard.end()), weight);
  }
  std::optional<runtime::QuoteCopy> session_quotes(const SessionOptions& options) const {
    std::optional<runtime::QuoteCopy> q = quotes;
    if (q) set_quote_priors(*q, options);
    return q;
  }
  // The heads' character LM for the CTC words (encoder_heads.ctc_lm), unless greedy_words.
  std::optional<text::CharLm> ctc_lm;
  text::CtcBeamOptions beam;

  // The CTC words of one row's logits [T', 1 + alphabet]: beam search with the LM, else greedy.
  std::string decode_words(const at::Tensor& logits) const {
    const auto& alphabet = slm->config().encoder_heads->ctc_alphabet;
    if (!ctc_lm) return model::ctc_greedy_decode(logits, alphabet);
    const at::Tensor lp = at::log_softmax(logits.to(at::kCPU, at::kFloat), -1).contiguous();
    return text::ctc_beam_decode(std::span(lp.data_ptr<float>(), static_cast<size_t>(lp.numel())), lp.size(0), alphabet,
                                 &*ctc_lm, beam);
  }

  void find_label_ids() {
    const text::Tokenizer& tok = chat->tokenizer();
    std::array<std::unordered_set<int32_t>, affect::kEmotionCount> sets;
    std::unordered_map<int32_t, int> owners;
    for (size_t i = 0; i < affect::kEmotionCount; ++i) {
      for (const std::string& word : affect::trace_emotion_words(emotion_labels()[i])) {
        for (const std::string& form : {word, " " + word}) {
          const std::vector<int32_t> ids = tok.encode(form);
          if (!ids.empty() && sets[i].insert(ids[0]).second) owners[ids[0]] += 1;
        }
      }
    }
    // A first token shared by two labels' words says nothing about which one follows; one that
    // every label's words share (the lone space before a Chinese word, which also comes before
    // digits) is no sign of an emotion word at all.
    for (size_t i = 0; i < affect::kEmotionCount; ++i) {
      for (int32_t id : sets[i]) {
        if (owners[id] == 1) label_ids[i].push_back(id);
        if (owners[id] < static_cast<int>(affect::kEmotionCount)) word_start_labels[id].push_back(i);
      }
    }
    std::vector<size_t> feelings;
    for (size_t i = 0; i < affect::kEmotionCount; ++i) {
      if (emotion_labels()[i] != "neutral") feelings.push_back(i);
    }
    for (int level = 0; level < 3; ++level) {
      for (bool zh : {false, true}) {
        for (std::string_view adverb : data::ieat_text::intensity_adverbs(level, zh)) {
          for (const std::string& form : {std::string(adverb), " " + std::string(adverb)}) {
            const std::vector<int32_t> ids = tok.encode(form);
            if (!ids.empty() && !owners.count(ids[0])) adverb_start_labels[ids[0]] = feelings;
          }
        }
      }
    }
  }

  // What the encoder and its heads make of 16 kHz mono samples: the adapter's embeddings, the head's
  // posterior over emotion_labels() (when it has the labels) and intensity, the CTC words (decode_words).
  // Fills timings.features (since t0) and timings.encoder.
  struct Heard {
    at::Tensor embeds;
    std::optional<std::array<double, affect::kEmotionCount>> head_probabilities;
    // The head's own posterior, without the prosody expert: the thinking's evidence (see label_mass).
    std::optional<std::array<double, affect::kEmotionCount>> evidence_probabilities;
    double head_intensity = 0;
    std::string words;
    // The log-mel, when the words wait until after the reply (words_of): a model whose transcription
    // has a speech encoder of its own would otherwise run two encoders before the first token.
    at::Tensor later_mel;
  };
  // `words_now` false: transcription that needs an encoder of its own is left for words_of.
  Heard hear(const std::vector<float>& samples, TurnTimings& timings, Clock::time_point t0,
             bool words_now = true) const {
    Heard out;
    audio::LogMel mel = this->mel->compute(samples);
    timings.features = seconds_since(t0);
    const auto t1 = Clock::now();
    const at::Tensor log_mel = at::from_blob(mel.data.data(), {mel.n_mels, mel.frames}, at::kFloat);
    model::EncoderHeadsOutput heads_out;
    at::Tensor prosody;
    const model::EncoderHeadsImpl* heads = slm->encoder_heads();
    if (heads && !heads->config().prosody_features.empty()) {
      std::vector<float> p = heads->select_prosody(audio::analyse_prosody(samples, 16000).values);
      prosody = at::tensor(p, at::kFloat).unsqueeze(0);
    }
    bool transcribe = heads && !heads->config().ctc_alphabet.empty();
    if (transcribe && !words_now && heads->config().ctc_encoder) {
      out.later_mel = log_mel.clone();
      transcribe = false;
    }
    out.embeds = slm->embed_audio({log_mel}, &heads_out, prosody, transcribe)[0];
    if (transcribe && heads_out.ctc_logits.defined()) out.words = decode_words(heads_out.ctc_logits[0]);
    // A posterior over emotion_labels() from the heads' logits over their own labels.
    auto posterior = [&](const at::Tensor& logits) -> std::optional<std::array<double, affect::kEmotionCount>> {
      const at::Tensor p = at::softmax(logits[0].to(at::kCPU, at::kDouble), -1).contiguous();
      std::array<double, affect::kEmotionCount> probabilities{};
      double total = 0;
      for (size_t i = 0; i < affect::kEmotionCount; ++i) {
        if (head_index[i] >= 0) probabilities[i] = p[head_index[i]].item<double>();
        total += probabilities[i];
      }
      if (total <= 0) return std::nullopt;
      for (double& v : probabilities) v /= total;
      return probabilities;
    };
    if (heads_out.emotion_logits.defined()) {
      out.head_probabilities = posterior(heads_out.emotion_logits);
      // Without an expert the two are the same posterior.
      out.evidence_probabilities =
          heads_out.prosody_logits.defined() ? posterior(heads_out.head_logits) : out.head_probabilities;
      if (out.head_probabilities) out.head_intensity = heads_out.intensity[0].item<double>();
    }
    timings.encoder = seconds_since(t1);
    return out;
  }
  // The CTC words (decode_words) of a log-mel [n_mels, frames] that hear() left for later.
  std::string words_of(const at::Tensor& log_mel) const {
    model::EncoderHeadsImpl* heads = slm->encoder_heads();
    const at::Tensor states = heads->ctc_encoder()->encode(log_mel).unsqueeze(0);
    return decode_words(heads->transcription_logits(states)[0]);
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
  std::vector<int32_t> context_ids;          // every id in the cache, in order (for the repetition history)
  std::vector<std::string> heard_labels;     // every turn's heard label, dropped ones included
  std::optional<runtime::QuoteCopy> quotes;  // the user's words the thinking may quote (copy_quotes)
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
    std::optional<std::array<double, affect::kEmotionCount>> head_probabilities;
    double head_intensity = 0;
    std::string heard_words;  // the encoder's CTC transcript (empty without a CTC head or audio)
    std::optional<std::array<double, affect::kEmotionCount>> evidence_probabilities;  // Heard's
    at::Tensor later_mel;    // Heard's: the words are transcribed after the reply
    int64_t turn_start = 0;  // cache position where this user turn's message begins
  };
  UserPart read_user(const AudioBuffer& audio_in, std::string_view text_in, const std::string& what,
                     TurnTimings& timings, std::vector<std::string>& warnings);
  void add_exchange(const AudioBuffer& audio_in, std::string_view text_in, std::string_view reply_text,
                    std::optional<std::string_view> thinking);
  // The assistant's ids as the chat template writes a message (after "<|im_start|>assistant\n",
  // before the closing): what add_exchange reads for a resent turn.
  std::vector<int32_t> assistant_ids(std::string_view reply_text, std::optional<std::string_view> thinking,
                                     const std::string& what) const;
  // After a generated turn: its ids in the cache become assistant_ids(reply), when those differ and fit.
  void keep_as_resent(Exchange& exchange, const Reply& reply, const std::string& what);
  Reply turn(const AudioBuffer& audio_in, std::string_view text_in, const TurnCallbacks& cb);

  // What generating a turn left: the raw thinking and reply text, how far the message got, and per
  // thinking token the label distribution it was drawn from (for the heard emotion's probabilities).
  struct Generated {
    enum class Part { kBeforeThinking, kThinking, kReply } part = Part::kBeforeThinking;
    std::string raw_thinking, reply_text;
    std::vector<int32_t> reply_ids;  // the reply's tokens, for the reply rules
    int64_t thinking_tokens = 0;
    struct LabelStep {
      size_t offset;  // where the token's text starts in raw_thinking
      std::array<double, affect::kEmotionCount> mass;
    };
    std::vector<LabelStep> label_steps;
    text::StreamDecoder decoder;
    // The heard path (write_heard_path), once the thinking reached its place: its tokens, how many
    // are written, and its runs, which the reply recounts. Empty: no path (yet).
    std::vector<int32_t> path_ids;
    size_t path_next = 0;
    std::vector<data::EmotionRun> path_runs;
    size_t reply_feelings = 0;  // emotion words the reply has named
  };
  // A turn's steps after hearing (turn() runs them in order): generate the thinking and the reply,
  // finish the reply text, read the heard emotion.
  Generated generate(UserPart& user, Reply& reply, runtime::SpeechStream& speech, const TurnCallbacks& cb,
                     Clock::time_point t0);
  void finish_reply(Generated& g, Reply& reply, runtime::SpeechStream& speech, const TurnCallbacks& cb) const;
  void read_emotion(const Generated& g, const UserPart& user, Reply& reply);
  // At </think>: the reply's speech style, from the speech-style head on the hidden state there, else
  // the thinking's style line, else the default.
  void choose_style(const model::ForwardOutput& at_think_end, const std::string& raw_thinking, Reply& reply) const;
  // Generation's per-token helpers. label_mass: the distribution over the labels' first word tokens,
  // after the evidence path has moved `row` (when `evidence` is given). steer: the bans and reply
  // rules of the part being written. write_piece: a generated token's text into the thinking or the
  // reply (and the callbacks and speech).
  Generated::LabelStep label_mass(std::vector<float>& row, const UserPart* evidence, size_t offset) const;
  // When the thinking has just written the words before a trajectory question's path: sets g's
  // path (the tokens and runs of the labels heard in the earlier turns); otherwise, or with none
  // heard, leaves it empty.
  void start_heard_path(Generated& g) const;
  // The runs of the labels heard in the earlier turns (turns numbered from 1).
  std::vector<data::EmotionRun> heard_runs() const;
  // In the reply to a trajectory question whose path was written: where the reply names a feeling,
  // the evidence of the path's next run, so the reply recounts what was heard, in order.
  void recount_path(std::vector<float>& row, const Generated& g) const;
  void steer(std::vector<float>& row, const Generated& g, Reply& reply) const;
  void write_piece(int32_t id, const std::optional<Generated::LabelStep>& label_step, Generated& g, Reply& reply,
                   runtime::SpeechStream& speech, const TurnCallbacks& cb, Clock::time_point t0) const;
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
  // A model trained on transcribed builds reads what its encoder heard beside the audio (step 2).
  const bool words_in_prompt =
      text_in.empty() && audio && slm.encoder_heads() && slm.encoder_heads()->config().words_in_prompt;
  const bool words_now = words_in_prompt || (quotes && text_in.empty() && options.quote_heard_words);
  const Model::Impl::Heard heard = audio ? m.hear(audio->samples, timings, t0, words_now) : Model::Impl::Heard{};
  const at::Tensor& audio_embeds = heard.embeds;
  const std::string& heard_words = heard.words;
  const int64_t audio_tokens = audio_embeds.defined() ? audio_embeds.size(0) : 0;

  // 2. The turn's tokens: close the previous exchange, the user message, the assistant prompt.
  const std::string user_text = words_in_prompt ? heard_words : std::string(text_in);
  text::RenderOptions render;
  render.add_generation_prompt = true;
  const text::RenderedChat user = m.chat->render({{text::Role::kUser, user_text, audio_tokens, std::nullopt}}, render);
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
  const int64_t turn_start = cache.length() + static_cast<int64_t>(ids.size() - user.ids.size());
  UserPart part{Exchange{user.ids, user.audio_slots, audio_embeds, {}},
                lm.forward_embeds(x, {.cache = &cache, .logits_to_keep = 1}),
                heard.head_probabilities,
                heard.head_intensity,
                heard_words,
                heard.evidence_probabilities,
                heard.later_mel,
                turn_start};
  if (quotes && !text_in.empty()) {
    quotes->add_source(text_in);
  } else if (quotes && (options.quote_heard_words || words_in_prompt)) {
    quotes->add_source(heard_words);
  }
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
    std::vector<int32_t> ids = assistant_ids(reply_text, thinking, what);
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

std::vector<int32_t> Session::Impl::assistant_ids(std::string_view reply_text, std::optional<std::string_view> thinking,
                                                  const std::string& what) const {
  const Model::Impl& m = *model;
  // The closing "<|im_end|>\n" is left out: the next turn adds it.
  text::ChatMessage said{text::Role::kAssistant, std::string(reply_text), 0, std::nullopt};
  if (thinking) said.thinking = std::string(*thinking);
  const std::vector<int32_t> ids = m.chat->render({said}).ids;
  const std::vector<int32_t> head = m.chat->tokenizer().encode("<|im_start|>assistant\n");
  const std::vector<int32_t> tail = closing();
  if (ids.size() < head.size() + tail.size() || !std::equal(head.begin(), head.end(), ids.begin()))
    throw InputError(what, "the chat template renders an assistant message in an unexpected form");
  return {ids.begin() + static_cast<std::ptrdiff_t>(head.size()), ids.end() - static_cast<std::ptrdiff_t>(tail.size())};
}

void Session::Impl::keep_as_resent(Exchange& exchange, const Reply& reply, const std::string& what) {
  // A quote copied along the user's words may be spelled with other pieces than the tokenizer's
  // own, so a client resending this dialogue (add_exchange) would give the model other ids than the
  // cache holds, and the next turns would part. The cache takes the tokenizer's spelling.
  std::vector<int32_t>& live = exchange.assistant_ids;
  const std::vector<int32_t> resent = assistant_ids(reply.text, reply.thinking, what);
  const auto start = cache.length() - static_cast<int64_t>(live.size());
  if (resent == live || start < 0 || live.size() > context_ids.size() ||
      start + static_cast<int64_t>(resent.size()) + options.max_new_tokens > budget)
    return;
  cache.truncate(start);
  context_ids.resize(context_ids.size() - live.size());
  model->slm->language_model().forward(
      at::tensor(std::vector<int64_t>(resent.begin(), resent.end()), at::kLong).unsqueeze(0),
      {.cache = &cache, .skip_logits = true});
  context_ids.insert(context_ids.end(), resent.begin(), resent.end());
  live = resent;
}

Reply Session::Impl::turn(const AudioBuffer& audio_in, std::string_view text_in, const TurnCallbacks& cb) {
  const auto t0 = Clock::now();
  Reply reply;
  reply.turn = turns + 1;
  const std::string what = fmt::format("turn {}", reply.turn);
  return model::with_torch_context("the dialogue turn", [&] {
    c10::InferenceMode inference;
    // 1-3. Hear: the audio through the encoder and adapter, the user's part into the cache.
    UserPart user = read_user(audio_in, text_in, what, reply.timings, reply.warnings);
    // 4. Think, then reply, spoken sentence by sentence as it comes.
    runtime::SpeechStream speech(options.speak ? talker.get() : nullptr, voice, t0);
    Generated g = generate(user, reply, speech, cb, t0);
    finish_reply(g, reply, speech, cb);
    reply.timings.last_token = seconds_since(t0);
    // 5. What was heard, from the encoder head or the thinking.
    read_emotion(g, user, reply);
    // 6. The reply text (never with thinking tags) and the rest of its audio.
    reply.text = text::split_thinking(g.reply_text).reply;
    speech.finish(cb.on_audio);
    reply.audio = speech.audio();
    reply.timings.first_audio = speech.first_audio_seconds();
    reply.timings.total = seconds_since(t0);

    if (reply.stop_reason == StopReason::kStopToken && !reply.thinking.empty()) {
      keep_as_resent(user.exchange, reply, what);
    }
    exchanges.push_back(std::move(user.exchange));
    ++turns;
    reply.context_tokens = cache.length();
    reply.dropped_turns = dropped;
    return reply;
  });
}

Session::Impl::Generated Session::Impl::generate(UserPart& user, Reply& reply, runtime::SpeechStream& speech,
                                                 const TurnCallbacks& cb, Clock::time_point t0) {
  using Part = Generated::Part;
  const Model::Impl& m = *model;
  model::SamplingOptions sampling;
  sampling.greedy = options.temperature <= 0;
  if (!sampling.greedy) sampling.temperature = options.temperature;
  sampling.top_p = options.top_p;
  sampling.seed = options.seed + turns;
  model::StepDecoder decoder(m.slm->language_model(), cache, sampling, budget);
  decoder.set_logits(user.out.logits);
  Generated g{.decoder = text::StreamDecoder(m.chat->tokenizer())};
  bool evidence_pending = m.evidence_weight > 0 && user.evidence_probabilities.has_value();
  // Dialogue guidance: a second line of decoding that reads this turn's thinking after an empty
  // user message, run beside the reply's first guidance_tokens tokens.
  std::optional<model::KvCache> unguided_cache;
  std::optional<model::StepDecoder> unguided;
  auto guiding = [&] { return unguided && static_cast<int64_t>(g.reply_ids.size()) < options.guidance_tokens; };
  reply.stop_reason = StopReason::kMaxTokens;
  for (int64_t step = 0; step < options.max_new_tokens; ++step) {
    if (cb.should_stop && cb.should_stop()) {
      reply.stop_reason = StopReason::kCancelled;
      break;
    }
    std::vector<float>& row = decoder.next_logits();
    std::optional<Generated::LabelStep> label_step;
    if (g.part != Part::kReply) {
      label_step = label_mass(row, evidence_pending ? &user : nullptr, g.raw_thinking.size());
    }
    if (g.part == Part::kReply && guiding()) {
      runtime::guide_logits(row, unguided->next_logits(), options.dialogue_guidance);
    }
    steer(row, g, reply);
    const bool writing_path = g.path_next < g.path_ids.size();
    const int32_t id = writing_path ? g.path_ids[g.path_next++] : decoder.sample(context_ids);
    // The evidence applies until the thinking has named a feeling (an adverb such as "fairly" may
    // come first) or reached the intensity that follows it.
    if (evidence_pending && (m.word_start_labels.count(id) || g.raw_thinking.find('(') != std::string::npos)) {
      evidence_pending = false;
    }
    if (step == 0) reply.timings.first_token = seconds_since(t0);
    reply.timings.generated_tokens += 1;
    if (m.stop_ids.count(id)) {
      reply.stop_reason = StopReason::kStopToken;
      break;
    }
    user.exchange.assistant_ids.push_back(id);
    context_ids.push_back(id);
    if (id == m.think_start) {
      g.part = Part::kThinking;
    } else if (id == m.think_end) {
      g.part = Part::kReply;
      g.raw_thinking += g.decoder.finish();
    } else if (id < m.chat->tokenizer().vocab_size()) {
      write_piece(id, label_step, g, reply, speech, cb, t0);
      if (g.part == Part::kReply) {
        // A feeling named: a token that starts one label's words only ("s" also ends "turns").
        const auto named = m.word_start_labels.find(id);
        if (named != m.word_start_labels.end() && named->second.size() == 1) ++g.reply_feelings;
      }
      if (g.part == Part::kThinking && options.write_heard_path && g.path_ids.empty()) start_heard_path(g);
    }
    speech.deliver(cb.on_audio);
    if (decoder.context_full()) {
      reply.stop_reason = StopReason::kContextFull;
      break;
    }
    const bool guided_token = g.part == Part::kReply && guiding();
    decoder.feed(id);
    if (guided_token) unguided->feed(id);
    if (id == m.think_end) {
      choose_style(decoder.output(), g.raw_thinking, reply);
      speech.set_style(reply.style);
      if (options.dialogue_guidance > 0 && options.guidance_tokens > 0) {
        // The unguided line reads this thinking after an empty user turn, with the earlier turns
        // before it (copied from the cache) or, without guidance_keeps_history, the system alone.
        const int64_t kept = options.guidance_keeps_history ? user.turn_start : 0;
        std::vector<int64_t> ids;
        if (kept == 0) ids.assign(system_ids.begin(), system_ids.end());
        ids.insert(ids.end(), m.empty_user_turn.begin(), m.empty_user_turn.end());
        ids.insert(ids.end(), user.exchange.assistant_ids.begin(), user.exchange.assistant_ids.end());
        model::LanguageModelImpl& lm = m.slm->language_model();
        unguided_cache.emplace(lm.make_cache(1, kept + static_cast<int64_t>(ids.size()) + options.guidance_tokens));
        if (kept > 0) unguided_cache->copy_prefix(cache, kept);
        unguided.emplace(lm, *unguided_cache, sampling, budget);
        unguided->set_logits(
            lm.forward(at::tensor(ids, at::kLong).unsqueeze(0), {.cache = &*unguided_cache, .logits_to_keep = 1})
                .logits);
      }
    }
  }
  return g;
}

Session::Impl::Generated::LabelStep Session::Impl::label_mass(std::vector<float>& row, const UserPart* evidence,
                                                              size_t offset) const {
  const Model::Impl& m = *model;
  std::vector<double> p = model::softmax(row);
  auto mass = [&] {
    Generated::LabelStep s{offset, {}};
    for (size_t i = 0; i < affect::kEmotionCount; ++i) {
      for (int32_t id : m.label_ids[i]) s.mass[i] += p[static_cast<size_t>(id)];
    }
    return s;
  };
  if (!evidence) return mass();
  // The evidence path: where the thinking names the feeling (a fifth or more of the next token's
  // mass on the first tokens of emotion words or of the intensity adverbs before them), each such
  // token gains w x log of the head's probability for the labels whose words start with it. An
  // adverb stands for every label but neutral: left out, a calm voice's "They seem" would go on to
  // "fairly", after which no trace has "calm".
  if (mass_on(p, m.word_start_labels) + mass_on(p, m.adverb_start_labels) < kEvidenceSlotMass) return mass();
  for (const auto* starts : {&m.word_start_labels, &m.adverb_start_labels}) {
    add_label_evidence(row, *starts, *evidence->evidence_probabilities, m.evidence_weight);
  }
  p = model::softmax(row);
  return mass();
}

std::vector<data::EmotionRun> Session::Impl::heard_runs() const {
  std::vector<data::EmotionRun> runs;
  for (size_t i = 0; i < heard_labels.size(); ++i) data::add_to_runs(runs, heard_labels[i], static_cast<int>(i) + 1);
  return runs;
}

void Session::Impl::start_heard_path(Generated& g) const {
  const Model::Impl& m = *model;
  for (const Model::Impl::PathSlot& slot : m.path_slots) {
    if (!std::string_view(g.raw_thinking).ends_with(slot.before)) continue;
    // The question itself has no label in a trace: the path is the earlier turns'.
    std::vector<data::EmotionRun> runs = heard_runs();
    if (runs.empty()) return;
    // The rest of the sentence too, so the path ends where the phrasing says, but not its final
    // stop: the tokenizer may merge that with what follows (".\n"), which the model writes.
    std::string after = slot.after;
    for (std::string_view stop : {".", "\xE3\x80\x82"}) {  // . 。
      if (after.ends_with(stop)) after.resize(after.size() - stop.size());
    }
    g.path_ids = m.chat->tokenizer().encode(slot.gap + data::trajectory_text(runs, slot.zh ? "zh" : "en") + after);
    g.path_runs = std::move(runs);
    return;
  }
}

void Session::Impl::recount_path(std::vector<float>& row, const Generated& g) const {
  const Model::Impl& m = *model;
  if (g.path_runs.empty() || m.evidence_weight <= 0) return;
  const std::vector<double> p = model::softmax(row);
  // The next run's feeling, or the last one's once all are told; a little for the others.
  const data::EmotionRun& run = g.path_runs[std::min(g.reply_feelings, g.path_runs.size() - 1)];
  const auto w = static_cast<float>(m.evidence_weight);
  if (mass_on(p, m.word_start_labels) >= kEvidenceSlotMass) {
    std::array<double, affect::kEmotionCount> label_p;
    for (size_t i = 0; i < affect::kEmotionCount; ++i)
      label_p[i] = emotion_labels()[i] == run.emotion ? 0.9 : 0.1 / (affect::kEmotionCount - 1);
    add_label_evidence(row, m.word_start_labels, label_p, m.evidence_weight);
  }
  // A turn number (the phrasings put it before the feeling): the run's first turn, digit by digit.
  double digit_mass = 0;
  for (int32_t id : m.digit_ids) digit_mass += id >= 0 ? p[static_cast<size_t>(id)] : 0.0;
  if (digit_mass < kEvidenceSlotMass) return;
  const std::string target = std::to_string(run.first_turn);
  size_t written = 0;  // the digits the reply ends with
  while (written < g.reply_text.size() &&
         std::isdigit(static_cast<unsigned char>(g.reply_text[g.reply_text.size() - 1 - written])))
    ++written;
  const std::string so_far = g.reply_text.substr(g.reply_text.size() - written);
  if (!target.starts_with(so_far)) return;  // some other number
  for (int d = 0; d < 10; ++d) {
    const int32_t id = m.digit_ids[static_cast<size_t>(d)];
    if (id < 0) continue;
    const bool next = so_far.size() < target.size() && target[so_far.size()] == '0' + d;
    row[static_cast<size_t>(id)] += w * static_cast<float>(std::log(next ? 0.9 : 0.01));
  }
}

void Session::Impl::steer(std::vector<float>& row, const Generated& g, Reply& reply) const {
  using Part = Generated::Part;
  const Model::Impl& m = *model;
  if (g.part == Part::kThinking) {
    // The turn cannot end inside the thinking: the reply would be lost.
    runtime::ban_tokens(row, m.stop_ids);
    if (quotes) quotes->constrain(row, g.raw_thinking);
    // A written path is whole: it does not go on with another arrow.
    if (!g.path_ids.empty() && g.path_next == g.path_ids.size()) runtime::ban_tokens(row, m.arrow_starts);
    if (m.think_end >= 0 && g.thinking_tokens >= options.max_thinking_tokens) {
      // A thinking that runs this long is looping: close it, so that the turn still has a reply.
      std::fill(row.begin(), row.end(), -std::numeric_limits<float>::infinity());
      row[static_cast<size_t>(m.think_end)] = 0;
      reply.warnings.push_back(
          fmt::format("the thinking reached {} tokens and was closed (max_thinking_tokens)", g.thinking_tokens));
    }
  }
  if (g.part == Part::kReply) {
    recount_path(row, g);
    runtime::constrain_reply(row, g.reply_ids,
                             {.min_tokens = options.min_reply_tokens,
                              // A recap repeats its frame ("then at turn 2 ..., then at turn 4 ..."), and
                              // the lone space before a digit makes "at turn " a repeated trigram.
                              .no_repeat_ngram = g.path_runs.empty() ? options.no_repeat_ngram : 0,
                              .repetition_penalty = options.reply_repetition_penalty},
                             m.stop_ids);
  }
}

void Session::Impl::write_piece(int32_t id, const std::optional<Generated::LabelStep>& label_step, Generated& g,
                                Reply& reply, runtime::SpeechStream& speech, const TurnCallbacks& cb,
                                Clock::time_point t0) const {
  using Part = Generated::Part;
  std::string piece;
  try {
    piece = g.decoder.push(id);
  } catch (const InputError&) {  // an id without a token (padded vocabulary): no text
  }
  if (g.part == Part::kThinking) ++g.thinking_tokens;
  if (g.part != Part::kReply) {
    if (label_step) g.label_steps.push_back(*label_step);
    g.raw_thinking += piece;
    if (cb.on_thinking && !piece.empty()) cb.on_thinking(piece);
    return;
  }
  g.reply_ids.push_back(id);
  if (g.reply_text.empty()) {
    // Leading blank lines after </think> are layout, not speech.
    const size_t keep = piece.find_first_not_of(" \n\r\t");
    piece = keep == std::string::npos ? "" : piece.substr(keep);
    if (!piece.empty()) reply.timings.first_reply_token = seconds_since(t0);
  }
  g.reply_text += piece;
  speech.push_text(piece);
  if (cb.on_text && !piece.empty()) cb.on_text(piece);
}

void Session::Impl::choose_style(const model::ForwardOutput& at_think_end, const std::string& raw_thinking,
                                 Reply& reply) const {
  const Model::Impl& m = *model;
  if (m.style_head) {
    // The hidden state at </think> is what the head was trained on (stage 2).
    const at::Tensor h = at_think_end.last_hidden_state[0][-1].unsqueeze(0);
    model::StyleHeadOutput t = m.style_head->forward(h);
    const at::Tensor e = t.emotion_logits[0].to(at::kCPU, at::kFloat);
    const at::Tensor a = t.attributes[0].to(at::kCPU, at::kFloat).contiguous();
    const io::StyleHeadConfig& tc = m.style_head->config();
    const std::string emotion = tc.emotions.at(static_cast<size_t>(e.argmax().item<int64_t>()));
    reply.style = affect::style_from_attributes(
        emotion, std::vector<float>(a.data_ptr<float>(), a.data_ptr<float>() + a.numel()), tc.style_attributes);
    reply.style_source = "style head";
  } else if (auto s = affect::parse_style_line(raw_thinking)) {
    reply.style = affect::emotion_style(s->emotion, s->intensity);
    reply.style_source = "style line";
  } else {
    reply.style = default_style();
    reply.style_source = "default";
  }
}

void Session::Impl::finish_reply(Generated& g, Reply& reply, runtime::SpeechStream& speech,
                                 const TurnCallbacks& cb) const {
  using Part = Generated::Part;
  if (g.part == Part::kReply) {
    const std::string tail = g.decoder.finish();
    g.reply_text += tail;
    speech.push_text(tail);
    if (cb.on_text && !tail.empty()) cb.on_text(tail);
    if (reply.stop_reason == StopReason::kMaxTokens || reply.stop_reason == StopReason::kContextFull) {
      // Out of budget mid-sentence: the reply ends at its last full sentence (text and speech).
      const std::string cut = runtime::end_at_sentence(g.reply_text);
      if (cut.size() < g.reply_text.size()) {
        g.reply_text = cut;
        speech.drop_unfinished();
      }
    }
    return;
  }
  g.raw_thinking += g.decoder.finish();
  // No </think>: the thinking never closed, so there is no reply (and no style from the head).
  reply.style = default_style();
  reply.style_source = "default";
  if (g.part == Part::kBeforeThinking) {
    // The model answered without a thinking block: what it wrote is the reply.
    const text::ThinkingSplit split = text::split_thinking(g.raw_thinking);
    g.reply_text = split.reply;
    g.raw_thinking = split.thinking;
    speech.set_style(reply.style);
    speech.push_text(g.reply_text);
    if (cb.on_text && !g.reply_text.empty()) cb.on_text(g.reply_text);
  } else {
    reply.warnings.push_back(
        "the thinking did not finish within the token limit, so there is no reply (raise --max-new-tokens)");
  }
}

void Session::Impl::read_emotion(const Generated& g, const UserPart& user, Reply& reply) {
  const auto& labels = emotion_labels();
  const size_t from = g.raw_thinking.find_first_not_of(" \n\r\t");
  const size_t to = g.raw_thinking.find_last_not_of(" \n\r\t");
  reply.thinking = from == std::string::npos ? "" : g.raw_thinking.substr(from, to - from + 1);
  const affect::ThinkingEmotion heard = affect::read_heard_emotion(g.raw_thinking);
  reply.thinking_label = heard.label;
  reply.heard_words = user.later_mel.defined() ? model->words_of(user.later_mel) : user.heard_words;
  if (user.head_probabilities) {
    const std::array<double, affect::kEmotionCount>& p = *user.head_probabilities;
    reply.head_label = labels[static_cast<size_t>(std::max_element(p.begin(), p.end()) - p.begin())];
  }
  if (model->heard_from_head && user.head_probabilities) {
    reply.emotion.label = reply.head_label;
    reply.emotion.intensity = user.head_intensity;
    reply.emotion.source = "encoder head";
    for (size_t i = 0; i < affect::kEmotionCount; ++i) {
      reply.emotion.probabilities.emplace_back(labels[i], (*user.head_probabilities)[i]);
    }
  } else if (!heard.label.empty()) {
    reply.emotion.label = heard.label;
    reply.emotion.intensity = heard.intensity;
    reply.emotion.source = "thinking";
    // The distribution the emotion word's first token was drawn from.
    std::array<double, affect::kEmotionCount> mass{};
    for (size_t i = 0; i < g.label_steps.size(); ++i) {
      const size_t end = i + 1 < g.label_steps.size() ? g.label_steps[i + 1].offset : g.raw_thinking.size();
      if (g.label_steps[i].offset <= heard.word_offset && heard.word_offset < end) mass = g.label_steps[i].mass;
    }
    const auto index = static_cast<size_t>(affect::emotion_index(heard.label));
    double total = 0;
    for (double v : mass) total += v;
    if (total <= 0 || mass[index] <= 0) {
      mass.fill(0);
      mass[index] = 1;
      total = 1;
    }
    for (size_t i = 0; i < affect::kEmotionCount; ++i)
      reply.emotion.probabilities.emplace_back(labels[i], mass[i] / total);
  }
  heard_labels.push_back(reply.emotion.label);
  reply.trajectory = heard_labels;
  reply.trajectory_text = affect::read_trajectory_sentence(g.raw_thinking);
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
  if (options.speak)
    (void)tts::make_talker(
        std::string(to_string(options.engine)));  // names the known ones (engines start on first use)
  auto impl = std::make_shared<Impl>();
  impl->dir = dir;
  impl->options = options;
  model::ModelLoadOptions load;
  load.dtype = to_string(options.dtype);
  load.device = to_string(options.device);
  model::SlmLoadOptions slm_options = model::resolve_slm_load_options(load);
  if (options.dtype == Dtype::kAuto && slm_options.device.is_cpu()) {
    // A small model stays in fp32 on a CPU: its replies are sensitive to bf16 rounding (attune-small's
    // demo answers an angry turn with "I'm going to the store." in bf16), though bf16 decodes ~1.6x
    // faster since the fused kernels (bench_runtime), and fp32 already decodes 1,000+ tokens/s.
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
    impl->style_head = model::StyleHeadImpl::from_pretrained(dir, impl->slm->config().style_head, slm_options.device);
    if (impl->style_head) {
      impl->style_head->to(at::kFloat);
      impl->style_head->eval();
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
  impl->empty_user_turn =
      impl->chat->render({{text::Role::kUser, "", 0, std::nullopt}}, {.add_generation_prompt = true}).ids;
  impl->find_label_ids();
  impl->find_path_slots();
  impl->quotes.emplace(impl->chat->tokenizer());
  if (const auto& heads = impl->slm->config().encoder_heads) {
    const std::string from = options.heard_from.empty() ? heads->heard_from : options.heard_from;
    if (from != "head" && from != "thinking") {
      throw ConfigError("heard_from: expected \"head\" or \"thinking\", got \"" + from + "\"");
    }
    impl->heard_from_head = from == "head";
    if (!heads->ctc_lm.empty() && !options.greedy_words) {
      impl->ctc_lm = text::CharLm::load_arpa(dir / heads->ctc_lm);
      impl->beam = {.beam = static_cast<int>(heads->ctc_beam),
                    .lm_weight = heads->ctc_lm_weight,
                    .char_bonus = heads->ctc_lm_bonus};
    }
    impl->evidence_weight = options.evidence_weight >= 0 ? options.evidence_weight : heads->evidence_weight;
    for (size_t i = 0; i < affect::kEmotionCount; ++i) {
      const auto it = std::find(heads->emotions.begin(), heads->emotions.end(), emotion_labels()[i]);
      impl->head_index[i] = it == heads->emotions.end() ? -1 : it - heads->emotions.begin();
    }
  }
  impl->mel.emplace(model::slm_log_mel_options(impl->slm->config()));
  impl->load_seconds = seconds_since(t0);
  return Model(std::move(impl));
}

Session Model::open_session(const SessionOptions& options) const {
  check_session_options(options);
  if (options.context_tokens < 0)
    throw ConfigError(fmt::format("context_tokens = {}; expected >= 0", options.context_tokens));
  auto s = std::make_unique<Session::Impl>();
  s->model = impl_;
  s->options = options;
  const int64_t max_positions = impl_->slm->config().language_model.config.max_position_embeddings;
  s->budget = options.context_tokens > 0 ? std::min(options.context_tokens, max_positions) : max_positions;
  s->voice = tts::find_voice(options.voice);
  if (options.copy_quotes) s->quotes = impl_->session_quotes(options);
  if (impl_->options.speak) s->talker = tts::make_talker(std::string(to_string(impl_->options.engine)));
  s->cache = model::with_torch_context("allocating the KV cache", [&] {
    return impl_->slm->language_model().make_cache(1, std::min<int64_t>(s->budget, 1024), s->budget);
  });
  return Session(std::move(s));
}

std::string Model::describe() const {
  int64_t count = 0;
  for (const auto& p : impl_->slm->parameters()) count += p.numel();
  if (impl_->style_head) {
    for (const auto& p : impl_->style_head->parameters()) count += p.numel();
  }
  return fmt::format("{} | {} on {} | {:.1f}M parameters | speech-style head: {}", impl_->dir.filename().string(),
                     impl_->dtype, impl_->device, static_cast<double>(count) / 1e6, impl_->style_head ? "yes" : "no");
}
fs::path Model::directory() const { return impl_->dir; }
int64_t Model::context_length() const { return impl_->slm->config().language_model.config.max_position_embeddings; }
double Model::load_seconds() const { return impl_->load_seconds; }
bool Model::has_style_head() const { return impl_->style_head != nullptr; }

bool Model::transcribes() const {
  const model::EncoderHeadsImpl* heads = impl_->slm->encoder_heads();
  return heads != nullptr && !heads->config().ctc_alphabet.empty();
}

std::string Model::words_decoding() const {
  if (!impl_->ctc_lm) return "greedy CTC";
  return fmt::format("CTC beam {} + {}-gram char LM", impl_->beam.beam, impl_->ctc_lm->order());
}

std::string Model::transcribe(const AudioBuffer& audio) const {
  if (!transcribes()) {
    throw ConfigError(impl_->dir.string() + ": the speech encoder has no CTC head (encoder_heads.ctc_alphabet)");
  }
  c10::InferenceMode inference;
  const runtime::TurnAudio prepared = runtime::prepare_turn_audio(audio, "audio");
  TurnTimings timings;
  return impl_->hear(prepared.samples, timings, Clock::now()).words;
}

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
  if (impl_->quotes) impl_->quotes->clear_sources();
  impl_->turns = 0;
  impl_->dropped = 0;
}
void Session::set_options(const SessionOptions& options) {
  check_session_options(options);
  impl_->voice = tts::find_voice(options.voice);
  const SessionOptions kept = impl_->options;
  impl_->options = options;
  impl_->options.system = kept.system;
  impl_->options.context_tokens = kept.context_tokens;
  // Quoting switched on mid-dialogue copies the words of the turns from here on.
  if (!options.copy_quotes) {
    impl_->quotes.reset();
  } else if (!impl_->quotes) {
    impl_->quotes = impl_->model->session_quotes(options);
  } else {
    impl_->model->set_quote_priors(*impl_->quotes, options);
  }
}
size_t Session::turns() const { return impl_->turns; }
int64_t Session::context_tokens() const { return impl_->cache.length(); }
int64_t Session::context_budget() const { return impl_->budget; }

}  // namespace attune
