// The spoken-dialogue runtime: load a model directory, open a session, feed the user's spoken turns,
// and get back how the user sounded, how that moved across the dialogue, the model's (hidden)
// reasoning, and an empathetic reply as text and speech. Torch-free: link libattune
// (find_package(attune) -> attune::attune; examples/embed).
//
//   attune::Model model = attune::Model::load("models/attune-small");
//   attune::Session session = model.open_session();
//   attune::AudioBuffer turn = attune::load_audio("turn.wav");      // any rate and channels (attune/audio.h)
//   attune::set_log_callback([](attune::LogLevel, std::string_view line) { ... });  // optional (attune/log.h)
//   attune::TurnCallbacks cb;
//   cb.on_text = [](std::string_view piece) { std::fputs(std::string(piece).c_str(), stdout); };
//   cb.on_audio = [](const attune::AudioBuffer& chunk, size_t sentence) { play(chunk); };
//   attune::Reply reply = session.turn(turn, "", cb);
//   reply.emotion.label;  reply.trajectory;  reply.text;  reply.style;  reply.audio;  reply.timings;
//
// A Model holds the weights and may open several sessions; a Session is one dialogue and is not
// thread-safe (one turn at a time). Turns on different sessions of one model must not overlap either
// (they share torch's thread pool); the server serialises them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "attune/audio_buffer.h"
#include "attune/export.h"
#include "attune/speech_style.h"

namespace attune {

// Weights' number format. kAuto: bf16 on CUDA; on a CPU, fp32 for weights under 512 MB (a small
// model's replies change under bf16 rounding) and bf16 above when the CPU has native bf16. kInt8: int8
// language-model weights (CPU only).
enum class Dtype { kAuto, kFp32, kBf16, kInt8 };

// Where the model runs.
struct Device {
  enum class Kind { kAuto, kCpu, kCuda };
  Kind kind = Kind::kAuto;  // kAuto: CUDA when available, else the CPU
  int index = 0;            // the CUDA device's ordinal
};

// The speech engine that speaks replies: kAuto takes each voice's own (espeak-ng or Flite).
enum class SpeechEngine { kAuto, kEspeak, kFlite };

// Why generation stopped: the model's end-of-turn token, a stop string (attune generate), the token
// budget, the context window, or the caller (TurnCallbacks::should_stop).
enum class StopReason { kStopToken, kStopString, kMaxTokens, kContextFull, kCancelled };

// Names as the CLI, the JSON outputs and the server use them ("fp32", "cuda:1", "espeak", "max tokens").
ATTUNE_API std::string_view to_string(Dtype dtype);
ATTUNE_API std::string to_string(const Device& device);
ATTUNE_API std::string_view to_string(SpeechEngine engine);
ATTUNE_API std::string_view to_string(StopReason reason);
// The inverses for user input; ConfigError naming the value and the accepted ones.
ATTUNE_API Dtype parse_dtype(std::string_view name);
ATTUNE_API Device parse_device(std::string_view name);  // "auto", "cpu", "cuda" or "cuda:N"
ATTUNE_API SpeechEngine parse_speech_engine(std::string_view name);

struct RuntimeOptions {
  Dtype dtype = Dtype::kAuto;
  Device device;
  int threads = 0;  // torch intra-op threads; <= 0: unchanged
  SpeechEngine engine = SpeechEngine::kAuto;
  bool speak = true;  // synthesise the reply's audio (off: text only, no speech-engine process)
  // For models with encoder heads (config.json "encoder_heads"), overrides of the model's own
  // settings: where the heard emotion comes from ("head" or "thinking"; "": the model's choice), and
  // the weight of the head's evidence on the thinking's emotion word (< 0: the model's; 0: none).
  std::string heard_from;
  double evidence_weight = -1;
  // Greedy CTC words even when the model has a character LM for them (encoder_heads.ctc_lm).
  bool greedy_words = false;
};

struct SessionOptions {
  std::string system;                 // the system message; empty: none (the training data has none)
  std::string voice = "en-female-1";  // the talker's voice (tts::builtin_voices; chosen by `attune eval talkers`)
  int64_t max_new_tokens = 320;       // per turn, thinking and reply together
  // Positions the dialogue may use (system, every turn's audio, thinking and reply): 0 means the
  // model's max_position_embeddings. When a turn would not fit, the oldest whole exchanges are
  // dropped and the rest re-read (docs/runtime.md, "Context budget").
  int64_t context_tokens = 0;
  // Decoding: greedy unless temperature > 0.
  double temperature = 0;
  double top_p = 1.0;
  uint64_t seed = 0;
  // A thinking block longer than max_thinking_tokens is looping: </think> is forced there (a
  // warning says so), so the turn still gets a reply. The IEAT traces are 40-90 words.
  int64_t max_thinking_tokens = 192;
  // The reply (after </think>): it cannot end before min_reply_tokens tokens, no n-gram of
  // no_repeat_ngram tokens repeats in it (0: off), its own tokens are penalised by
  // reply_repetition_penalty (1: off), and a reply the token budget cuts ends at its last full
  // sentence (docs/runtime.md, "Reply rules").
  int64_t min_reply_tokens = 2;
  int64_t no_repeat_ngram = 3;
  double reply_repetition_penalty = 1.0;
  // Dialogue guidance (classifier-free guidance, as an anti-LM): over the reply's first
  // guidance_tokens tokens, log p moves away from what the model would reply to the same thinking
  // without the latest user message, log p + w (log p - log p_without), so the reply answers what
  // was just said rather than what any turn with this feeling gets; 0: off (docs/runtime.md,
  // "Dialogue guidance"). 0.3 and 16 won on the valid split for attune-small.
  double dialogue_guidance = 0.3;
  int64_t guidance_tokens = 16;
  // The line guided against keeps the earlier turns (context-aware decoding: the reply answers the
  // latest message, not the dialogue's topic); false: it drops the whole dialogue.
  bool guidance_keeps_history = true;
  // false: re-read the whole dialogue before every turn instead of reusing the KV cache (the
  // baseline bench_runtime measures the cache against; same outputs, more time).
  bool reuse_cache = true;
  // Speak the replies (needs RuntimeOptions::speak); false: text only, no synthesis cost.
  bool speak = true;
  // A quote in the thinking copies the user's typed words (the text of a turn); false: the model
  // quotes freely. With quote_heard_words, audio turns lend their CTC words (Reply::heard_words)
  // too; off by default, as quoting today's rough transcripts derails the thinking more than it helps
  // (docs/runtime.md, "Quoting"), except for models that read those words (words_in_prompt).
  bool copy_quotes = true;
  bool quote_heard_words = false;
  // Where the thinking answers a trajectory question ("They want the trajectory, "), the path is
  // written from the labels heard in this dialogue's earlier turns ("calm (turn 1) -> sad (turns
  // 2-3)"); false: the model writes it (docs/runtime.md, "Heard path").
  bool write_heard_path = true;
  // Weight of the model's quote source prior (config.json "quotes": how often a cause quote copies
  // the current user turn, the one before, ...); < 0: the model's own weight, 0: no prior.
  double quote_prior_weight = -1;
};

// How the user sounded in one turn, as the model heard it.
struct HeardEmotion {
  std::string label;  // one of the seven HumDial labels, or "" when the model could not tell
  double intensity = 0;
  // Over the seven labels (happy, sad, anger, fear, neutral, surprise, disgust), summing to 1: the
  // model's next-token probabilities where it named the feeling in its thinking. One-hot on `label`
  // when the thinking names it in a way the tokenizer splits differently; empty when no label.
  std::vector<std::pair<std::string, double>> probabilities;
  // Where label and probabilities come from: "encoder head" (the speech encoder's emotion head, on
  // the voice alone) or "thinking" (the words the model wrote); "" when nothing was heard.
  std::string source;
};

struct ATTUNE_API TurnTimings {
  double audio_seconds = 0;      // duration of the user's turn
  double features = 0;           // log-mel extraction
  double encoder = 0;            // speech encoder + adapter
  double prefill = 0;            // the turn's tokens (and any history re-read) through the language model
  double first_token = 0;        // end of user audio (the turn call) -> first generated token (thinking)
  double first_reply_token = 0;  // -> first token of the reply text (after the thinking)
  double last_token = 0;         // -> the last generated token
  double first_audio = 0;        // -> the first sentence's audio ready (0 without speech)
  double total = 0;              // -> everything done, the last sentence's audio included
  int64_t prompt_tokens = 0;     // tokens this turn added before generating
  int64_t generated_tokens = 0;
  double decode_tokens_per_second() const;
};

struct Reply {
  size_t turn = 0;  // 1-based within the session
  HeardEmotion emotion;
  // Both sources, whichever `emotion` reports: the encoder head's top label ("" without heads or
  // audio) and the label the thinking names ("" when it names none).
  std::string head_label, thinking_label;
  // The user's words as the speech encoder's CTC head heard them (greedy or with the model's character LM, lower case,
  // no punctuation; rough: the model card gives its error rate). Empty for text turns and for models without a CTC
  // head.
  std::string heard_words;
  // The heard label of every turn so far, this one last ("" where unclear), and the model's own
  // sentence about it when its thinking has one ("So far: calm -> sad; ...").
  std::vector<std::string> trajectory;
  std::string trajectory_text;
  std::string thinking;      // the hidden reasoning (without its tags); shown only on request
  std::string text;          // the reply; never contains thinking tags
  SpeechStyle style;         // how the reply is spoken
  std::string style_source;  // "style head", "style line" or "default" (docs/runtime.md)
  AudioBuffer audio;         // the spoken reply (empty when speaking is off or the reply is empty)
  TurnTimings timings;
  std::vector<std::string> warnings;  // about the input audio and the context (one line each)
  StopReason stop_reason = StopReason::kStopToken;
  int64_t context_tokens = 0;  // positions in use after this turn
  size_t dropped_turns = 0;    // exchanges dropped so far to stay within the budget
};

struct TurnCallbacks {
  std::function<void(std::string_view piece)> on_thinking;  // thinking text as it is generated
  std::function<void(std::string_view piece)> on_text;      // reply text as it is generated
  // The reply's audio, one sentence at a time, as soon as each is synthesised (in order, on the
  // calling thread of Session::turn).
  std::function<void(const AudioBuffer& chunk, size_t sentence)> on_audio;
  // Asked before every generated token: true ends the turn there (StopReason::kCancelled), e.g.
  // when the client that asked for it has gone.
  std::function<bool()> should_stop;
};

class Session;

class ATTUNE_API Model {
 public:
  // A composite directory (config.json "model_type": "attune_slm", weights, tokenizer.json, and
  // optionally model_card.json). Throws ConfigError/InputError naming the file and what is wrong,
  // e.g. a directory written by another version of attune.
  static Model load(const std::filesystem::path& dir, const RuntimeOptions& options = {});

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  Session open_session(const SessionOptions& options = {}) const;

  // "attune_slm: ... | bf16 on cpu | 17.0M parameters | style head: yes"
  std::string describe() const;
  std::filesystem::path directory() const;
  int64_t context_length() const;  // max_position_embeddings
  double load_seconds() const;
  bool has_style_head() const;
  // Whether the speech encoder has a CTC head, i.e. whether audio turns fill Reply::heard_words.
  bool transcribes() const;
  // How the CTC words are decoded: "greedy CTC", or "CTC beam B + N-gram char LM" with a character LM.
  std::string words_decoding() const;
  // What the speech encoder's CTC head hears in `audio` (the words of Reply::heard_words),
  // without generating anything. Throws ConfigError for a model without a CTC head, InputError for
  // audio with no samples.
  std::string transcribe(const AudioBuffer& audio) const;

  struct ATTUNE_HIDDEN Impl;  // the implementation (session.cpp), not exported

 private:
  explicit Model(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

class ATTUNE_API Session {
 public:
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  // One user turn: audio (any sample rate, mono or interleaved channels) and optional text that
  // follows it in the same user message. Audio that is silent, very short, very long (more than
  // the encoder's 30 s: the last 30 s are heard), clipped or without voiced speech is still
  // answered, with a line in Reply::warnings. Throws InputError for audio with no samples at all
  // and text-and-audio both empty.
  Reply turn(const AudioBuffer& audio, std::string_view text = {}, const TurnCallbacks& callbacks = {});

  // Adds a past exchange without generating anything: the user's turn (audio and/or text) and what
  // the assistant answered, with its thinking when known. This is how a stateless client (one that
  // resends the whole dialogue, OpenAI style) rebuilds the context; the turn's heard emotion is
  // unknown ("" in the trajectory). Throws InputError as turn() does, and when the history does
  // not fit the context budget.
  void add_exchange(const AudioBuffer& audio, std::string_view text, std::string_view reply,
                    std::optional<std::string_view> thinking = std::nullopt);

  // Changes how the next turns are decoded and spoken (max_new_tokens, temperature, top_p, seed,
  // reuse_cache, speak, voice, copy_quotes: switched on, it copies the words of the turns from then
  // on), e.g. per request in a server. `system` and `context_tokens` keep the
  // values the session was opened with. Throws ConfigError as open_session does.
  void set_options(const SessionOptions& options);

  // Forgets the dialogue (the next turn is turn 1).
  void reset();
  size_t turns() const;
  int64_t context_tokens() const;  // positions in use
  int64_t context_budget() const;

  struct ATTUNE_HIDDEN Impl;  // the implementation (session.cpp), not exported

 private:
  friend class Model;
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The seven labels in the order of HeardEmotion::probabilities.
ATTUNE_API const std::vector<std::string>& emotion_labels();

}  // namespace attune
