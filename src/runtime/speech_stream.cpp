#include "runtime/speech_stream.h"

#include "tts/sentences.h"

namespace attune::runtime {

SpeechStream::SpeechStream(tts::Talker* talker, tts::Voice voice, Clock::time_point start)
    : talker_(talker), voice_(std::move(voice)), start_(start) {
  if (talker_) worker_ = std::thread([this] { work(); });
}

SpeechStream::~SpeechStream() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
    todo_.clear();
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void SpeechStream::push_text(std::string_view piece) {
  pending_.append(piece);
  std::vector<std::string> sentences = tts::split_sentences(pending_);
  if (sentences.size() < 2) return;  // the last piece may still grow; everything before it is final
  for (size_t i = 0; i + 1 < sentences.size(); ++i) queue_sentence(std::move(sentences[i]));
  pending_ = std::move(sentences.back());
}

void SpeechStream::queue_sentence(std::string sentence) {
  if (!talker_ || !tts::has_speakable_text(sentence)) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    todo_.push_back(std::move(sentence));
  }
  ++queued_;
  wake_.notify_all();
}

void SpeechStream::work() {
  for (;;) {
    std::string sentence;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return closing_ || !todo_.empty(); });
      if (todo_.empty()) return;
      sentence = std::move(todo_.front());
      todo_.pop_front();
    }
    AudioBuffer chunk;
    try {
      chunk = talker_->synthesize(sentence, style_, voice_);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::current_exception();
      todo_.clear();
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (first_audio_s_ == 0) {
      first_audio_s_ = std::chrono::duration<double>(Clock::now() - start_).count();
    }
    done_.push_back(std::move(chunk));
  }
}

void SpeechStream::deliver(const AudioCallback& on_audio) {
  std::vector<AudioBuffer> ready;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (error_) std::rethrow_exception(error_);
    ready.swap(done_);
  }
  for (AudioBuffer& chunk : ready) {
    if (audio_.sample_rate == 0) audio_.sample_rate = chunk.sample_rate;
    audio_.samples.insert(audio_.samples.end(), chunk.samples.begin(), chunk.samples.end());
    if (on_audio) on_audio(chunk, delivered_);
    ++delivered_;
  }
}

void SpeechStream::finish(const AudioCallback& on_audio) {
  queue_sentence(std::move(pending_));
  pending_.clear();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  deliver(on_audio);
  if (talker_ && audio_.sample_rate == 0) audio_.sample_rate = talker_->sample_rate();
}

}  // namespace attune::runtime
