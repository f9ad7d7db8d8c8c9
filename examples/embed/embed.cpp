// attune from C++: one spoken turn in, the heard emotion, the reply streamed as it is written, and
// its speech saved. Usage: embed_cpp MODEL_DIR AUDIO_FILE OUT.wav
#include <attune/audio.h>
#include <attune/error.h>
#include <attune/log.h>
#include <attune/runtime.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s MODEL_DIR AUDIO_FILE OUT.wav\n", argv[0]);
    return 2;
  }
  // The library's log lines, into this program's own stream.
  attune::set_log_callback([](attune::LogLevel level, std::string_view line) {
    if (level >= attune::LogLevel::kWarning)
      std::fprintf(stderr, "attune: %.*s\n", static_cast<int>(line.size()), line.data());
  });
  try {
    attune::RuntimeOptions options;
    options.threads = 2;
    attune::Model model = attune::Model::load(argv[1], options);
    std::printf("model: %s\n", model.describe().c_str());
    attune::Session session = model.open_session();

    const attune::AudioBuffer turn = attune::load_audio(argv[2], 16000);
    attune::TurnCallbacks callbacks;
    callbacks.on_text = [](std::string_view piece) { std::fwrite(piece.data(), 1, piece.size(), stdout); };
    std::printf("reply (streamed): ");
    const attune::Reply reply = session.turn(turn, "", callbacks);
    std::printf("\nheard: %s %.2f (from the %s)\n", reply.emotion.label.c_str(), reply.emotion.intensity,
                reply.emotion.source.c_str());
    for (const auto& [label, p] : reply.emotion.probabilities) std::printf("  %-8s %.3f\n", label.c_str(), p);
    std::printf("spoken as: %s\nstop: %s, %.1f tokens/s\n", reply.style.to_string().c_str(),
                std::string(attune::to_string(reply.stop_reason)).c_str(), reply.timings.decode_tokens_per_second());
    attune::save_wav(argv[3], reply.audio);
    std::printf("audio: %s (%.2f s)\n", argv[3], reply.audio.duration_s());
  } catch (const attune::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
