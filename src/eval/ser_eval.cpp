#include "eval/ser_eval.h"

#include <fmt/format.h>

#include "affect/emotions.h"
#include "attune/error.h"
#include "audio/audio_file.h"
#include "audio/prosody.h"
#include "common/progress.h"
#include "common/xml_escape.h"
#include "eval/linear_classifier.h"
#include "tts/talker.h"

namespace attune::eval {

void SerRun::add(const SerClip& clip, const std::string& heard,
                 const std::vector<std::pair<std::string, double>>& probabilities) {
  scores.add(clip.emotion, heard);
  per_speaker[clip.speaker].add(clip.emotion, heard);
  nlohmann::json record = {
      {"file", clip.file.string()}, {"speaker", clip.speaker}, {"truth", clip.emotion}, {"heard", heard}};
  if (!probabilities.empty()) {
    record["probabilities"] = nlohmann::json::object();
    for (const auto& [label, p] : probabilities) record["probabilities"][label] = p;
  }
  clips.push_back(std::move(record));
}

namespace {

nlohmann::json scores_json(const EmotionScores& s) {
  const auto& labels = emotion_labels();
  nlohmann::json per_label = nlohmann::json::object();
  nlohmann::json confusion = nlohmann::json::array();
  for (size_t i = 0; i < labels.size(); ++i) {
    int64_t n = 0;
    for (int64_t v : s.confusion()[i]) n += v;
    confusion.push_back(s.confusion()[i]);
    if (n) per_label[labels[i]] = {{"clips", n}, {"recall", s.recall(i)}, {"f1", s.f1(i)}};
  }
  return {{"clips", s.count()},
          {"ua", s.unweighted_average_recall()},
          {"wa", s.accuracy()},
          {"macro_f1", s.macro_f1()},
          {"per_label", per_label},
          {"confusion_rows_truth", labels},
          {"confusion_columns_heard",
           [&] {
             auto c = nlohmann::json(labels);
             c.push_back("none");
             return c;
           }()},
          {"confusion", confusion}};
}

std::vector<double> prosody_of(const SerClip& clip) {
  const AudioBuffer a = audio::load_mono(clip.file, 16000);
  return audio::analyse_prosody(a.samples, a.sample_rate).values;
}

}  // namespace

nlohmann::json SerRun::summary() const {
  nlohmann::json j = scores_json(scores);
  j["system"] = system;
  nlohmann::json speakers = nlohmann::json::object();
  for (const auto& [speaker, s] : per_speaker)
    speakers[speaker.empty() ? "(none)" : speaker] = {
        {"clips", s.count()}, {"ua", s.unweighted_average_recall()}, {"wa", s.accuracy()}};
  j["per_speaker"] = speakers;
  j["failed"] = failed;
  return j;
}

std::vector<SerRun> evaluate_ser_model(const Model& model, const SessionOptions& session,
                                       const std::vector<SerClip>& clips, const std::string& name) {
  SerRun run, head, thinking;
  run.system = name;
  head.system = name + " encoder head";
  thinking.system = name + " thinking";
  bool has_head = false;
  common::Progress bar("eval ser: " + name, static_cast<int64_t>(clips.size()), "clips");
  for (const SerClip& clip : clips) {
    try {
      Session s = model.open_session(session);
      const Reply r = s.turn(audio::load_audio(clip.file));
      run.add(clip, r.emotion.label, r.emotion.probabilities);
      run.first_token_s.push_back(r.timings.first_token);
      has_head = has_head || !r.head_label.empty();
      head.add(clip, r.head_label);
      thinking.add(clip, r.thinking_label);
    } catch (const Error& e) {
      run.failed.push_back(fmt::format("{}: {}", clip.file.string(), e.what()));
    }
    bar.advance();
    bar.set_postfix(fmt::format("UA {:.3f}", run.scores.unweighted_average_recall()));
  }
  bar.finish();
  std::vector<SerRun> out{std::move(run)};
  if (has_head) {
    out.push_back(std::move(head));
    out.push_back(std::move(thinking));
  }
  return out;
}

SerRun evaluate_prosody_baseline(const std::vector<SerClip>& train, const std::vector<SerClip>& test) {
  SerRun run;
  run.system = "prosody baseline";
  std::vector<std::vector<double>> x;
  std::vector<int> y;
  common::Progress bar("prosody baseline: features", static_cast<int64_t>(train.size() + test.size()), "clips");
  for (const SerClip& clip : train) {
    try {
      x.push_back(prosody_of(clip));
      y.push_back(static_cast<int>(label_index(clip.emotion)));
    } catch (const Error& e) {
      run.failed.push_back(fmt::format("{} (training): {}", clip.file.string(), e.what()));
    }
    bar.advance();
  }
  std::vector<std::vector<double>> test_x(test.size());
  std::vector<bool> ok(test.size(), false);
  for (size_t i = 0; i < test.size(); ++i) {
    try {
      test_x[i] = prosody_of(test[i]);
      ok[i] = true;
    } catch (const Error& e) {
      run.failed.push_back(fmt::format("{}: {}", test[i].file.string(), e.what()));
    }
    bar.advance();
  }
  bar.finish();
  if (x.empty()) throw InputError("prosody baseline", "no training clip could be read");
  LinearClassifier classifier;
  classifier.fit(x, y, static_cast<int>(emotion_labels().size()));
  for (size_t i = 0; i < test.size(); ++i) {
    if (ok[i]) run.add(test[i], emotion_labels()[static_cast<size_t>(classifier.predict(test_x[i]))]);
  }
  return run;
}

std::string confusion_svg(const EmotionScores& scores, const std::string& title) {
  const auto& labels = emotion_labels();
  const int cell = 58, left = 80, top = 60;
  constexpr int kRows = static_cast<int>(affect::kEmotionCount), kColumns = kRows + 1;  // + "none"
  const int width = left + kColumns * cell + 20, height = top + kRows * cell + 50;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" "
      "font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{}\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>\n"
      "<text x=\"{}\" y=\"38\" fill=\"#555\">rows: truth (colour: share of the row); columns: heard</text>\n",
      width, height, 10, common::xml_escape(title), 10);
  for (size_t c = 0; c <= affect::kEmotionCount; ++c) {
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#333\">{}</text>\n",
                       left + c * cell + cell / 2, top + kRows * cell + 16,
                       c < affect::kEmotionCount ? labels[c] : "none");
  }
  for (size_t r = 0; r < affect::kEmotionCount; ++r) {
    int64_t n = 0;
    for (int64_t v : scores.confusion()[r]) n += v;
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#333\">{}</text>\n", left - 6,
                       top + r * cell + cell / 2 + 4, labels[r]);
    for (size_t c = 0; c <= affect::kEmotionCount; ++c) {
      const int64_t v = scores.confusion()[r][c];
      const double share = n ? static_cast<double>(v) / static_cast<double>(n) : 0.0;
      const int shade = static_cast<int>(255 - 200 * share);
      svg +=
          fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"rgb({},{},255)\" stroke=\"#ddd\"/>\n",
                      left + c * cell, top + r * cell, cell, cell, shade, shade);
      if (v) {
        svg +=
            fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{}\">{}</text>\n",
                        left + c * cell + cell / 2, top + r * cell + cell / 2 + 4, share > 0.5 ? "white" : "black", v);
      }
    }
  }
  return svg + "</svg>\n";
}

}  // namespace attune::eval
