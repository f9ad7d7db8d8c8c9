// `attune generate`: runs a decoder language model from the command line.
//   attune generate --model models/qwen2.5-0.5b --prompt "The capital of France is" --max-new-tokens 16
//   attune generate --model DIR --chat --prompt "I lost my keys again..." --temperature 0.7 --top-p 0.9 --seed 1
//   attune generate --model DIR --prompt-ids 9707,11,1879 --greedy --dump-logits logits.npy
//   attune generate --model SLM_DIR --audio turn.flac [--prompt TEXT] [--system TEXT]   (the whole SLM)
// The generated text streams to stdout (token ids when the directory has no tokenizer); the resolved
// options, load time, tokens/s and timings go to stderr. --dump-logits writes float32 [rows, vocab]:
// row i holds the logits at position i of prompt + generated (rows = prompt + generated - 1).
//
// Torch-free: the model is reached through model/generate.h (pimpl), so this file compiles fast.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "attune/error.h"
#include "audio/audio_file.h"
#include "cli/command.h"
#include "cli/id_list.h"
#include "common/memory.h"
#include "io/npy.h"
#include "model/generate.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace attune::cli {
namespace {

struct GenerateCliOptions {
  std::string model;
  std::string prompt;
  std::string prompt_ids;
  bool chat = false;
  std::string system;
  int64_t max_new_tokens = 64;
  bool greedy = false;
  double temperature = 1.0;
  int64_t top_k = 0;
  double top_p = 1.0;
  double repetition_penalty = 1.0;
  uint64_t seed = 0;
  std::vector<std::string> stop;
  std::string dump_logits;
  std::string dtype = "auto";
  std::string device = "auto";
  bool no_stream = false;
  bool sampling_requested = false;  // --temperature / --top-k / --top-p / --seed given
  // The spoken language model: `--audio FILE` runs the whole SLM (encoder + adapter + LM) on an
  // attune_slm directory; --prompt then follows the audio in the same user turn.
  std::string audio;
};

void report(const GenerateCliOptions& o, const model::GenerateResult& r);
int run_generate_audio(const GenerateCliOptions& o, model::GenerateOptions gen);

int run_generate(const GenerateCliOptions& o) {
  model::set_num_threads(global_options().threads);
  model::GenerateOptions gen;
  gen.max_new_tokens = o.max_new_tokens;
  gen.sampling.greedy = o.greedy || !o.sampling_requested;
  gen.sampling.temperature = o.temperature;
  gen.sampling.top_k = o.top_k;
  gen.sampling.top_p = o.top_p;
  gen.sampling.repetition_penalty = o.repetition_penalty;
  gen.sampling.seed = o.seed;
  gen.stop_strings = o.stop;
  gen.return_logits = !o.dump_logits.empty();
  gen.sampling.validate();  // before the (slow) load
  if (o.max_new_tokens < 0) throw ConfigError("--max-new-tokens must be >= 0, got " + std::to_string(o.max_new_tokens));

  if (!o.audio.empty()) return run_generate_audio(o, gen);
  if (o.prompt.empty() && o.prompt_ids.empty()) {
    throw ConfigError("generate: give --prompt TEXT, --prompt-ids IDS or --audio FILE");
  }
  std::vector<int32_t> prompt;
  if (!o.prompt_ids.empty()) {
    prompt = parse_id_list(o.prompt_ids, "--prompt-ids");  // before the (slow) load
    if (prompt.empty()) throw ConfigError("--prompt-ids: no ids given");
  }

  model::ModelLoadOptions load;
  load.dtype = o.dtype;
  load.device = o.device;
  std::fprintf(stderr, "generate: model %s, %s, max %lld new tokens, dtype %s, device %s, %d threads\n",
               o.model.c_str(), gen.sampling.describe().c_str(), static_cast<long long>(o.max_new_tokens),
               o.dtype.c_str(), o.device.c_str(), global_options().threads);
  const long long resident_before_load = common::resident_bytes();
  const model::TextGenerator generator = model::TextGenerator::load(o.model, load);
  std::fprintf(stderr, "generate: loaded %s in %.2f s\n", generator.describe().c_str(), generator.load_seconds());
  const text::Tokenizer* tok = generator.tokenizer();

  if (o.prompt_ids.empty()) {
    if (!tok) throw InputError(o.model, "no tokenizer.json in the model directory: give --prompt-ids instead");
    if (o.chat) {
      const text::ChatTemplate chat(*tok, o.system);
      text::RenderOptions render;
      render.add_generation_prompt = true;
      text::ChatMessage user;
      user.role = text::Role::kUser;
      user.text = o.prompt;
      prompt = chat.render({user}, render).ids;
      if (gen.stop_token_ids.empty()) gen.stop_token_ids = chat.stop_ids();
    } else {
      prompt = tok->encode(o.prompt);
    }
  }

  const bool stream = !o.no_stream && tok;
  gen.on_token = [&](int32_t id, std::string_view piece) {
    if (stream) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    } else if (!tok) {
      std::printf("%d ", id);
      std::fflush(stdout);
    }
    return true;
  };
  const model::GenerateResult r = generator.generate(prompt, gen);
  if (tok && !stream) std::fwrite(r.text.data(), 1, r.text.size(), stdout);
  report(o, r);
  const double mb = 1024.0 * 1024.0;
  const auto weights = static_cast<double>(generator.parameter_bytes()), kv = static_cast<double>(r.kv_cache_bytes);
  const auto resident = static_cast<double>(common::resident_bytes());
  const double growth = resident - static_cast<double>(resident_before_load);
  // What loading and generating added, against what the weights and the cache need: the measure of a
  // weight format's overhead (the program and its libraries were resident before).
  std::fprintf(stderr,
               "generate: memory resident %.0f MB, %.0f MB more than before loading = %.2f x (weights %.0f MB + KV "
               "cache %.1f MB)\n",
               resident / mb, growth / mb, growth / (weights + kv), weights / mb, kv / mb);
  return 0;
}

int run_generate_audio(const GenerateCliOptions& o, model::GenerateOptions gen) {
  if (!o.prompt_ids.empty()) throw ConfigError("--audio: give the text with --prompt, not --prompt-ids");
  // The audio first: a bad file fails before the (slow) load.
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const AudioBuffer clip = audio::load_mono(o.audio, audio::kModelSampleRate);
  const double read_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (clip.samples.empty()) throw InputError(o.audio, "no audio samples");

  model::ModelLoadOptions load;
  load.dtype = o.dtype;
  load.device = o.device;
  std::fprintf(stderr,
               "generate: model %s, audio %s (%.2f s), %s, max %lld new tokens, dtype %s, device %s, %d threads\n",
               o.model.c_str(), o.audio.c_str(), static_cast<double>(clip.samples.size()) / audio::kModelSampleRate,
               gen.sampling.describe().c_str(), static_cast<long long>(o.max_new_tokens), o.dtype.c_str(),
               o.device.c_str(), global_options().threads);
  const model::SpeechGenerator generator = model::SpeechGenerator::load(o.model, load);
  std::fprintf(stderr, "generate: loaded %s in %.2f s\n", generator.describe().c_str(), generator.load_seconds());

  const bool stream = !o.no_stream;
  gen.on_token = [&](int32_t, std::string_view piece) {
    if (stream) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    }
    return true;
  };
  const model::SpeechGenerateResult r = generator.generate(clip.samples, o.prompt, o.system, gen);
  if (!stream) std::fwrite(r.text.data(), 1, r.text.size(), stdout);
  const double audio_seconds = r.feature_seconds + r.audio_embed_seconds;
  std::fprintf(stderr,
               "generate: audio %.2f s read in %.3f s; features %lld mel frames in %.3f s; encoder+adapter %lld audio "
               "tokens in %.3f s; RTF = %.3f s / %.2f s = %.4f\n",
               r.audio_duration_s(), read_seconds, static_cast<long long>(r.mel_frames), r.feature_seconds,
               static_cast<long long>(r.audio_tokens), r.audio_embed_seconds, audio_seconds, r.audio_duration_s(),
               r.audio_rtf());
  report(o, r);
  return 0;
}

// The newline after the text, the logits dump and the prompt/decode timings (text and audio paths).
void report(const GenerateCliOptions& o, const model::GenerateResult& r) {
  std::fputc('\n', stdout);
  std::fflush(stdout);

  if (!o.dump_logits.empty()) {
    io::write_npy(o.dump_logits, {r.logits_rows, r.vocab_size}, r.logits.data());
    std::fprintf(stderr, "generate: wrote logits [%lld, %lld] to %s\n", static_cast<long long>(r.logits_rows),
                 static_cast<long long>(r.vocab_size), o.dump_logits.c_str());
  }
  const auto n = static_cast<double>(r.ids.size());
  std::fprintf(stderr,
               "generate: prompt %lld tokens in %.3f s (%.1f tokens/s, first token included); "
               "decode %lld steps in %.3f s (%.2f tokens/s); %zu tokens generated, stop: %s\n",
               static_cast<long long>(r.prompt_tokens), r.prompt_seconds,
               r.prompt_seconds > 0 ? static_cast<double>(r.prompt_tokens) / r.prompt_seconds : 0.0,
               static_cast<long long>(r.decode_steps), r.decode_seconds,
               r.decode_seconds > 0 ? static_cast<double>(r.decode_steps) / r.decode_seconds : 0.0,
               static_cast<size_t>(n), std::string(to_string(r.stop_reason)).c_str());
}

const bool registered_generate = register_command(
    {"generate", "Generate text with a decoder language model (Qwen2 / Qwen3 / Llama directory)",
     [](CLI::App& app) -> Action {
       auto o = std::make_shared<GenerateCliOptions>();
       app.add_option("--model", o->model, "Model directory: config.json, model.safetensors (or index), tokenizer.json")
           ->required();
       auto* prompt = app.add_option("--prompt", o->prompt, "Prompt text (special tokens written in it become ids)");
       auto* ids = app.add_option("--prompt-ids", o->prompt_ids, "Prompt as token ids: \"1,2,3\" or \"1 2 3\"");
       prompt->excludes(ids);
       app.add_flag("--chat", o->chat, "Wrap --prompt as a ChatML user turn and stop at <|im_end|>")->needs(prompt);
       auto* audio = app.add_option("--audio", o->audio,
                                    "Run the whole spoken language model (attune_slm directory) on this audio file; "
                                    "--prompt then follows the audio in the same ChatML user turn");
       audio->excludes(ids);
       app.add_option("--system", o->system, "With --chat or --audio: the system message");
       app.add_option("--max-new-tokens", o->max_new_tokens, "Tokens to generate at most (default 64)");
       auto* greedy =
           app.add_flag("--greedy", o->greedy, "Greedy decoding (the default unless sampling options are given)");
       std::vector<CLI::Option*> sampling{
           app.add_option("--temperature", o->temperature, "Sampling temperature (> 0)"),
           app.add_option("--top-k", o->top_k, "Keep the k most likely tokens (0 = all)"),
           app.add_option("--top-p", o->top_p, "Nucleus sampling probability (1 = off)"),
           app.add_option("--seed", o->seed, "Random seed; the same seed gives the same tokens")};
       // Any sampling option switches from greedy to sampling.
       for (auto* opt : sampling) opt->each([o](const std::string&) { o->sampling_requested = true; });
       for (auto* opt : sampling) greedy->excludes(opt);
       app.add_option("--repetition-penalty", o->repetition_penalty, "HF repetition penalty (1 = off)");
       app.add_option("--stop", o->stop, "Stop when the generated text contains this string (repeatable)");
       app.add_option("--dump-logits", o->dump_logits, "Write the logits of every position as float32 .npy");
       app.add_option("--dtype", o->dtype,
                      "fp32, bf16, int8 (CPU: int8 weights quantised at load) or auto (bf16 on CUDA and on CPUs with "
                      "native bf16)")
           ->check(CLI::IsMember({"auto", "fp32", "bf16", "float32", "bfloat16", "int8"}));
       app.add_option("--device", o->device, "auto, cpu, cuda or cuda:N");
       app.add_flag("--no-stream", o->no_stream, "Print the text once at the end instead of token by token");
       return [o] { return run_generate(*o); };
     }});

}  // namespace
}  // namespace attune::cli
