// The C API (attune/attune.h) over the C++ runtime: handles own C++ objects, every entry point turns
// exceptions into a status and a per-thread message.
#include "attune/attune.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "attune/audio.h"
#include "attune/error.h"
#include "attune/log.h"
#include "attune/runtime.h"
#include "attune/version.h"
#include "audio/audio_file.h"

struct attune_model {
  attune::Model model;
  std::string description;
};

struct attune_session {
  attune::Session session;
};

struct attune_reply {
  attune::Reply reply;
};

namespace {

thread_local std::string last_error;

attune_status fail(attune_status status, std::string message) {
  last_error = std::move(message);
  return status;
}

// Runs `body`, mapping attune's error types onto statuses.
template <typename F>
attune_status guarded(const char* function, F&& body) {
  try {
    body();
    return ATTUNE_OK;
  } catch (const attune::InputError& e) {
    return fail(ATTUNE_ERROR_INPUT, e.what());
  } catch (const attune::ConfigError& e) {
    return fail(ATTUNE_ERROR_CONFIG, e.what());
  } catch (const attune::IoError& e) {
    return fail(ATTUNE_ERROR_IO, e.what());
  } catch (const std::exception& e) {
    return fail(ATTUNE_ERROR_INTERNAL, std::string(function) + ": " + e.what());
  } catch (...) {
    return fail(ATTUNE_ERROR_INTERNAL, std::string(function) + ": unknown error");
  }
}

attune_status missing(const char* function, const char* argument) {
  return fail(ATTUNE_ERROR_ARGUMENT, std::string(function) + ": `" + argument + "` is NULL");
}

attune::AudioBuffer to_buffer(const attune_audio& audio) {
  attune::AudioBuffer b;
  b.sample_rate = audio.sample_rate;
  if (audio.samples && audio.frames) b.samples.assign(audio.samples, audio.samples + audio.frames);
  return b;
}

// A malloc-ed mono copy (channels averaged), for attune_audio_free.
attune_audio copy_out(const attune::AudioBuffer& in) {
  const attune::AudioBuffer mono = in.channels == 1 ? in : attune::audio::mix_to_mono(in);
  attune_audio out{nullptr, mono.samples.size(), mono.sample_rate};
  if (out.frames == 0) return out;
  out.samples = static_cast<float*>(std::malloc(out.frames * sizeof(float)));
  std::memcpy(out.samples, mono.samples.data(), out.frames * sizeof(float));
  return out;
}

}  // namespace

extern "C" {

const char* attune_version(void) { return attune::kVersion; }
const char* attune_last_error(void) { return last_error.c_str(); }

void attune_set_log_callback(void (*callback)(attune_log_level, const char*, void*), void* user_data) {
  if (!callback) return attune::set_log_callback({});
  attune::set_log_callback([callback, user_data](attune::LogLevel level, std::string_view line) {
    const std::string text(line);
    callback(static_cast<attune_log_level>(level), text.c_str(), user_data);
  });
}

void attune_set_log_level(attune_log_level level) { attune::set_log_level(static_cast<attune::LogLevel>(level)); }

attune_model_params attune_model_default_params(void) { return {ATTUNE_DTYPE_AUTO, "auto", 0, 1}; }

attune_status attune_model_load(const char* dir, const attune_model_params* params, attune_model** out) {
  if (!dir) return missing("attune_model_load", "dir");
  if (!out) return missing("attune_model_load", "out");
  *out = nullptr;
  return guarded("attune_model_load", [&] {
    const attune_model_params p = params ? *params : attune_model_default_params();
    attune::RuntimeOptions o;
    if (p.dtype < ATTUNE_DTYPE_AUTO || p.dtype > ATTUNE_DTYPE_INT8) {
      throw attune::ConfigError("attune_model_params.dtype = " + std::to_string(p.dtype) +
                                "; expected an attune_dtype");
    }
    o.dtype = static_cast<attune::Dtype>(p.dtype);
    o.device = attune::parse_device(p.device ? p.device : "auto");
    o.threads = p.threads;
    o.speak = p.speak != 0;
    auto model = std::make_unique<attune_model>(attune_model{attune::Model::load(dir, o), ""});
    model->description = model->model.describe();
    *out = model.release();
  });
}

void attune_model_free(attune_model* model) { delete model; }

const char* attune_model_describe(const attune_model* model) { return model ? model->description.c_str() : ""; }

attune_session_params attune_session_default_params(void) {
  const attune::SessionOptions d;
  return {nullptr, nullptr, d.max_new_tokens, d.temperature, d.top_p, d.seed, 1};
}

attune_status attune_session_open(const attune_model* model, const attune_session_params* params,
                                  attune_session** out) {
  if (!model) return missing("attune_session_open", "model");
  if (!out) return missing("attune_session_open", "out");
  *out = nullptr;
  return guarded("attune_session_open", [&] {
    const attune_session_params p = params ? *params : attune_session_default_params();
    attune::SessionOptions o;
    if (p.voice) o.voice = p.voice;
    if (p.system) o.system = p.system;
    o.max_new_tokens = p.max_new_tokens;
    o.temperature = p.temperature;
    o.top_p = p.top_p;
    o.seed = p.seed;
    o.speak = p.speak != 0;
    *out = new attune_session{model->model.open_session(o)};
  });
}

void attune_session_free(attune_session* session) { delete session; }

attune_status attune_session_reset(attune_session* session) {
  if (!session) return missing("attune_session_reset", "session");
  return guarded("attune_session_reset", [&] { session->session.reset(); });
}

attune_status attune_session_turn(attune_session* session, const attune_audio* audio, const char* text,
                                  const attune_turn_callbacks* callbacks, attune_reply** out) {
  if (!session) return missing("attune_session_turn", "session");
  if (!out) return missing("attune_session_turn", "out");
  *out = nullptr;
  if (audio && audio->frames > 0 && !audio->samples) return missing("attune_session_turn", "audio->samples");
  return guarded("attune_session_turn", [&] {
    attune::TurnCallbacks cb;
    if (callbacks) {
      const attune_turn_callbacks c = *callbacks;
      if (c.on_thinking) cb.on_thinking = [c](std::string_view p) { c.on_thinking(p.data(), p.size(), c.user_data); };
      if (c.on_text) cb.on_text = [c](std::string_view p) { c.on_text(p.data(), p.size(), c.user_data); };
      if (c.on_audio) {
        cb.on_audio = [c](const attune::AudioBuffer& chunk, size_t sentence) {
          attune_audio a = copy_out(chunk);
          c.on_audio(a.samples, a.frames, a.sample_rate, sentence, c.user_data);
          std::free(a.samples);
        };
      }
      if (c.should_stop) cb.should_stop = [c] { return c.should_stop(c.user_data) != 0; };
    }
    const attune::AudioBuffer buffer = audio ? to_buffer(*audio) : attune::AudioBuffer{};
    *out = new attune_reply{session->session.turn(buffer, text ? text : "", cb)};
  });
}

void attune_reply_free(attune_reply* reply) { delete reply; }
const char* attune_reply_text(const attune_reply* r) { return r ? r->reply.text.c_str() : ""; }
const char* attune_reply_thinking(const attune_reply* r) { return r ? r->reply.thinking.c_str() : ""; }
const char* attune_reply_heard_words(const attune_reply* r) { return r ? r->reply.heard_words.c_str() : ""; }
const char* attune_reply_emotion(const attune_reply* r) { return r ? r->reply.emotion.label.c_str() : ""; }
double attune_reply_emotion_intensity(const attune_reply* r) { return r ? r->reply.emotion.intensity : 0; }

double attune_reply_emotion_probability(const attune_reply* r, size_t i) {
  const auto& labels = attune::emotion_labels();
  if (!r || i >= labels.size()) return 0;
  for (const auto& [label, p] : r->reply.emotion.probabilities) {
    if (label == labels[i]) return p;
  }
  return 0;
}

const char* attune_reply_style_emotion(const attune_reply* r) { return r ? r->reply.style.emotion.c_str() : ""; }
double attune_reply_style_intensity(const attune_reply* r) { return r ? r->reply.style.intensity : 0; }

attune_stop_reason attune_reply_stop_reason(const attune_reply* r) {
  return r ? static_cast<attune_stop_reason>(r->reply.stop_reason) : ATTUNE_STOP_TOKEN;
}

attune_audio attune_reply_audio(const attune_reply* r) {
  if (!r || r->reply.audio.samples.empty()) return {nullptr, 0, r ? r->reply.audio.sample_rate : 0};
  // Replies are mono (the talker speaks one channel), so the samples are handed out as they are.
  return {const_cast<float*>(r->reply.audio.samples.data()), static_cast<size_t>(r->reply.audio.frames()),
          r->reply.audio.sample_rate};
}

size_t attune_emotion_count(void) { return attune::emotion_labels().size(); }
const char* attune_emotion_label(size_t i) {
  const auto& labels = attune::emotion_labels();
  return i < labels.size() ? labels[i].c_str() : nullptr;
}

attune_status attune_audio_load(const char* path, int sample_rate, attune_audio* out) {
  if (!path) return missing("attune_audio_load", "path");
  if (!out) return missing("attune_audio_load", "out");
  *out = {nullptr, 0, 0};
  return guarded("attune_audio_load", [&] { *out = copy_out(attune::load_audio(path, sample_rate)); });
}

void attune_audio_free(attune_audio* audio) {
  if (!audio) return;
  std::free(audio->samples);
  *audio = {nullptr, 0, 0};
}

attune_status attune_audio_save_wav(const char* path, const attune_audio* audio) {
  if (!path) return missing("attune_audio_save_wav", "path");
  if (!audio) return missing("attune_audio_save_wav", "audio");
  if (audio->frames > 0 && !audio->samples) return missing("attune_audio_save_wav", "audio->samples");
  return guarded("attune_audio_save_wav", [&] { attune::save_wav(path, to_buffer(*audio)); });
}

}  // extern "C"
