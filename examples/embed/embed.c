/* attune from C: one spoken turn in, the heard emotion and the reply out, the reply's speech saved.
 * Usage: embed_c MODEL_DIR AUDIO_FILE OUT.wav */
#include <attune/attune.h>
#include <stdio.h>

static void on_text(const char* piece, size_t length, void* user_data) {
  (void)user_data;
  fwrite(piece, 1, length, stdout);
}

static int fail(const char* what) {
  fprintf(stderr, "error: %s: %s\n", what, attune_last_error());
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s MODEL_DIR AUDIO_FILE OUT.wav\n", argv[0]);
    return 2;
  }
  printf("attune %s\n", attune_version());
  attune_model_params mp = attune_model_default_params();
  mp.threads = 2;
  attune_model* model = NULL;
  if (attune_model_load(argv[1], &mp, &model) != ATTUNE_OK) return fail("loading the model");
  printf("model: %s\n", attune_model_describe(model));

  attune_session_params sp = attune_session_default_params();
  attune_session* session = NULL;
  if (attune_session_open(model, &sp, &session) != ATTUNE_OK) return fail("opening a session");

  attune_audio turn;
  if (attune_audio_load(argv[2], 16000, &turn) != ATTUNE_OK) return fail("reading the turn");

  attune_turn_callbacks callbacks = {NULL, on_text, NULL, NULL, NULL};
  attune_reply* reply = NULL;
  printf("reply (streamed): ");
  if (attune_session_turn(session, &turn, NULL, &callbacks, &reply) != ATTUNE_OK) return fail("the turn");
  printf("\nheard emotion: %s %.2f\n", attune_reply_emotion(reply), attune_reply_emotion_intensity(reply));
  for (size_t i = 0; i < attune_emotion_count(); ++i) {
    printf("  %-8s %.3f\n", attune_emotion_label(i), attune_reply_emotion_probability(reply, i));
  }
  printf("reply: %s\n", attune_reply_text(reply));
  printf("spoken as: %s %.2f\n", attune_reply_style_emotion(reply), attune_reply_style_intensity(reply));

  attune_audio speech = attune_reply_audio(reply);
  if (attune_audio_save_wav(argv[3], &speech) != ATTUNE_OK) return fail("writing the reply's audio");
  printf("audio: %s (%zu samples at %d Hz)\n", argv[3], speech.frames, speech.sample_rate);

  attune_reply_free(reply);
  attune_audio_free(&turn);
  attune_session_free(session);
  attune_model_free(model);
  return 0;
}
