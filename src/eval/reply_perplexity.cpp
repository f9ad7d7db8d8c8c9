#include "eval/reply_perplexity.h"

#include <torch/torch.h>

#include <fmt/format.h>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

#include "attune/error.h"
#include "common/progress.h"
#include "data/dialogue.h"
#include "data/shards.h"
#include "io/model_config.h"
#include "model/language_model.h"
#include "model/spoken_language_model.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace attune::eval {

namespace fs = std::filesystem;

double ReplyPerplexity::per_token() const { return tokens ? std::exp(nll / static_cast<double>(tokens)) : 0.0; }
double ReplyPerplexity::per_word() const { return words ? std::exp(nll / static_cast<double>(words)) : 0.0; }

nlohmann::json ReplyPerplexity::summary() const {
  return {{"dialogues", dialogues}, {"windows", windows}, {"replies", replies},       {"tokens", tokens},
          {"words", words},         {"nll", nll},         {"ppl_token", per_token()}, {"ppl_word", per_word()}};
}

namespace {

int64_t count_words(const std::string& text) {
  std::istringstream in(text);
  int64_t n = 0;
  for (std::string w; in >> w;) ++n;
  return n;
}

bool is_blank(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

// The reply spans of a rendered window: in each run of target positions, what follows the last
// </think> and the template's blank line after it (or the whole run without one), up to and without
// the closing <|im_end|>.
std::vector<std::pair<size_t, size_t>> reply_spans(const std::vector<int32_t>& ids, const std::vector<uint8_t>& mask,
                                                   const text::Tokenizer& tokenizer, int32_t think_end,
                                                   int32_t im_end) {
  std::vector<std::pair<size_t, size_t>> spans;
  for (const auto& [begin, end] : data::target_runs(mask)) {
    size_t first = begin;
    for (size_t p = begin; p < end; ++p) {
      if (ids[p] == think_end) first = p + 1;
    }
    while (first < end && is_blank(tokenizer.decode(std::span(&ids[first], 1)))) ++first;
    size_t last = end;
    if (last > first && ids[last - 1] == im_end) --last;
    if (last > first) spans.emplace_back(first, last);
  }
  return spans;
}

}  // namespace

ReplyPerplexity evaluate_reply_perplexity(const fs::path& model_dir, const ReplyPerplexityOptions& options) {
  const nlohmann::json config = io::read_json_file(model_dir / "config.json");
  std::shared_ptr<model::SpokenLanguageModelImpl> slm;
  std::shared_ptr<model::LanguageModelImpl> lm;
  if (io::is_slm_config(config)) {
    slm = model::SpokenLanguageModelImpl::from_pretrained(
        model_dir, {.allow_untrained_adapter = true, .int8_language_model = options.int8});
  } else {
    lm = model::LanguageModelImpl::from_pretrained(model_dir);
    if (options.int8) lm->quantize_int8();
  }
  model::LanguageModelImpl& language_model = slm ? slm->language_model() : *lm;
  language_model.eval();

  text::ChatTemplate chat(text::Tokenizer::load(model_dir));
  const text::Tokenizer& tokenizer = chat.tokenizer();
  const int32_t think_end = tokenizer.token_to_id("</think>"), im_end = tokenizer.token_to_id("<|im_end|>");
  data::ShardOptions shard_options;
  shard_options.max_tokens = options.max_tokens;
  data::RecordBuilder builder(chat, shard_options, options.dialogues.parent_path());

  std::vector<data::Dialogue> dialogues = data::read_dialogues(options.dialogues.string());
  std::erase_if(dialogues,
                [&](const data::Dialogue& d) { return !options.corpus.empty() && d.meta.corpus != options.corpus; });
  if (options.limit > 0 && static_cast<int64_t>(dialogues.size()) > options.limit) dialogues.resize(options.limit);
  if (dialogues.empty()) {
    throw InputError(options.dialogues.string(), "no dialogues of corpus \"" + options.corpus + "\"");
  }

  torch::NoGradGuard no_grad;
  ReplyPerplexity result;
  data::Diagnostics diagnostics;
  common::Progress bar("eval replies " + options.corpus, static_cast<int64_t>(dialogues.size()), "dialogues");
  for (const data::Dialogue& d : dialogues) {
    for (const data::Record& record : builder.build(d, diagnostics)) {
      const auto spans = reply_spans(record.text_ids, record.text_mask, tokenizer, think_end, im_end);
      if (spans.empty()) continue;
      const auto n = static_cast<int64_t>(record.text_ids.size());
      at::Tensor ids = torch::from_blob(const_cast<int32_t*>(record.text_ids.data()), {1, n}, at::kInt).to(at::kLong);
      at::Tensor log_probs = at::log_softmax(language_model.forward(ids).logits[0], -1);  // [T, V]
      for (const auto& [first, last] : spans) {
        // Position p - 1 predicts the token at p.
        at::Tensor targets = ids[0].slice(0, static_cast<int64_t>(first), static_cast<int64_t>(last));
        at::Tensor rows = log_probs.slice(0, static_cast<int64_t>(first) - 1, static_cast<int64_t>(last) - 1);
        result.nll -= rows.gather(1, targets.unsqueeze(1)).sum().item<double>();
        result.tokens += static_cast<int64_t>(last - first);
        const std::vector<int32_t> reply(record.text_ids.begin() + static_cast<std::ptrdiff_t>(first),
                                         record.text_ids.begin() + static_cast<std::ptrdiff_t>(last));
        result.words += count_words(tokenizer.decode(reply));
        ++result.replies;
      }
      ++result.windows;
    }
    ++result.dialogues;
    bar.advance();
    bar.set_postfix(fmt::format("ppl/word {:.2f}", result.per_word()));
  }
  bar.finish();
  return result;
}

}  // namespace attune::eval
