// `attune tokenize`: text <-> token ids with a byte-level BPE tokenizer.
//   attune tokenize --tokenizer models/qwen2 < text.txt            ids, space separated
//   attune tokenize --tokenizer models/qwen2 --tokens < text.txt   token spellings ("Ġworld")
//   attune tokenize --tokenizer models/qwen2 --decode < ids.txt    text
// `attune tokenizer-train`: learns a byte-level BPE and writes tokenizer.json.
//   attune tokenizer-train --out out/tokenizer.json --vocab-size 8192 corpus/*.jsonl
// Results go to stdout, timing and progress to stderr.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>

#include "attune/error.h"
#include "cli/command.h"
#include "cli/id_list.h"
#include "common/progress.h"
#include "text/bpe_trainer.h"
#include "text/tokenizer.h"

namespace fs = std::filesystem;

namespace attune::cli {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string read_stdin() {
  std::ios::sync_with_stdio(false);
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

void write_stdout(std::string_view s) { std::fwrite(s.data(), 1, s.size(), stdout); }

struct TokenizeOptions {
  std::string tokenizer;
  bool ids = false;
  bool tokens = false;
  bool decode = false;
  bool no_special = false;
  bool skip_special = false;
  bool lines = false;
  bool quiet = false;
};

std::string format_ids(const text::Tokenizer& tok, const std::vector<int32_t>& ids, bool tokens) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ' ';
    out += tokens ? tok.id_to_token(ids[i]) : std::to_string(ids[i]);
  }
  return out;
}

int run_tokenize(const TokenizeOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const text::Tokenizer tok = text::Tokenizer::load(o.tokenizer);
  const double load_s = seconds_since(t0);
  const std::string input = read_stdin();
  const auto t1 = std::chrono::steady_clock::now();
  size_t count = 0;
  if (o.decode) {
    const auto ids = parse_id_list(input, "stdin");
    text::DecodeOptions options;
    options.skip_special = o.skip_special;
    write_stdout(tok.decode(ids, options));
    count = ids.size();
  } else if (o.lines) {
    std::string out;
    std::vector<int32_t> ids;
    for (size_t pos = 0; pos < input.size();) {
      size_t end = input.find('\n', pos);
      if (end == std::string::npos) end = input.size();
      ids.clear();
      tok.encode_into(std::string_view(input).substr(pos, end - pos), ids, !o.no_special);
      out += format_ids(tok, ids, o.tokens);
      out += '\n';
      count += ids.size();
      pos = end + 1;
    }
    write_stdout(out);
  } else {
    const auto ids = o.no_special ? tok.encode_ordinary(input) : tok.encode(input);
    write_stdout(format_ids(tok, ids, o.tokens) + "\n");
    count = ids.size();
  }
  std::fflush(stdout);
  if (!o.quiet) {
    std::fprintf(stderr, "tokenize: %s: %zu bytes %s %zu tokens in %.3f s (load %.2f s)\n", tok.source().c_str(),
                 o.decode ? 0 : input.size(), o.decode ? "from" : "->", count, seconds_since(t1), load_s);
  }
  return 0;
}

const bool registered_tokenize = register_command(
    {"tokenize", "Encode text from stdin to token ids (or tokens), or decode ids back to text",
     [](CLI::App& app) -> Action {
       auto o = std::make_shared<TokenizeOptions>();
       app.add_option("--tokenizer", o->tokenizer,
                      "tokenizer.json, or a directory with tokenizer.json or vocab.json + merges.txt")
           ->required();
       auto* ids = app.add_flag("--ids", o->ids, "Print token ids, space separated (the default)");
       auto* tokens = app.add_flag("--tokens", o->tokens, "Print the tokens as spelled in tokenizer.json");
       auto* decode = app.add_flag("--decode", o->decode, "Read ids from stdin and print the text");
       ids->excludes(tokens)->excludes(decode);
       tokens->excludes(decode);
       app.add_flag("--no-special", o->no_special, "Treat special tokens written in the text as plain text");
       app.add_flag("--skip-special", o->skip_special, "With --decode: leave special tokens out");
       app.add_flag("--lines", o->lines, "Encode each line on its own; one output line per input line");
       app.add_flag("-q,--quiet", o->quiet, "No summary on stderr");
       return [o] { return run_tokenize(*o); };
     }});

// ---- tokenizer-train ------------------------------------------------------------------------------------

struct TrainOptions {
  std::string out;
  int32_t vocab_size = 8192;
  int64_t min_frequency = 2;
  std::string preset = "qwen2";
  std::vector<std::string> special;
  bool no_default_special = false;
  std::vector<std::string> json_fields;
  std::vector<std::string> files;
};

int run_train(const TrainOptions& o) {
  text::BpeTrainerOptions options;
  options.vocab_size = o.vocab_size;
  options.min_frequency = o.min_frequency;
  options.preset = text::parse_preset(o.preset);
  if (o.no_default_special) options.special_tokens.clear();
  for (const auto& s : o.special) options.special_tokens.push_back(s);
  options.progress = true;
  options.validate();
  fs::path out = o.out;
  if (fs::is_directory(out) || (!o.out.empty() && (o.out.back() == '/'))) out /= "tokenizer.json";
  for (const auto& f : o.files) {
    std::error_code ec;
    if (!fs::is_regular_file(f, ec)) throw InputError(f, "no such file (expected a training text file)");
  }
  text::TrainingTextOptions text_options;
  if (!o.json_fields.empty()) text_options.json_fields = o.json_fields;

  std::string specials;
  for (const auto& s : options.special_tokens) specials += (specials.empty() ? "" : " ") + s;
  std::fprintf(stderr,
               "tokenizer-train: vocab_size=%d min_frequency=%lld preset=%s files=%zu out=%s\n"
               "  special tokens: %s\n",
               options.vocab_size, static_cast<long long>(options.min_frequency),
               std::string(text::preset_name(options.preset)).c_str(), o.files.size(), out.string().c_str(),
               specials.c_str());

  text::BpeTrainer trainer(options);
  {
    common::Progress bar("counting words", static_cast<int64_t>(o.files.size()), "files");
    for (const auto& f : o.files) {
      trainer.add_file(f, text_options);
      bar.advance();
    }
  }
  trainer.train();
  trainer.save(out);
  const auto& s = trainer.stats();
  const auto tok = trainer.tokenizer();
  std::fprintf(stderr,
               "tokenizer-train: %d ids (%lld merges + 256 bytes + %zu special) from %.2f MB, %lld words "
               "(%lld distinct); counting %.2f s, merging %.2f s\n",
               tok.vocab_size(), static_cast<long long>(s.merges), options.special_tokens.size(), s.bytes / 1e6,
               static_cast<long long>(s.words), static_cast<long long>(s.unique_words), s.count_seconds,
               s.merge_seconds);
  std::printf("%s\n", out.string().c_str());
  return 0;
}

const bool registered_train = register_command(
    {"tokenizer-train", "Learn a byte-level BPE from text files and write a Hugging Face tokenizer.json",
     [](CLI::App& app) -> Action {
       auto o = std::make_shared<TrainOptions>();
       app.add_option("--out", o->out, "Output tokenizer.json (or a directory to write tokenizer.json into)")
           ->required();
       app.add_option("--vocab-size", o->vocab_size, "Total ids: 256 bytes + merges + special tokens")
           ->capture_default_str();
       app.add_option("--min-frequency", o->min_frequency, "Never merge a pair seen fewer times")
           ->capture_default_str();
       app.add_option("--preset", o->preset, "Pre-tokenisation: qwen2 (with NFC), gpt2 or llama3")
           ->capture_default_str();
       app.add_option("--special", o->special, "Extra special token (repeatable), after the defaults");
       app.add_flag("--no-default-special", o->no_default_special,
                    "Leave out the default special tokens (<|endoftext|>, <|im_start|>, ..., </think>)");
       app.add_option("--json-field", o->json_fields,
                      "JSON/JSONL keys whose string values are training text (repeatable; default: text, "
                      "utterance, content, response, response_text, situation)");
       app.add_option("files", o->files, "Training files: text, .jsonl, .json (optionally .gz)")->required();
       return [o] { return run_train(*o); };
     }});

}  // namespace
}  // namespace attune::cli
