#include "audio/resample.h"

#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "attune/error.h"

namespace attune::audio {

struct Resampler::Impl {
  soxr_t soxr = nullptr;
  double ratio = 1.0;
  ~Impl() {
    if (soxr) soxr_delete(soxr);
  }
};

Resampler::Resampler(int in_rate, int out_rate, ResampleQuality q) : impl_(std::make_unique<Impl>()) {
  if (in_rate <= 0 || out_rate <= 0) {
    throw ConfigError("resampler: sample rates must be positive (got " + std::to_string(in_rate) + " -> " +
                      std::to_string(out_rate) + ")");
  }
  impl_->ratio = static_cast<double>(out_rate) / in_rate;
  soxr_error_t error = nullptr;
  soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  soxr_quality_spec_t quality = soxr_quality_spec(q == ResampleQuality::kHigh ? SOXR_HQ : SOXR_VHQ, 0);
  impl_->soxr = soxr_create(in_rate, out_rate, 1, &error, &io, &quality, nullptr);
  if (error) throw Error(std::string("resampler: soxr_create failed: ") + error);
}

Resampler::~Resampler() = default;
Resampler::Resampler(Resampler&&) noexcept = default;
Resampler& Resampler::operator=(Resampler&&) noexcept = default;

void Resampler::process(const float* in, size_t n, std::vector<float>& out) {
  // soxr grows its internal FIFO to the input it is handed, by repeated realloc: minutes of audio in
  // one call cost quadratic copying where realloc cannot grow in place (ASan's never does).
  constexpr size_t kChunk = size_t{1} << 16;
  size_t consumed = 0;
  while (consumed < n) {
    const size_t chunk = std::min(n - consumed, kChunk);
    size_t capacity = static_cast<size_t>(std::ceil(chunk * impl_->ratio)) + 64;
    size_t old = out.size(), idone = 0, odone = 0;
    out.resize(old + capacity);
    soxr_error_t error = soxr_process(impl_->soxr, in + consumed, chunk, &idone, out.data() + old, capacity, &odone);
    out.resize(old + odone);
    if (error) throw Error(std::string("resampler: ") + error);
    consumed += idone;
    if (idone == 0 && odone == 0) break;  // soxr buffers internally; no progress means it holds the rest
  }
}

void Resampler::flush(std::vector<float>& out) {
  for (;;) {
    size_t old = out.size(), odone = 0;
    out.resize(old + 4096);
    soxr_error_t error = soxr_process(impl_->soxr, nullptr, 0, nullptr, out.data() + old, 4096, &odone);
    out.resize(old + odone);
    if (error) throw Error(std::string("resampler: ") + error);
    if (odone == 0) break;
  }
}

std::vector<float> resample(const std::vector<float>& mono, int in_rate, int out_rate, ResampleQuality quality) {
  if (in_rate == out_rate) return mono;
  Resampler resampler(in_rate, out_rate, quality);
  std::vector<float> out;
  out.reserve(static_cast<size_t>(std::ceil(mono.size() * static_cast<double>(out_rate) / in_rate)) + 64);
  resampler.process(mono.data(), mono.size(), out);
  resampler.flush(out);
  return out;
}

}  // namespace attune::audio
