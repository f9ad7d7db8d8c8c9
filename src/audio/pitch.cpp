// F0 tracking: YIN's cumulative-mean-normalised difference function (de Cheveigné & Kawahara 2002),
// computed through FFT cross-correlation, with pYIN's threshold distribution turning each frame's
// dips into candidate probabilities (Mauch & Dixon 2014) and a Viterbi pass over every voiced run
// that charges for octave jumps. docs/audio-features.md describes the choices and defaults.
#include "audio/pitch.h"

#include <fftw3.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <mutex>
#include <string>

#include "attune/error.h"
#include "audio/fftw_lock.h"

namespace attune::audio {
namespace {

// Frames quieter than this, absolutely or relative to the loudest frame, are unvoiced without
// analysis: there is no periodicity worth reporting in digital silence or far below the speech.
constexpr double kAbsoluteSilenceDb = -90.0;
constexpr double kRelativeSilenceDb = 50.0;
// Neighbouring frames (10 ms apart, normally) whose F0 differ by more than this many octaves cannot
// be one voice: the run is split there, and pieces shorter than min_voiced_s go unvoiced.
constexpr double kMaxJumpOctaves = 0.5;
// pYIN's threshold prior: Beta(2, 11.33), mean 0.15; the global minimum keeps 1% of the mass of
// thresholds that pick nothing.
constexpr double kBetaA = 2.0;
constexpr double kBetaB = 34.0 / 3.0;
constexpr double kNoPickWeight = 0.01;
constexpr int kMaxCandidates = 6;

// CDF of the threshold prior on [0, 1], tabulated once (trapezoidal integration of the pdf).
class ThresholdPrior {
 public:
  ThresholdPrior() {
    std::array<double, kSteps + 1> pdf{};
    for (int i = 0; i <= kSteps; ++i) {
      const double s = static_cast<double>(i) / kSteps;
      pdf[i] = std::pow(s, kBetaA - 1.0) * std::pow(1.0 - s, kBetaB - 1.0);
    }
    cdf_[0] = 0.0;
    for (int i = 1; i <= kSteps; ++i) cdf_[i] = cdf_[i - 1] + 0.5 * (pdf[i - 1] + pdf[i]);
    for (double& c : cdf_) c /= cdf_[kSteps];
  }
  double cdf(double s) const {
    if (!(s > 0.0)) return 0.0;
    if (s >= 1.0) return 1.0;
    const double pos = s * kSteps;
    const int i = static_cast<int>(pos);
    const double f = pos - i;
    return cdf_[i] * (1.0 - f) + cdf_[std::min(i + 1, kSteps)] * f;
  }

 private:
  static constexpr int kSteps = 2000;
  std::array<double, kSteps + 1> cdf_{};
};

const ThresholdPrior& threshold_prior() {
  static const ThresholdPrior prior;
  return prior;
}

int64_t next_pow2(int64_t v) {
  int64_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

// Cross-correlation c[tau] = sum_{j<W} a[j] b[j + tau] by FFT, planned once per call.
class Correlator {
 public:
  Correlator(int window, int max_lag) : window_(window), frame_(window + max_lag + 1) {
    size_ = static_cast<int>(next_pow2(frame_));
    a_ = fftwf_alloc_real(size_);
    b_ = fftwf_alloc_real(size_);
    fa_ = fftwf_alloc_complex(size_ / 2 + 1);
    fb_ = fftwf_alloc_complex(size_ / 2 + 1);
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    plan_a_ = fftwf_plan_dft_r2c_1d(size_, a_, fa_, FFTW_ESTIMATE);
    plan_b_ = fftwf_plan_dft_r2c_1d(size_, b_, fb_, FFTW_ESTIMATE);
    plan_inv_ = fftwf_plan_dft_c2r_1d(size_, fb_, b_, FFTW_ESTIMATE);
  }
  ~Correlator() {
    {
      std::lock_guard<std::mutex> lock(fftw_planner_mutex());
      fftwf_destroy_plan(plan_a_);
      fftwf_destroy_plan(plan_b_);
      fftwf_destroy_plan(plan_inv_);
    }
    fftwf_free(a_);
    fftwf_free(b_);
    fftwf_free(fa_);
    fftwf_free(fb_);
  }
  Correlator(const Correlator&) = delete;
  Correlator& operator=(const Correlator&) = delete;

  // `x` points at frame_ samples; returns c[0 .. max_lag] (unnormalised by FFT size: see scale()).
  const float* correlate(const float* x) {
    std::copy(x, x + window_, a_);
    std::fill(a_ + window_, a_ + size_, 0.0f);
    std::copy(x, x + frame_, b_);
    std::fill(b_ + frame_, b_ + size_, 0.0f);
    fftwf_execute(plan_a_);
    fftwf_execute(plan_b_);
    const int bins = size_ / 2 + 1;
    for (int k = 0; k < bins; ++k) {  // conj(A) * B
      const float ar = fa_[k][0], ai = fa_[k][1], br = fb_[k][0], bi = fb_[k][1];
      fb_[k][0] = ar * br + ai * bi;
      fb_[k][1] = ar * bi - ai * br;
    }
    fftwf_execute(plan_inv_);
    return b_;
  }
  float scale() const { return 1.0f / static_cast<float>(size_); }

 private:
  int window_, frame_, size_ = 0;
  float* a_ = nullptr;
  float* b_ = nullptr;
  fftwf_complex* fa_ = nullptr;
  fftwf_complex* fb_ = nullptr;
  fftwf_plan plan_a_ = nullptr, plan_b_ = nullptr, plan_inv_ = nullptr;
};

struct Candidate {
  float lag = 0.0f;       // samples, sub-sample precise
  float cmnd = 1.0f;      // d'(lag)
  float prob = 0.0f;      // pYIN probability of being the period
  float log2_lag = 0.0f;  // for the Viterbi's octave cost
  float cost = 0.0f;      // -log(prob)
};

struct FrameCandidates {
  std::array<Candidate, kMaxCandidates> c;
  int count = 0;
  float best_cmnd = 1.0f;  // lowest d' over the search range
};

void validate(int64_t n, const float* samples, int sample_rate, const PitchOptions& o) {
  if (n < 0) throw InputError("track_pitch: sample count is " + std::to_string(n) + "; expected >= 0");
  if (n > 0 && samples == nullptr) throw InputError("track_pitch: samples is null but n = " + std::to_string(n));
  if (sample_rate <= 0)
    throw ConfigError("track_pitch: sample_rate is " + std::to_string(sample_rate) + "; expected > 0");
  if (!(o.min_f0_hz > 0.0) || !(o.max_f0_hz > o.min_f0_hz))
    throw ConfigError("pitch options: min_f0_hz = " + std::to_string(o.min_f0_hz) +
                      ", max_f0_hz = " + std::to_string(o.max_f0_hz) + "; expected 0 < min_f0_hz < max_f0_hz");
  if (!(o.hop_s > 0.0) || !(o.hop_s < 10.0))
    throw ConfigError("pitch options: hop_s = " + std::to_string(o.hop_s) + "; expected in (0, 10) s");
  if (!(o.voicing_threshold > 0.0) || !(o.voicing_threshold <= 1.0))
    throw ConfigError("pitch options: voicing_threshold = " + std::to_string(o.voicing_threshold) +
                      "; expected in (0, 1]");
  if (!(o.voicing_anchor > 0.0) || !(o.voicing_anchor <= o.voicing_threshold))
    throw ConfigError("pitch options: voicing_anchor = " + std::to_string(o.voicing_anchor) +
                      "; expected in (0, voicing_threshold]");
  if (!(o.octave_cost >= 0.0))
    throw ConfigError("pitch options: octave_cost = " + std::to_string(o.octave_cost) + "; expected >= 0");
  if (!(o.min_voiced_s >= 0.0))
    throw ConfigError("pitch options: min_voiced_s = " + std::to_string(o.min_voiced_s) + "; expected >= 0");
}

// Fills candidates from the CMND d' (index = lag) and the raw difference d (for interpolation).
void find_candidates(const std::vector<float>& d, const std::vector<float>& cmnd, int min_lag, int max_lag,
                     FrameCandidates& out) {
  struct Dip {
    float lag, cmnd;
  };
  std::array<Dip, 64> dips{};
  int n_dips = 0;
  int global = -1;
  out.best_cmnd = 1.0f;
  out.count = 0;
  for (int t = min_lag; t <= max_lag; ++t) {
    if (cmnd[t] < out.best_cmnd) out.best_cmnd = cmnd[t];
    if (!(cmnd[t] < cmnd[t - 1] && cmnd[t] <= cmnd[t + 1]) || !(cmnd[t] < 1.0f)) continue;
    // Parabolic refinement: the lag on the raw difference (less distorted than d'), the value on d'.
    float delta = 0.0f;
    const float den = d[t - 1] - 2.0f * d[t] + d[t + 1];
    if (den > 0.0f) delta = std::clamp(0.5f * (d[t - 1] - d[t + 1]) / den, -1.0f, 1.0f);
    const float value = std::max(0.0f, cmnd[t] - 0.25f * (cmnd[t - 1] - cmnd[t + 1]) * delta);
    if (n_dips == static_cast<int>(dips.size())) {  // noise: keep the deepest ones
      int worst = 0;
      for (int i = 1; i < n_dips; ++i)
        if (dips[i].cmnd > dips[worst].cmnd) worst = i;
      if (value >= dips[worst].cmnd) continue;
      std::copy(dips.begin() + worst + 1, dips.begin() + n_dips, dips.begin() + worst);
      --n_dips;
    }
    dips[n_dips++] = {static_cast<float>(t) + delta, value};
  }
  if (n_dips == 0) return;
  // pYIN: the threshold s picks the first dip (in lag order) with d' < s, so dip i collects the
  // prior mass of thresholds in (d'_i, min_{j<i} d'_j].
  const ThresholdPrior& prior = threshold_prior();
  std::array<float, 64> prob{};
  float running_min = 1.0f;
  for (int i = 0; i < n_dips; ++i) {
    if (dips[i].cmnd < running_min) {
      prob[i] = static_cast<float>(prior.cdf(running_min) - prior.cdf(dips[i].cmnd));
      running_min = dips[i].cmnd;
    }
    if (global < 0 || dips[i].cmnd < dips[global].cmnd) global = i;
  }
  prob[global] += static_cast<float>(kNoPickWeight * prior.cdf(dips[global].cmnd));
  // Keep the most probable few (the global minimum always among them).
  std::array<int, 64> order{};
  for (int i = 0; i < n_dips; ++i) order[i] = i;
  std::sort(order.begin(), order.begin() + n_dips, [&](int x, int y) { return prob[x] > prob[y]; });
  for (int k = 0; k < n_dips && out.count < kMaxCandidates; ++k) {
    const int i = order[k];
    if (prob[i] <= 0.0f && i != global) continue;
    out.c[out.count++] = {dips[i].lag, dips[i].cmnd, std::max(prob[i], 1e-6f)};
  }
  bool has_global = false;
  for (int k = 0; k < out.count; ++k) has_global |= out.c[k].lag == dips[global].lag;
  if (!has_global) out.c[out.count - 1] = {dips[global].lag, dips[global].cmnd, std::max(prob[global], 1e-6f)};
  for (int k = 0; k < out.count; ++k) {
    out.c[k].log2_lag = std::log2(out.c[k].lag);
    out.c[k].cost = -std::log(out.c[k].prob);
  }
}

// Chooses one candidate per frame of a voiced run [begin, end): minimum of -log(prob) plus
// octave_cost per octave between neighbours.
void viterbi_run(const std::vector<FrameCandidates>& cand, int64_t begin, int64_t end, double octave_cost,
                 std::vector<int>& choice) {
  const int64_t len = end - begin;
  std::vector<std::array<float, kMaxCandidates>> cost(len);
  std::vector<std::array<int8_t, kMaxCandidates>> back(len);
  for (int64_t f = 0; f < len; ++f) {
    const FrameCandidates& cur = cand[begin + f];
    for (int i = 0; i < cur.count; ++i) {
      const float local = cur.c[i].cost;
      if (f == 0) {
        cost[f][i] = local;
        back[f][i] = -1;
        continue;
      }
      const FrameCandidates& prev = cand[begin + f - 1];
      float best = std::numeric_limits<float>::infinity();
      int arg = 0;
      for (int j = 0; j < prev.count; ++j) {
        const float jump = static_cast<float>(octave_cost) * std::fabs(cur.c[i].log2_lag - prev.c[j].log2_lag);
        const float total = cost[f - 1][j] + jump;
        if (total < best) best = total, arg = j;
      }
      cost[f][i] = best + local;
      back[f][i] = static_cast<int8_t>(arg);
    }
  }
  const FrameCandidates& last = cand[end - 1];
  int state = 0;
  for (int i = 1; i < last.count; ++i)
    if (cost[len - 1][i] < cost[len - 1][state]) state = i;
  for (int64_t f = len - 1; f >= 0; --f) {
    choice[begin + f] = state;
    if (f > 0) state = back[f][state];
  }
}

}  // namespace

PitchTrack track_pitch(const float* samples, int64_t n, int sample_rate, const PitchOptions& options) {
  validate(n, samples, sample_rate, options);
  const double sr = sample_rate;
  const int64_t hop = std::max<int64_t>(1, std::llround(options.hop_s * sr));
  PitchTrack track;
  track.hop_s = static_cast<double>(hop) / sr;
  if (n == 0) return track;
  const int64_t n_frames = (n + hop - 1) / hop;
  track.f0_hz.assign(n_frames, 0.0f);
  track.periodicity.assign(n_frames, 0.0f);

  // Lags searched: [min_lag, max_lag]; d is computed one further for the parabola.
  const int min_lag = std::max(2, static_cast<int>(std::floor(sr / options.max_f0_hz)));
  const int max_lag = std::max(min_lag + 2, static_cast<int>(std::ceil(sr / options.min_f0_hz)));
  const int window = max_lag;  // YIN: integrate over one longest period
  const int frame = window + max_lag + 1;

  // Zero-padded copy (frames are centred, so they run past both ends); non-finite samples become 0
  // so they cannot poison the whole track.
  const int64_t pad = frame + hop;  // the last frame centre lies up to hop / 2 past the end
  std::vector<float> x(static_cast<size_t>(n + 2 * pad), 0.0f);
  for (int64_t i = 0; i < n; ++i) x[pad + i] = std::isfinite(samples[i]) ? samples[i] : 0.0f;
  std::vector<double> energy(x.size() + 1, 0.0);  // prefix sums of x^2
  for (size_t i = 0; i < x.size(); ++i) energy[i + 1] = energy[i] + static_cast<double>(x[i]) * x[i];
  auto frame_start = [&](int64_t f) { return pad + f * hop + hop / 2 - frame / 2; };

  // Silence gate on the level of everything the frame reads.
  std::vector<double> level_db(n_frames);
  double loudest_db = -std::numeric_limits<double>::infinity();
  for (int64_t f = 0; f < n_frames; ++f) {
    const int64_t s = frame_start(f);
    const double ms = (energy[s + frame] - energy[s]) / frame;
    level_db[f] = 10.0 * std::log10(ms + 1e-30);
    loudest_db = std::max(loudest_db, level_db[f]);
  }
  const double gate_db = std::max(kAbsoluteSilenceDb, loudest_db - kRelativeSilenceDb);

  Correlator correlator(window, max_lag);
  const float scale = correlator.scale();
  std::vector<float> d(max_lag + 2), cmnd(max_lag + 2), running(max_lag + 2);
  std::vector<FrameCandidates> cand(n_frames);
  std::vector<uint8_t> voiced(n_frames, 0);
  for (int64_t f = 0; f < n_frames; ++f) {
    if (!(level_db[f] > gate_db)) continue;
    const int64_t s = frame_start(f);
    const float* c = correlator.correlate(x.data() + s);
    // d(tau) = sum (x_j - x_{j+tau})^2 = E(0) + E(tau) - 2 c(tau), energies from the prefix sums.
    const double e0 = energy[s + window] - energy[s];
    // Three passes (the first and last vectorise; only the prefix sum is serial).
    for (int t = 1; t <= max_lag + 1; ++t) {
      const double et = energy[s + t + window] - energy[s + t];
      d[t] = static_cast<float>(std::max(0.0, e0 + et - 2.0 * c[t] * scale));
    }
    d[0] = 0.0f;
    running[0] = 0.0f;
    for (int t = 1; t <= max_lag + 1; ++t) running[t] = running[t - 1] + d[t];
    cmnd[0] = 1.0f;
    for (int t = 1; t <= max_lag + 1; ++t)
      cmnd[t] = running[t] > 0.0f ? d[t] * static_cast<float>(t) / running[t] : 1.0f;
    find_candidates(d, cmnd, min_lag, max_lag, cand[f]);
    track.periodicity[f] = std::clamp(1.0f - cand[f].best_cmnd, 0.0f, 1.0f);
    voiced[f] = cand[f].count > 0 && cand[f].best_cmnd < options.voicing_threshold;
  }

  // Voiced runs: drop blips shorter than min_voiced_s, then track each run with Viterbi.
  const int64_t min_run = std::max<int64_t>(1, std::llround(options.min_voiced_s / track.hop_s));
  std::vector<int> choice(n_frames, 0);
  for (int64_t f = 0; f < n_frames;) {
    if (!voiced[f]) {
      ++f;
      continue;
    }
    int64_t end = f;
    while (end < n_frames && voiced[end]) ++end;
    bool anchored = false;  // hysteresis: a run needs one clearly periodic frame
    for (int64_t g = f; g < end; ++g) anchored |= cand[g].best_cmnd < options.voicing_anchor;
    if (end - f >= min_run && anchored) {
      viterbi_run(cand, f, end, options.octave_cost, choice);
      for (int64_t piece = f; piece < end;) {
        int64_t stop = piece + 1;
        while (stop < end && std::fabs(cand[stop].c[choice[stop]].log2_lag -
                                       cand[stop - 1].c[choice[stop - 1]].log2_lag) <= kMaxJumpOctaves)
          ++stop;
        if (stop - piece >= min_run) {
          for (int64_t g = piece; g < stop; ++g) {
            const Candidate& chosen = cand[g].c[choice[g]];
            track.f0_hz[g] = static_cast<float>(sr / chosen.lag);
            track.periodicity[g] = std::clamp(1.0f - chosen.cmnd, 0.0f, 1.0f);
          }
        }
        piece = stop;
      }
    }
    f = end;
  }
  return track;
}

}  // namespace attune::audio
