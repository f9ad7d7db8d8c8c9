#include "cli/chat_options.h"

#include <CLI/CLI.hpp>

#include "cli/command.h"

#ifndef ATTUNE_DEFAULT_MODEL_DIR
#define ATTUNE_DEFAULT_MODEL_DIR "models/attune-small"
#endif

namespace attune::cli {

void add_chat_model_options(CLI::App& app, ChatModelOptions& o) {
  app.add_option("--model", o.model,
                 "Model directory (attune_slm composite); default: the shipped models/attune-small");
  app.add_option("--voice", o.session.voice, "The talker's voice (see `attune speak --help`)");
  app.add_option("--system", o.session.system, "A system message for the dialogue (default: none, as in training)");
  app.add_option("--max-new-tokens", o.session.max_new_tokens, "Tokens per turn at most, thinking and reply together")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  app.add_option("--context", o.session.context_tokens,
                 "Context budget in tokens (0: the model's); the oldest exchanges are dropped beyond it")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--temperature", o.session.temperature, "Sampling temperature (0: greedy, the default)")
      ->check(CLI::Range(0.0, 100.0));
  app.add_option("--top-p", o.session.top_p, "Nucleus sampling probability")->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", o.session.seed, "Random seed for sampling");
  app.add_option("--max-thinking-tokens", o.session.max_thinking_tokens,
                 "A longer thinking is closed there (a looping thinking would leave no reply)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--min-reply-tokens", o.session.min_reply_tokens, "The reply cannot end before this many tokens")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--no-repeat-ngram", o.session.no_repeat_ngram,
                 "No n-gram of this many tokens twice in a reply (0: off)")
      ->check(CLI::Range(int64_t{0}, int64_t{64}))
      ->capture_default_str();
  app.add_option("--repetition-penalty", o.session.reply_repetition_penalty,
                 "Penalty on the reply's own tokens (1: off; HF/CTRL semantics)")
      ->check(CLI::Range(1.0, 10.0))
      ->capture_default_str();
  app.add_option("--dialogue-guidance", o.session.dialogue_guidance,
                 "Weight of the guidance on the reply's first tokens: away from what the model would reply to the "
                 "same thinking without the latest user message (0: off)")
      ->check(CLI::Range(0.0, 20.0))
      ->capture_default_str();
  app.add_option("--guidance-tokens", o.session.guidance_tokens, "Reply tokens the dialogue guidance applies to")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20))
      ->capture_default_str();
  app.add_flag("--guide-without-history{false}", o.session.guidance_keeps_history,
               "Guide against the same thinking after an empty dialogue (default: after the earlier turns, the "
               "latest user message left out)");
  app.add_flag("--free-path{false}", o.session.write_heard_path,
               "Let the model write the path a trajectory question recounts (default: the labels heard in the "
               "earlier turns)");
  app.add_flag("--free-quotes{false}", o.session.copy_quotes,
               "Let the thinking quote freely (default: a quote copies the user's typed words)");
  app.add_flag("--quote-heard-words", o.session.quote_heard_words,
               "Quotes may also copy what the encoder heard in audio turns (its CTC words)");
  app.add_option("--quote-prior-weight", o.session.quote_prior_weight,
                 "Weight of the model's priors on which user turn a quote copies and where it ends (0: none; "
                 "default: the model's, config.json quotes.prior_weight)")
      ->check(CLI::Range(0.0, 100.0));
  app.add_flag("--no-speech", o.no_speech, "Text replies only (no talker)");
  app.add_option("--dtype", o.dtype, "fp32, bf16, int8 (language model weights, CPU) or auto")
      ->check(CLI::IsMember({"auto", "fp32", "bf16", "int8"}));
  app.add_option("--device", o.device, "auto, cpu, cuda or cuda:N");
  app.add_option("--heard-from", o.heard_from,
                 "For models with encoder heads: report the heard emotion from the encoder's head or from the "
                 "thinking (default: the model's choice, config.json encoder_heads.heard_from)")
      ->check(CLI::IsMember({"head", "thinking"}));
  app.add_option("--evidence-weight", o.evidence_weight,
                 "For models with encoder heads: weight of the head's evidence on the thinking's emotion word "
                 "(0: none; default: the model's, encoder_heads.evidence_weight)")
      ->check(CLI::Range(0.0, 100.0));
  app.add_flag("--greedy-words", o.greedy_words,
               "Decode the heard words greedily, even when the model has a character LM for them "
               "(encoder_heads.ctc_lm)");
}

std::string chat_model_dir(const ChatModelOptions& o) { return o.model.empty() ? ATTUNE_DEFAULT_MODEL_DIR : o.model; }

Model load_chat_model(const ChatModelOptions& o, std::FILE* transcript) {
  RuntimeOptions options;
  options.dtype = parse_dtype(o.dtype);
  options.device = parse_device(o.device);
  options.threads = global_options().threads;
  options.speak = !o.no_speech;
  options.heard_from = o.heard_from;
  options.evidence_weight = o.evidence_weight;
  options.greedy_words = o.greedy_words;
  Model model = Model::load(chat_model_dir(o), options);
  std::fprintf(transcript, "model: %s (loaded in %.2f s)\n", model.describe().c_str(), model.load_seconds());
  return model;
}

SessionOptions session_options(const ChatModelOptions& o) { return o.session; }

}  // namespace attune::cli
