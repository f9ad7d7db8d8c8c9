#include "cli/dialogue_printer.h"

#include <fmt/format.h>

#include <algorithm>

#include "audio/audio_file.h"

namespace attune::cli {
namespace {

std::string ms(double seconds) { return fmt::format("{:.0f} ms", 1000.0 * seconds); }

std::string top_probabilities(const HeardEmotion& e) {
  std::vector<std::pair<std::string, double>> p = e.probabilities;
  std::sort(p.begin(), p.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out;
  for (size_t i = 0; i < p.size() && i < 3; ++i) {
    out += fmt::format("{}{} {:.2f}", i ? ", " : "", p[i].first, p[i].second);
  }
  return out;
}

std::string arrows(const std::vector<std::string>& labels) {
  std::string out;
  for (size_t i = 0; i < labels.size(); ++i) out += (i ? " -> " : "") + (labels[i].empty() ? "?" : labels[i]);
  return out;
}

}  // namespace

void DialoguePrinter::begin_turn(size_t turn, const std::string& source, double seconds, const std::string& words) {
  std::fprintf(options_.out, "\n-- turn %zu: %s (%.1f s)\n", turn, source.c_str(), seconds);
  if (!words.empty()) std::fprintf(options_.out, "   said:       %s\n", words.c_str());
  std::fflush(options_.out);
  reply_started_ = thinking_started_ = false;
}

TurnCallbacks DialoguePrinter::callbacks() {
  TurnCallbacks cb;
  std::FILE* out = options_.out;
  if (options_.show_thinking) {
    cb.on_thinking = [this, out](std::string_view piece) {
      std::string p(piece);
      if (!thinking_started_) {
        const size_t text = p.find_first_not_of(" \n\r\t");
        if (text == std::string::npos) return;  // layout before the first word
        p.erase(0, text);
        std::fputs("   thinking:   ", out);
      }
      thinking_started_ = true;
      for (size_t at = p.find('\n'); at != std::string::npos; at = p.find('\n', at + 1)) p.replace(at, 1, " ");
      std::fputs(p.c_str(), out);
      std::fflush(out);
    };
  }
  cb.on_text = [this, out](std::string_view piece) {
    if (!reply_started_) std::fputs(thinking_started_ ? "\n   reply:      " : "   reply:      ", out);
    reply_started_ = true;
    std::fwrite(piece.data(), 1, piece.size(), out);
    std::fflush(out);
  };
  return cb;
}

void DialoguePrinter::end_turn(const Reply& r, const std::string& audio_path) {
  std::FILE* out = options_.out;
  if (!reply_started_) std::fputs(thinking_started_ ? "\n   reply:      (none)" : "   reply:      (none)", out);
  std::fputc('\n', out);
  if (r.emotion.label.empty()) {
    std::fputs("   heard:      (the model did not name a feeling)\n", out);
  } else {
    std::fprintf(out, "   heard:      %s %.2f   [%s]   (from the %s)\n", r.emotion.label.c_str(), r.emotion.intensity,
                 top_probabilities(r.emotion).c_str(), r.emotion.source.c_str());
  }
  if (!r.heard_words.empty())
    std::fprintf(out, "   words:      %s   (%s)\n", r.heard_words.c_str(), options_.words_decoding.c_str());
  std::fprintf(out, "   trajectory: %s\n", arrows(r.trajectory).c_str());
  if (!r.trajectory_text.empty()) std::fprintf(out, "               (model: %s)\n", r.trajectory_text.c_str());
  std::fprintf(out, "   voice:      %s (%s)\n", r.style.to_string().c_str(), r.style_source.c_str());
  if (!audio_path.empty()) std::fprintf(out, "   audio:      %s (%.1f s)\n", audio_path.c_str(), r.audio.duration_s());
  const TurnTimings& t = r.timings;
  std::fprintf(
      out,
      "   timings:    features %s, encoder %s, prefill %s (%lld tokens); first token %s, first reply token %s, "
      "first audio %s; %lld tokens at %.0f tokens/s\n",
      ms(t.features).c_str(), ms(t.encoder).c_str(), ms(t.prefill).c_str(), static_cast<long long>(t.prompt_tokens),
      ms(t.first_token).c_str(), ms(t.first_reply_token).c_str(), t.first_audio > 0 ? ms(t.first_audio).c_str() : "-",
      static_cast<long long>(t.generated_tokens), t.decode_tokens_per_second());
  for (const std::string& w : r.warnings) std::fprintf(out, "   warning:    %s\n", w.c_str());
  std::fflush(out);
}

TurnRecord run_printed_turn(Session& session, DialoguePrinter& printer, size_t turn, const std::string& audio_path,
                            const AudioBuffer& clip, const std::string& text, const std::string& shown,
                            const std::filesystem::path& reply_dir) {
  printer.begin_turn(turn, audio_path, clip.duration_s(), shown);
  Reply reply = session.turn(clip, text, printer.callbacks());
  std::string reply_path;
  if (!reply_dir.empty() && !reply.audio.samples.empty()) {
    reply_path = (reply_dir / fmt::format("reply-{}.wav", turn)).string();
    audio::write_audio(reply_path, reply.audio);
  }
  printer.end_turn(reply, reply_path);
  return {audio_path, text, reply_path, std::move(reply)};
}

nlohmann::json dialogue_record(const std::string& dialogue_id, const std::vector<TurnRecord>& turns) {
  nlohmann::json jturns = nlohmann::json::array();
  for (size_t i = 0; i < turns.size(); ++i) {
    const TurnRecord& t = turns[i];
    const Reply& r = t.reply;
    nlohmann::json j = {{"turn_id", i + 1},
                        {"text", t.text},
                        {"emotion", r.emotion.label},
                        {"split_audio_file", t.audio_path},
                        {"response_text", r.text},
                        {"response_audio", t.reply_audio_path},
                        {"thinking", r.thinking},
                        {"response_style", {{"emotion", r.style.emotion}, {"intensity", r.style.intensity}}}};
    if (!r.emotion.label.empty()) j["intensity"] = r.emotion.intensity;
    nlohmann::json probabilities = nlohmann::json::object();
    for (const auto& [label, p] : r.emotion.probabilities) probabilities[label] = p;
    const TurnTimings& tm = r.timings;
    j["attune"] = {{"probabilities", probabilities},
                   {"emotion_source", r.emotion.source},
                   {"heard_words", r.heard_words},
                   {"trajectory", r.trajectory},
                   {"trajectory_text", r.trajectory_text},
                   {"style", r.style.to_string()},
                   {"style_source", r.style_source},
                   {"warnings", r.warnings},
                   {"stop_reason", to_string(r.stop_reason)},
                   {"timings_s",
                    {{"audio", tm.audio_seconds},
                     {"features", tm.features},
                     {"encoder", tm.encoder},
                     {"prefill", tm.prefill},
                     {"first_token", tm.first_token},
                     {"first_reply_token", tm.first_reply_token},
                     {"last_token", tm.last_token},
                     {"first_audio", tm.first_audio},
                     {"total", tm.total}}},
                   {"prompt_tokens", tm.prompt_tokens},
                   {"generated_tokens", tm.generated_tokens},
                   {"decode_tokens_per_s", tm.decode_tokens_per_second()}};
    jturns.push_back(std::move(j));
  }
  return {{"dialogue_id", dialogue_id}, {"lang", "en"}, {"turns", jturns}, {"meta", {{"corpus", "attune-chat"}}}};
}

void print_timing_summary(std::FILE* out, const std::vector<Reply>& replies) {
  std::vector<double> first_token, first_reply, first_audio, rate, features, encoder;
  for (const Reply& r : replies) {
    first_token.push_back(r.timings.first_token);
    if (r.timings.first_reply_token > 0) first_reply.push_back(r.timings.first_reply_token);
    if (r.timings.first_audio > 0) first_audio.push_back(r.timings.first_audio);
    if (r.timings.decode_tokens_per_second() > 0) rate.push_back(r.timings.decode_tokens_per_second());
    features.push_back(r.timings.features);
    encoder.push_back(r.timings.encoder);
  }
  std::fprintf(out,
               "medians over %zu turns (from the end of the user's audio): features %s, encoder %s, first token %s, "
               "first reply token %s, first reply audio %s; decode %.0f tokens/s\n",
               replies.size(), ms(median(features)).c_str(), ms(median(encoder)).c_str(),
               ms(median(first_token)).c_str(), ms(median(first_reply)).c_str(),
               first_audio.empty() ? "-" : ms(median(first_audio)).c_str(), median(rate));
}

}  // namespace attune::cli
