/* attune's C API, for programs in C and for other languages' bindings: load a model, open a session,
 * give it the user's spoken turns, get back the heard emotion, the reply's text and its speech.
 *
 *   attune_model_params mp = attune_model_default_params();
 *   attune_model* model = NULL;
 *   if (attune_model_load("models/attune-small", &mp, &model) != ATTUNE_OK) {
 *     fprintf(stderr, "%s\n", attune_last_error()); return 1;
 *   }
 *   attune_session_params sp = attune_session_default_params();
 *   attune_session* session = NULL;
 *   attune_session_open(model, &sp, &session);
 *   attune_audio turn;                                   // any rate, mono
 *   attune_audio_load("turn.wav", 16000, &turn);
 *   attune_reply* reply = NULL;
 *   attune_session_turn(session, &turn, NULL, NULL, &reply);
 *   printf("%s: %s\n", attune_reply_emotion(reply), attune_reply_text(reply));
 *   attune_reply_free(reply); attune_audio_free(&turn); attune_session_free(session); attune_model_free(model);
 *
 * Every function that can fail returns an attune_status; on failure attune_last_error() gives a
 * one-line message naming the file or field (per thread, valid until the next failing call). Handles
 * are opaque; each *_free accepts NULL. Strings returned by a handle live as long as the handle.
 * A session is one dialogue and is not thread-safe; sessions of one model must not run turns at once. */
#ifndef ATTUNE_ATTUNE_H
#define ATTUNE_ATTUNE_H

#include <stddef.h>
#include <stdint.h>

#include "attune/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  ATTUNE_OK = 0,
  ATTUNE_ERROR_INPUT = 1,    /* unusable data: a missing, corrupt or truncated file, bad samples */
  ATTUNE_ERROR_CONFIG = 2,   /* an option or argument with a value that is not allowed */
  ATTUNE_ERROR_IO = 3,       /* the operating system refused (cannot write a file) */
  ATTUNE_ERROR_ARGUMENT = 4, /* a NULL handle or pointer where one is required */
  ATTUNE_ERROR_INTERNAL = 5  /* anything else (a bug: please report it with the message) */
} attune_status;

typedef enum { ATTUNE_DTYPE_AUTO = 0, ATTUNE_DTYPE_FP32, ATTUNE_DTYPE_BF16, ATTUNE_DTYPE_INT8 } attune_dtype;

typedef enum {
  ATTUNE_STOP_TOKEN = 0,  /* the model ended its turn */
  ATTUNE_STOP_STRING,     /* a stop string (not used by sessions) */
  ATTUNE_STOP_MAX_TOKENS, /* the token budget ran out */
  ATTUNE_STOP_CONTEXT_FULL,
  ATTUNE_STOP_CANCELLED /* should_stop returned non-zero */
} attune_stop_reason;

typedef enum { ATTUNE_LOG_DEBUG = 0, ATTUNE_LOG_INFO, ATTUNE_LOG_WARNING, ATTUNE_LOG_ERROR } attune_log_level;

typedef struct attune_model attune_model;
typedef struct attune_session attune_session;
typedef struct attune_reply attune_reply;

/* Mono float samples in [-1, 1]. Buffers filled by attune_audio_load are freed with attune_audio_free. */
typedef struct {
  float* samples;
  size_t frames;
  int sample_rate;
} attune_audio;

typedef struct {
  attune_dtype dtype;
  const char* device; /* "auto", "cpu", "cuda" or "cuda:N"; NULL: "auto" */
  int threads;        /* torch intra-op threads; <= 0: unchanged */
  int speak;          /* non-zero: synthesise replies' speech */
} attune_model_params;

typedef struct {
  const char* voice;      /* a built-in voice (`attune speak --list-voices`); NULL: the default */
  const char* system;     /* the system message; NULL: none */
  int64_t max_new_tokens; /* thinking and reply together, per turn */
  double temperature;     /* 0: greedy */
  double top_p;
  uint64_t seed;
  int speak; /* non-zero: speak replies (needs the model's speak) */
} attune_session_params;

/* Streaming callbacks; any may be NULL. Text pieces are UTF-8, not NUL-terminated (use `length`). */
typedef struct {
  void (*on_thinking)(const char* piece, size_t length, void* user_data);
  void (*on_text)(const char* piece, size_t length, void* user_data);
  /* One sentence of the reply's speech as soon as it is synthesised (mono). */
  void (*on_audio)(const float* samples, size_t frames, int sample_rate, size_t sentence, void* user_data);
  /* Asked before every generated token: non-zero ends the turn (ATTUNE_STOP_CANCELLED). */
  int (*should_stop)(void* user_data);
  void* user_data;
} attune_turn_callbacks;

ATTUNE_API const char* attune_version(void);
ATTUNE_API const char* attune_last_error(void);

/* Log lines go to stderr unless a callback takes them (NULL restores stderr). */
ATTUNE_API void attune_set_log_callback(void (*callback)(attune_log_level level, const char* line, void* user_data),
                                        void* user_data);
ATTUNE_API void attune_set_log_level(attune_log_level level);

ATTUNE_API attune_model_params attune_model_default_params(void);
ATTUNE_API attune_status attune_model_load(const char* dir, const attune_model_params* params, attune_model** out);
ATTUNE_API void attune_model_free(attune_model* model);
ATTUNE_API const char* attune_model_describe(const attune_model* model);

ATTUNE_API attune_session_params attune_session_default_params(void);
ATTUNE_API attune_status attune_session_open(const attune_model* model, const attune_session_params* params,
                                             attune_session** out);
ATTUNE_API void attune_session_free(attune_session* session);
ATTUNE_API attune_status attune_session_reset(attune_session* session);

/* One user turn: audio (may be NULL when text is given) and optional text after it. */
ATTUNE_API attune_status attune_session_turn(attune_session* session, const attune_audio* audio, const char* text,
                                             const attune_turn_callbacks* callbacks, attune_reply** out);

ATTUNE_API void attune_reply_free(attune_reply* reply);
ATTUNE_API const char* attune_reply_text(const attune_reply* reply);
ATTUNE_API const char* attune_reply_thinking(const attune_reply* reply);
/* The user's words as the speech encoder heard them (greedy CTC; "" for text turns). */
ATTUNE_API const char* attune_reply_heard_words(const attune_reply* reply);
/* The heard emotion: one of attune_emotion_label(i), or "" when the model could not tell. */
ATTUNE_API const char* attune_reply_emotion(const attune_reply* reply);
ATTUNE_API double attune_reply_emotion_intensity(const attune_reply* reply);
/* The probability of attune_emotion_label(i), 0 <= i < attune_emotion_count(); 0 when unknown. */
ATTUNE_API double attune_reply_emotion_probability(const attune_reply* reply, size_t i);
/* How the reply is spoken: its emotion label and intensity. */
ATTUNE_API const char* attune_reply_style_emotion(const attune_reply* reply);
ATTUNE_API double attune_reply_style_intensity(const attune_reply* reply);
ATTUNE_API attune_stop_reason attune_reply_stop_reason(const attune_reply* reply);
/* The spoken reply (frames 0 when speaking was off); owned by the reply. */
ATTUNE_API attune_audio attune_reply_audio(const attune_reply* reply);

ATTUNE_API size_t attune_emotion_count(void);
ATTUNE_API const char* attune_emotion_label(size_t i); /* NULL past the end */

/* Decodes an audio file to mono, resampled to sample_rate when > 0. */
ATTUNE_API attune_status attune_audio_load(const char* path, int sample_rate, attune_audio* out);
ATTUNE_API void attune_audio_free(attune_audio* audio);
/* Writes 16-bit PCM WAV atomically. */
ATTUNE_API attune_status attune_audio_save_wav(const char* path, const attune_audio* audio);

#ifdef __cplusplus
}
#endif

#endif /* ATTUNE_ATTUNE_H */
