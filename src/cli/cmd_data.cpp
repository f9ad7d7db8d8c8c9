// `attune data build | stats | corpora | shards | char-lm | quote-prior | transcribe`: IEAT training
// data from the corpora in ../shared/data (src/data, docs/data.md).
#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>

#include "attune/error.h"
#include "cli/command.h"
#include "common/file_util.h"
#include "common/progress.h"
#include "data/build.h"
#include "data/readers.h"
#include "data/stats.h"
#include "data/voicing.h"
#include "io/model_config.h"
#include "text/char_lm.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"
#include "text/transcript.h"

#if ATTUNE_CLI_WITH_MODEL  // `data transcribe` runs a model; a build without libtorch leaves it out
#include "attune/runtime.h"
#include "audio/audio_file.h"
#include "cli/chat_options.h"
#endif

#ifndef ATTUNE_DEFAULT_SHARED_DIR
#define ATTUNE_DEFAULT_SHARED_DIR "../shared"
#endif

namespace fs = std::filesystem;

namespace attune::cli {
namespace {

std::string default_data_root() {
  if (const char* env = std::getenv("ATTUNE_SHARED_DIR"); env && *env) return std::string(env) + "/data";
  return std::string(ATTUNE_DEFAULT_SHARED_DIR) + "/data";
}

struct BuildCli {
  std::string corpora;
  std::string ieat = "full";
  std::string tokenizer;
  bool no_questions = false;
  bool keep_held_out = false;
  bool no_progress = false;
  data::BuildOptions options;
};

std::vector<std::string> split_names(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string name = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!name.empty()) out.push_back(name);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

int run_build(BuildCli c) {
  data::BuildOptions& o = c.options;
  o.corpora = split_names(c.corpora);
  if (o.corpora.empty() == o.reuse_voices.empty()) {
    throw ConfigError("data build: give either --corpus NAME[,NAME] or --reuse-voices DIR");
  }
  if (o.corpora.size() == 1 && o.corpora[0] == "all") {
    o.corpora.clear();
    for (const auto& info : data::corpora()) {
      if (info.name != "humdial") o.corpora.push_back(info.name);
    }
  }
  for (const std::string& name : o.corpora) {
    bool known = false;
    for (const auto& info : data::corpora()) known = known || info.name == name;
    if (!known) throw ConfigError("--corpus: unknown corpus '" + name + "' (see `attune data corpora`)");
  }
  if (std::find(o.corpora.begin(), o.corpora.end(), "humdial") != o.corpora.end() && o.humdial_path.empty()) {
    throw ConfigError("--corpus humdial needs --humdial FILE.jsonl");
  }
  o.ieat.mode = data::parse_thinking_mode(c.ieat);
  o.ieat.add_questions = !c.no_questions;
  o.exclude_held_out = !c.keep_held_out;
  o.voicing.seed = o.ieat.seed;
  if (!c.tokenizer.empty()) o.tokenizer = c.tokenizer;
  o.threads = global_options().threads;
  o.progress = !c.no_progress;
  data::Diagnostics diag;
  data::BuildResult r = data::build_dataset(o, diag);
  std::fprintf(stderr, "built %lld dialogues, %lld turns (%lld with audio), %lld shard records in %.1f s\n",
               static_cast<long long>(r.dialogues), static_cast<long long>(r.turns),
               static_cast<long long>(r.voiced_turns), static_cast<long long>(r.records), r.seconds);
  if (diag.total() > 0) {
    std::fprintf(stderr, "%lld problems in the data (the rest was built; details in %s):\n",
                 static_cast<long long>(diag.total()), r.report.string().c_str());
    for (const std::string& line : diag.summary_lines()) std::fprintf(stderr, "%s\n", line.c_str());
  }
  if (!o.tokenizer) std::fprintf(stderr, "no --tokenizer: wrote dialogues and audio, no shards\n");
  std::printf("%s\n", r.report.string().c_str());
  return 0;
}

int run_stats(const std::string& dir, const std::string& recipe) {
  data::CorpusWeights weights;
  if (!recipe.empty()) {
    const nlohmann::json r = io::read_json_file(recipe);
    if (r.contains("data") && r["data"].is_object() && r["data"].contains("corpus_weights")) {
      weights = data::CorpusWeights::from_json(r["data"]["corpus_weights"], recipe + ": data.corpus_weights");
    }
  }
  data::DataStats s = data::compute_stats(dir, weights);
  const std::string plot = "label_distribution.svg";
  common::write_file_atomically(fs::path(dir) / plot, data::label_distribution_svg(s));
  common::write_file_atomically(fs::path(dir) / "stats.md", data::stats_markdown(s, plot));
  common::write_file_atomically(fs::path(dir) / "stats.json", data::stats_to_json(s).dump(1) + "\n");
  common::write_file_atomically(fs::path(dir) / "samples.html", data::samples_html(s, dir));
  std::printf("%s", data::stats_table(s).c_str());
  std::fprintf(stderr, "wrote %s/stats.json, stats.md, %s and samples.html (open it in a browser)\n", dir.c_str(),
               plot.c_str());
  return 0;
}

int run_shards(const std::string& dir, const std::string& tokenizer, data::ShardOptions options, bool progress) {
  auto dialogues = data::read_dialogues((fs::path(dir) / "dialogues.jsonl").string());
  text::ChatTemplate chat(text::Tokenizer::load(tokenizer));
  data::Diagnostics diag;
  nlohmann::json index = data::write_shards(dialogues, dir, tokenizer, chat, options, {{"rebuilt_from", dir}},
                                            global_options().threads, progress, diag);
  for (const std::string& line : diag.summary_lines()) std::fprintf(stderr, "%s\n", line.c_str());
  std::printf("%s\n", index["totals"].dump().c_str());
  return 0;
}

// Learns a character LM for the CTC words from the builds' text (every turn and answer), writes it
// as ARPA, and with `model` puts it into that model directory (encoder_heads.ctc_lm and its decoding
// settings in config.json).
struct CharLmCli {
  std::vector<std::string> dirs;
  std::string out, model;
  text::CharLm::TrainOptions train;
  double weight = io::EncoderHeadsConfig{}.ctc_lm_weight, bonus = io::EncoderHeadsConfig{}.ctc_lm_bonus;
  int64_t beam = io::EncoderHeadsConfig{}.ctc_beam;
};

int run_char_lm(const CharLmCli& c) {
  std::optional<io::SlmConfig> config;
  fs::path out = c.out;
  if (!c.model.empty()) {
    config = io::load_slm_config(fs::path(c.model) / "config.json");
    if (!config->encoder_heads || config->encoder_heads->ctc_alphabet.empty())
      throw InputError(c.model + "/config.json", "the model has no CTC head (encoder_heads.ctc_alphabet)");
    if (out.empty()) out = fs::path(c.model) / "ctc_lm.arpa.gz";
    if (out.parent_path() != fs::path(c.model))
      throw ConfigError("--out: with --model the LM goes into the model directory (a file name there)");
  }
  if (out.empty()) throw ConfigError("--out FILE or --model DIR: where the LM goes");
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::vector<std::string>> sentences;
  int64_t chars = 0;
  for (const std::string& dir : c.dirs) {
    for (const data::Dialogue& d : data::read_dialogues((fs::path(dir) / "dialogues.jsonl").string())) {
      for (const data::Turn& t : d.turns) {
        for (const std::string* s : {&t.text, &t.response_text}) {
          std::vector<std::string> sentence = text::ctc_characters(*s);
          if (sentence.empty()) continue;
          chars += static_cast<int64_t>(sentence.size());
          sentences.push_back(std::move(sentence));
        }
      }
    }
  }
  if (sentences.empty()) throw InputError(c.dirs.front(), "no text to learn from");
  const text::CharLm lm = text::CharLm::train(sentences, c.train);
  lm.save_arpa(out);
  std::string counts;
  for (int64_t n : lm.counts()) counts += (counts.empty() ? "" : ", ") + std::to_string(n);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "%d-gram character LM from %zu sentences (%lld characters): n-grams %s; %s (%.1f s)\n",
               lm.order(), sentences.size(), static_cast<long long>(chars), counts.c_str(), out.c_str(), seconds);
  if (config) {
    io::EncoderHeadsConfig& h = *config->encoder_heads;
    h.ctc_lm = out.filename().string();
    h.ctc_lm_weight = c.weight, h.ctc_lm_bonus = c.bonus, h.ctc_beam = c.beam;
    config->validate(c.model + "/config.json");
    io::write_slm_config(fs::path(c.model) / "config.json", *config);
    std::fprintf(stderr, "%s/config.json: encoder_heads.ctc_lm = \"%s\" (weight %g, bonus %g, beam %lld)\n",
                 c.model.c_str(), h.ctc_lm.c_str(), c.weight, c.bonus, static_cast<long long>(c.beam));
  }
  return 0;
}

// Measures where the traces of a build quote from (data::CorpusStats::quote_source_ages, quote_lengths)
// and writes it into a model's config.json as its quote priors ("quotes", io::QuotesConfig).
int run_quote_prior(const std::string& dir, const std::string& model, double weight) {
  const data::DataStats s = data::compute_stats(dir);
  const auto& ages = s.total.quote_source_ages;
  if (std::accumulate(ages.begin(), ages.end(), int64_t{0}) == 0) {
    throw InputError(dir + "/dialogues.jsonl", "no thinking quotes a user turn: nothing to learn a prior from");
  }
  const fs::path file = fs::path(model) / "config.json";
  io::SlmConfig config = io::load_slm_config(file);
  config.quotes.source_prior = data::quote_source_prior(ages);
  config.quotes.length_hazard = data::quote_length_hazard(s.total.quote_lengths);
  config.quotes.prior_weight = weight;
  io::write_slm_config(file, config);
  std::string prior, hazard;
  for (double p : config.quotes.source_prior) prior += fmt::format(" {:.3f}", p);
  for (double h : config.quotes.length_hazard) hazard += fmt::format(" {:.3f}", h);
  std::fprintf(stderr, "%s: quotes.source_prior%s (turns back 0, 1, 2, 3+), length_hazard%s (2 words on), weight %g\n",
               file.string().c_str(), prior.c_str(), hazard.c_str(), weight);
  return 0;
}

#if ATTUNE_CLI_WITH_MODEL
// Writes each voiced user turn's heard_words: what `model`'s encoder hears in it. The shards of a
// transcribed build show those words beside the audio, as the runtime does for a model with
// encoder_heads.words_in_prompt, so the language model learns to read the transcripts it will get.
int run_transcribe(const std::string& dir, const ChatModelOptions& model_options, bool progress) {
  const fs::path jsonl = fs::path(dir) / "dialogues.jsonl";
  std::vector<data::Dialogue> dialogues = data::read_dialogues(jsonl.string());
  int64_t voiced = 0;
  for (const data::Dialogue& d : dialogues) {
    for (const data::Turn& t : d.turns) voiced += !t.split_audio_file.empty();
  }
  if (voiced == 0) throw InputError(jsonl.string(), "no turn has audio (split_audio_file): build it with --voices");
  ChatModelOptions o = model_options;
  o.no_speech = true;
  Model model = load_chat_model(o, stderr);  // transcribe() names a model without a CTC head
  std::optional<common::Progress> bar;
  if (progress) bar.emplace("transcribe", voiced, "turns");
  const auto start = std::chrono::steady_clock::now();
  double audio_s = 0;
  for (data::Dialogue& d : dialogues) {
    for (data::Turn& t : d.turns) {
      if (t.split_audio_file.empty()) continue;
      const AudioBuffer audio = audio::load_audio(data::resolve_audio(dir, t.split_audio_file));
      audio_s += audio.duration_s();
      t.heard_words = model.transcribe(audio);
      if (bar) bar->advance();
    }
  }
  if (bar) bar->finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  data::write_dialogues(jsonl.string(), dialogues);
  const nlohmann::json record = {{"model", chat_model_dir(o)},
                                 {"decoding", model.words_decoding()},
                                 {"turns", voiced},
                                 {"audio_s", audio_s},
                                 {"seconds", seconds}};
  common::write_file_atomically(fs::path(dir) / "transcribed.json", record.dump(1) + "\n");
  std::fprintf(stderr,
               "wrote heard_words for %lld turns to %s (%.0f s of audio, RTF %.3f); rewrite the shards: attune data "
               "shards %s --tokenizer TOKENIZER\n",
               static_cast<long long>(voiced), jsonl.c_str(), audio_s, seconds / std::max(audio_s, 1e-9), dir.c_str());
  return 0;
}

#endif

int run_corpora() {
  std::printf("%-22s %-4s %-8s %-7s %-6s %s\n", "name", "lang", "emotions", "causes", "audio", "what");
  for (const auto& c : data::corpora()) {
    std::printf("%-22s %-4s %-8s %-7s %-6s %s\n", c.name.c_str(), c.lang.c_str(), c.emotions ? "yes" : "-",
                c.causes ? "yes" : "-", c.audio ? "yes" : "-", c.description.c_str());
  }
  return 0;
}

const bool registered = register_command(
    {"data", "Build IEAT training data from the corpora: dialogues, voices, thinking traces, shards",
     [](CLI::App& app) -> Action {
       app.require_subcommand(1);
       auto c = std::make_shared<BuildCli>();
       c->options.data_root = default_data_root();
       auto* build = app.add_subcommand("build", "Read corpora, voice user turns, add thinking, write shards");
       build->add_option("--corpus", c->corpora, "Corpora, comma-separated, or 'all' (see `attune data corpora`)");
       build->add_option("--split", c->options.split, "train or valid")
           ->check(CLI::IsMember({"train", "valid"}))
           ->capture_default_str();
       build->add_option("--out,-o", c->options.out, "Output directory")->required();
       build->add_option("--data-root", c->options.data_root, "Corpus folder ($ATTUNE_SHARED_DIR/data)")
           ->capture_default_str();
       build->add_option("--humdial", c->options.humdial_path, "HumDial JSONL file for --corpus humdial");
       build->add_flag(
           "--voices", c->options.voices,
           "Speak the user turns that have no recording (espeak-ng, Flite), in corpora with emotion labels");
       build->add_flag("--voice-all", c->options.voice_all, "With --voices: also the text-teacher corpora");
       build
           ->add_option("--mismatch-rate", c->options.voicing.mismatch_rate,
                        "Share of neutral-worded turns spoken with an emotional voice")
           ->check(CLI::Range(0.0, 1.0))
           ->capture_default_str();
       build
           ->add_option("--flite-share", c->options.voicing.flite_share,
                        "With --voices: share of English dialogues spoken by a Flite voice (the rest espeak-ng)")
           ->check(CLI::Range(0.0, 1.0))
           ->capture_default_str();
       build->add_flag("--augment", c->options.voicing.augment, "Random gain, noise and speed on synthetic turns");
       build->add_option("--ieat", c->ieat, "Thinking: full (IEAT), label (emotion word only) or none")
           ->check(CLI::IsMember({"full", "label", "none"}))
           ->capture_default_str();
       build->add_flag("--no-questions", c->no_questions, "Do not append HumDial T1/T2 question turns");
       build->add_flag("--keep-held-out", c->keep_held_out,
                       "Train split: keep dialogues whose lines also appear in a validation split");
       build->add_option("--reuse-voices", c->options.reuse_voices,
                         "Instead of --corpus: the dialogues and voices of an earlier build (rebuilds the thinking)");
       build->add_option("--seed", c->options.ieat.seed, "Seed for voices, wording and questions")
           ->capture_default_str();
       build->add_option("--tokenizer", c->tokenizer, "tokenizer.json or model directory: also write shards");
       build->add_option("--n-mels", c->options.shards.n_mels, "Log-mel bins in the shards")
           ->check(CLI::IsMember({80, 128}))
           ->capture_default_str();
       build->add_option("--adapter-stride", c->options.shards.adapter_stride, "The model's adapter stride")
           ->capture_default_str();
       build->add_option("--max-tokens", c->options.shards.max_tokens, "Tokens per record; longer dialogues split")
           ->capture_default_str();
       build->add_option("--limit", c->options.limit, "At most this many dialogues per corpus (0: all)")
           ->capture_default_str();
       build->add_flag("--no-progress", c->no_progress, "No progress bars");
       build->footer("Writes OUT/dialogues.jsonl, OUT/audio/, OUT/shards/ and OUT/build.json (docs/data.md).");

       auto dir = std::make_shared<std::string>();
       auto* stats = app.add_subcommand("stats", "Counts, label distribution, audio hours and tokens of a build");
       stats->add_option("dir", *dir, "A directory written by `attune data build`")->required();
       auto stats_recipe = std::make_shared<std::string>();
       stats
           ->add_option("--recipe", *stats_recipe, "A training recipe whose data.corpus_weights to apply to the shares")
           ->check(CLI::ExistingFile);
       auto* list = app.add_subcommand("corpora", "List the corpus readers");
       auto* shards = app.add_subcommand("shards", "(Re)write DIR/shards from DIR/dialogues.jsonl for a tokenizer");
       auto shard_dir = std::make_shared<std::string>();
       auto shard_tok = std::make_shared<std::string>();
       auto shard_opts = std::make_shared<data::ShardOptions>();
       shards->add_option("dir", *shard_dir, "A directory written by `attune data build`")->required();
       shards->add_option("--tokenizer", *shard_tok, "tokenizer.json or model directory")->required();
       shards->add_option("--n-mels", shard_opts->n_mels, "Log-mel bins")
           ->check(CLI::IsMember({80, 128}))
           ->capture_default_str();
       shards->add_option("--adapter-stride", shard_opts->adapter_stride, "The model's adapter stride")
           ->capture_default_str();
       shards->add_option("--max-tokens", shard_opts->max_tokens, "Tokens per record")->capture_default_str();
       auto lm = std::make_shared<CharLmCli>();
       auto* char_lm = app.add_subcommand(
           "char-lm", "Learn a character n-gram LM (ARPA) from builds' text, for decoding the CTC words");
       char_lm->add_option("dirs", lm->dirs, "Directories written by `attune data build`")->required();
       char_lm->add_option("--order", lm->train.order, "N-gram order")->check(CLI::Range(1, 12))->capture_default_str();
       char_lm->add_option("--min-count", lm->train.min_count, "N-grams of order >= 3 seen fewer times are pruned")
           ->check(CLI::Range(int64_t{1}, int64_t{1000000}))
           ->capture_default_str();
       char_lm->add_option("--out", lm->out, "The ARPA file (.gz: compressed)");
       char_lm->add_option("--model", lm->model,
                           "A model directory: write MODEL/ctc_lm.arpa.gz and set its encoder_heads.ctc_lm");
       char_lm->add_option("--weight", lm->weight, "With --model: the LM's weight in the beam search")
           ->capture_default_str();
       char_lm->add_option("--bonus", lm->bonus, "With --model: the score added per character")->capture_default_str();
       char_lm->add_option("--beam", lm->beam, "With --model: prefixes kept per frame")->capture_default_str();
       auto* quote_prior = app.add_subcommand(
           "quote-prior",
           "Learn from a build's traces which user turn a quote copies and how long it runs, into a model");
       auto prior_dir = std::make_shared<std::string>();
       auto prior_model = std::make_shared<std::string>();
       auto prior_weight = std::make_shared<double>(4.0);
       quote_prior->add_option("dir", *prior_dir, "A directory written by `attune data build` (the training build)")
           ->required();
       quote_prior->add_option("--model", *prior_model, "The model directory whose config.json gets the priors")
           ->required();
       quote_prior->add_option("--weight", *prior_weight, "quotes.prior_weight: the priors' weight at decoding")
           ->check(CLI::Range(0.0, 100.0))
           ->capture_default_str();
       quote_prior->footer("Sets config.json \"quotes\" (docs/runtime.md, \"Quoting\").");
#if ATTUNE_CLI_WITH_MODEL
       auto* transcribe = app.add_subcommand(
           "transcribe", "Write what a model's speech encoder hears in each voiced turn (heard_words) into DIR");
       auto transcribe_dir = std::make_shared<std::string>();
       auto transcribe_model = std::make_shared<ChatModelOptions>();
       transcribe->add_option("dir", *transcribe_dir, "A directory written by `attune data build --voices`")
           ->required();
       transcribe->add_option("--model", transcribe_model->model, "Model directory (default: the shipped model)");
       transcribe->add_flag("--greedy-words", transcribe_model->greedy_words,
                            "Greedy CTC words, even when the model has a character LM (encoder_heads.ctc_lm)");
       transcribe->add_flag("--no-progress", c->no_progress, "No progress bar");
       transcribe->footer(
           "Rewrites DIR/dialogues.jsonl and writes DIR/transcribed.json (the model, turns, time). Then `attune data "
           "shards DIR --tokenizer ...` puts the words beside the "
           "audio in the shards' audio view, for models that read them (encoder_heads.words_in_prompt).");
#endif
       return [=] {
         if (build->parsed()) return run_build(*c);
#if ATTUNE_CLI_WITH_MODEL
         if (transcribe->parsed()) return run_transcribe(*transcribe_dir, *transcribe_model, !c->no_progress);
#endif
         if (stats->parsed()) return run_stats(*dir, *stats_recipe);
         if (char_lm->parsed()) return run_char_lm(*lm);
         if (quote_prior->parsed()) return run_quote_prior(*prior_dir, *prior_model, *prior_weight);
         if (shards->parsed()) return run_shards(*shard_dir, *shard_tok, *shard_opts, !c->no_progress);
         if (list->parsed()) return run_corpora();
         return 2;
       };
     }});

}  // namespace
}  // namespace attune::cli
