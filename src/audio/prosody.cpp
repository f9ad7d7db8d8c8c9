// Prosody and voice-quality features. Reads top to bottom: framing and loudness, the active/pause
// segmentation, spectral shape, HNR, cycle-level jitter and shimmer, syllable nuclei, functionals.
// Every definition (units, windows, what silence gives) is in docs/audio-features.md.
#include "audio/prosody.h"

#include <fftw3.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <mutex>
#include <numbers>
#include <numeric>

#include "attune/error.h"
#include "audio/fftw_lock.h"

namespace attune::audio {
namespace {

constexpr double kFloorDb = -120.0;           // loudness of digital silence
constexpr double kActiveBelowRefDb = 25.0;    // active: within this of the 99th-percentile level
constexpr double kAbsoluteSilenceDb = -90.0;  // ...and above this, whatever the reference
constexpr double kMinPauseS = 0.15;           // shorter low-energy stretches are not pauses
constexpr double kCentroidMaxHz = 8000.0;     // same band at every sample rate
constexpr double kSlopeMaxHz = 5000.0;
constexpr double kSpectrumRangeDb = 80.0;  // dB floor below the frame's strongest bin, for the slope
constexpr double kSyllableDipDb = 2.0;     // de Jong & Wempe's minimum dip between syllable peaks
constexpr double kNucleusVoicingReachS = 0.02;
constexpr double kHnrMaxR = 1.0 - 1e-5;  // caps HNR at +50 dB (a perfect tone)
// Cycle tracking (jitter, shimmer), following Praat's defaults where they exist.
constexpr double kCycleSearch = 0.15;    // next cycle searched at (1 +- this) * the tracked period
constexpr double kCycleMinCorr = 0.5;    // a cycle matching its predecessor worse than this breaks the chain
constexpr double kMaxPeriodRatio = 1.3;  // Praat's "maximum period factor"

enum Feature : int {
  kDuration,
  kF0Mean,
  kF0Std,
  kF0P20,
  kF0P50,
  kF0P80,
  kF0Range,
  kF0Slope,
  kVoicedFraction,
  kLoudness,
  kLoudnessStd,
  kLoudnessP20,
  kLoudnessP80,
  kLoudnessSlope,
  kCentroid,
  kSpectralSlope,
  kHnr,
  kJitter,
  kShimmer,
  kPauseRatio,
  kSpeakingRate,
  kFeatureCount
};

// Percentile with linear interpolation between order statistics (NumPy's default); 0 when empty.
double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t i = static_cast<size_t>(pos);
  const double f = pos - static_cast<double>(i);
  return i + 1 < v.size() ? v[i] * (1.0 - f) + v[i + 1] * f : v[i];
}

double mean(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

double stddev(const std::vector<double>& v) {  // population standard deviation
  if (v.size() < 2) return 0.0;
  const double m = mean(v);
  double s = 0.0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size()));
}

// Least-squares slope of y against t; 0 with fewer than two distinct times.
double slope(const std::vector<double>& t, const std::vector<double>& y) {
  if (t.size() < 2) return 0.0;
  const double mt = mean(t), my = mean(y);
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < t.size(); ++i) {
    num += (t[i] - mt) * (y[i] - my);
    den += (t[i] - mt) * (t[i] - mt);
  }
  return den > 0.0 ? num / den : 0.0;
}

// Normalised cross-correlation of x[a .. a+len) and x[b .. b+len), energies from prefix sums.
double nccf(const float* x, const std::vector<double>& energy, int64_t a, int64_t b, int64_t len) {
  float acc[4] = {0, 0, 0, 0};  // four accumulators so the loop pipelines without -ffast-math
  int64_t j = 0;
  for (; j + 4 <= len; j += 4)
    for (int k = 0; k < 4; ++k) acc[k] += x[a + j + k] * x[b + j + k];
  double dot = static_cast<double>(acc[0]) + acc[1] + acc[2] + acc[3];
  for (; j < len; ++j) dot += static_cast<double>(x[a + j]) * x[b + j];
  const double ea = energy[a + len] - energy[a], eb = energy[b + len] - energy[b];
  return ea > 0.0 && eb > 0.0 ? dot / std::sqrt(ea * eb) : 0.0;
}

// Vertex of the parabola through (-1, ym), (0, y0), (1, yp): offset in [-1, 1] and value.
std::pair<double, double> parabola_peak(double ym, double y0, double yp) {
  const double den = ym - 2.0 * y0 + yp;
  if (!(den < 0.0)) return {0.0, y0};
  const double delta = std::clamp(0.5 * (ym - yp) / den, -1.0, 1.0);
  return {delta, y0 - 0.25 * (ym - yp) * delta};
}

// Spectral centroid and slope per frame, one FFT plan per call.
class SpectrumAnalyser {
 public:
  SpectrumAnalyser(int frame_len, int sample_rate) : frame_len_(frame_len) {
    size_ = 1;
    while (size_ < frame_len) size_ <<= 1;
    in_ = fftwf_alloc_real(size_);
    out_ = fftwf_alloc_complex(size_ / 2 + 1);
    {
      std::lock_guard<std::mutex> lock(fftw_planner_mutex());
      plan_ = fftwf_plan_dft_r2c_1d(size_, in_, out_, FFTW_ESTIMATE);
    }
    window_.resize(frame_len);
    for (int i = 0; i < frame_len; ++i)
      window_[i] = static_cast<float>(0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * (i + 0.5) / frame_len));
    const double bin_hz = static_cast<double>(sample_rate) / size_;
    const int nyquist_bin = size_ / 2;
    centroid_bins_ = std::min(nyquist_bin, static_cast<int>(kCentroidMaxHz / bin_hz)) + 1;
    slope_bins_ = std::max(2, std::min(nyquist_bin, static_cast<int>(kSlopeMaxHz / bin_hz)) + 1);
    freq_hz_.resize(std::max(centroid_bins_, slope_bins_));
    for (size_t k = 0; k < freq_hz_.size(); ++k) freq_hz_[k] = k * bin_hz;
    // The regression's abscissa (kHz) is the same for every frame: centre it once.
    const double mean_khz = 0.5 * (slope_bins_ - 1) * bin_hz / 1000.0;
    slope_weight_.resize(slope_bins_);
    double den = 0.0;
    for (int k = 0; k < slope_bins_; ++k) {
      slope_weight_[k] = k * bin_hz / 1000.0 - mean_khz;
      den += slope_weight_[k] * slope_weight_[k];
    }
    for (double& w : slope_weight_) w /= den;
    power_.resize(size_ / 2 + 1);
  }
  ~SpectrumAnalyser() {
    {
      std::lock_guard<std::mutex> lock(fftw_planner_mutex());
      fftwf_destroy_plan(plan_);
    }
    fftwf_free(in_);
    fftwf_free(out_);
  }
  SpectrumAnalyser(const SpectrumAnalyser&) = delete;
  SpectrumAnalyser& operator=(const SpectrumAnalyser&) = delete;

  // `x` points at frame_len samples. Returns false for an all-zero frame.
  bool analyse(const float* x, double& centroid_hz, double& slope_db_per_khz) {
    for (int i = 0; i < frame_len_; ++i) in_[i] = x[i] * window_[i];
    std::fill(in_ + frame_len_, in_ + size_, 0.0f);
    fftwf_execute(plan_);
    const int bins = std::max(centroid_bins_, slope_bins_);
    double peak = 0.0;
    for (int k = 0; k < bins; ++k) {
      power_[k] = static_cast<double>(out_[k][0]) * out_[k][0] + static_cast<double>(out_[k][1]) * out_[k][1];
      if (k < slope_bins_) peak = std::max(peak, power_[k]);
    }
    double num = 0.0, den = 0.0;
    for (int k = 0; k < centroid_bins_; ++k) {
      num += freq_hz_[k] * power_[k];
      den += power_[k];
    }
    if (!(den > 0.0) || !(peak > 0.0)) return false;
    centroid_hz = num / den;
    const double floor = peak * std::pow(10.0, -kSpectrumRangeDb / 10.0);
    double s = 0.0;  // single-precision logs: ample for a regression over ~160 bins, and cheap
    for (int k = 0; k < slope_bins_; ++k) s += slope_weight_[k] * std::log(static_cast<float>(power_[k] + floor));
    slope_db_per_khz = s * (10.0 / std::log(10.0));
    return true;
  }

 private:
  int frame_len_, size_ = 0, centroid_bins_ = 0, slope_bins_ = 0;
  float* in_ = nullptr;
  fftwf_complex* out_ = nullptr;
  fftwf_plan plan_ = nullptr;
  std::vector<float> window_;
  std::vector<double> freq_hz_, slope_weight_, power_;
};

struct CycleStats {
  double sum_abs_dt = 0.0, sum_t = 0.0, sum_abs_da_db = 0.0;
  int64_t periods = 0, period_pairs = 0, amp_pairs = 0;
};

// Follows glottal cycles through one voiced run [lo, hi) (samples): pulses sit on waveform peaks
// (Praat-style); each period is the lag that best matches one period from the current pulse to the
// next (normalised cross-correlation, parabolic refinement); each amplitude is the peak value.
// `x` is the zero-padded signal (index = sample + pad) with prefix energies `energy`.
void track_cycles(const float* x, const std::vector<double>& energy, int64_t pad, int64_t lo, int64_t hi,
                  const std::vector<float>& f0, int64_t hop, int64_t first_frame, int64_t last_frame, double sr,
                  double min_period, double max_period, CycleStats& stats) {
  auto period_at = [&](double pos) {
    const int64_t f = std::clamp(static_cast<int64_t>(pos) / hop, first_frame, last_frame);
    return f0[f] > 0.0f ? sr / f0[f] : 0.0;
  };
  // Polarity: follow whichever of the maxima / minima is stronger in this run.
  float top = 0.0f, bottom = 0.0f;
  for (int64_t i = lo; i < hi; ++i) top = std::max(top, x[pad + i]), bottom = std::min(bottom, x[pad + i]);
  const float sign = top >= -bottom ? 1.0f : -1.0f;
  auto y = [&](int64_t i) { return sign * x[pad + i]; };
  // Peak of y in [a, b] (clamped to the run), refined by a parabola: position and value.
  auto peak_in = [&](int64_t a, int64_t b) -> std::pair<double, double> {
    a = std::max(a, lo + 1), b = std::min(b, hi - 2);
    if (a > b) return {-1.0, 0.0};
    int64_t best = a;
    for (int64_t i = a + 1; i <= b; ++i)
      if (y(i) > y(best)) best = i;
    const auto [delta, value] = parabola_peak(y(best - 1), y(best), y(best + 1));
    return {static_cast<double>(best) + delta, value};
  };

  double period = period_at(static_cast<double>(lo));
  if (!(period > 0.0)) return;
  // First pulse a quarter period in, so the first matching window (which starts a quarter period
  // before its pulse) stays inside the run.
  const int64_t first = lo + static_cast<int64_t>(period) / 4 + 1;
  auto [pulse, amp] = peak_in(first, first + static_cast<int64_t>(period));
  double prev_t = 0.0, prev_a = 0.0;  // 0: no previous cycle in the current chain
  std::vector<double> r;
  while (pulse >= 0.0) {
    period = period_at(pulse);
    if (!(period > 0.0)) break;
    const int64_t len = std::max<int64_t>(2, std::llround(period));
    const int64_t start = static_cast<int64_t>(std::lround(pulse)) - len / 4;  // window begins just before the pulse
    const int64_t lag_lo = std::max<int64_t>(2, static_cast<int64_t>(std::floor((1.0 - kCycleSearch) * period)));
    const int64_t lag_hi = static_cast<int64_t>(std::ceil((1.0 + kCycleSearch) * period));
    if (start < lo || start + lag_hi + 1 + len > hi) break;
    const int64_t count = lag_hi - lag_lo + 3;  // r[i] = nccf at lag lag_lo - 1 + i
    r.resize(count);
    for (int64_t i = 0; i < count; ++i) r[i] = nccf(x, energy, pad + start, pad + start + lag_lo - 1 + i, len);
    const int64_t best = std::max_element(r.begin() + 1, r.begin() + count - 1) - r.begin();
    const double best_r = r[best];
    const double t = static_cast<double>(lag_lo - 1 + best) + parabola_peak(r[best - 1], r[best], r[best + 1]).first;
    // Snap the next pulse to the waveform peak near where the match puts it.
    const double expected = pulse + t;
    const int64_t slack = std::max<int64_t>(1, std::llround(0.1 * period));
    const auto [next_pulse, next_amp] = peak_in(static_cast<int64_t>(std::lround(expected)) - slack,
                                                static_cast<int64_t>(std::lround(expected)) + slack);
    if (next_pulse < 0.0) break;
    if (best_r >= kCycleMinCorr && t >= min_period && t <= max_period) {
      stats.sum_t += t;
      ++stats.periods;
      if (prev_t > 0.0 && std::max(t, prev_t) <= kMaxPeriodRatio * std::min(t, prev_t)) {
        stats.sum_abs_dt += std::fabs(t - prev_t);
        ++stats.period_pairs;
      }
      if (prev_a > 0.0 && amp > 0.0) {
        stats.sum_abs_da_db += std::fabs(20.0 * std::log10(amp / prev_a));
        ++stats.amp_pairs;
      }
      prev_t = t;
      prev_a = amp;
    } else {
      prev_t = prev_a = 0.0;  // a bad cycle: the next one starts a new chain
    }
    if (next_pulse <= pulse) break;  // cannot happen with lag >= 2 and small slack; guards the loop
    pulse = next_pulse;
    amp = next_amp;
  }
  // The last pulse's amplitude closes the final pair only through the next cycle, so it is unused.
}

void validate(int64_t n, const float* samples, int sample_rate, const ProsodyOptions& o) {
  if (n < 0) throw InputError("analyse_prosody: sample count is " + std::to_string(n) + "; expected >= 0");
  if (n > 0 && samples == nullptr) throw InputError("analyse_prosody: samples is null but n = " + std::to_string(n));
  if (sample_rate <= 0)
    throw ConfigError("analyse_prosody: sample_rate is " + std::to_string(sample_rate) + "; expected > 0");
  if (!(o.frame_s > 0.0) || !(o.frame_s < 10.0))
    throw ConfigError("prosody options: frame_s = " + std::to_string(o.frame_s) + "; expected in (0, 10) s");
  if (!(o.hop_s > 0.0) || !(o.hop_s < 10.0))
    throw ConfigError("prosody options: hop_s = " + std::to_string(o.hop_s) + "; expected in (0, 10) s");
}

}  // namespace

const std::vector<std::string>& prosody_feature_names() {
  static const std::vector<std::string> kNames = {
      "duration_s",
      "f0_mean_hz",
      "f0_std_hz",
      "f0_p20_hz",
      "f0_p50_hz",
      "f0_p80_hz",
      "f0_range_semitones",
      "f0_slope_semitones_per_s",
      "voiced_fraction",
      "loudness_db",
      "loudness_std_db",
      "loudness_p20_db",
      "loudness_p80_db",
      "loudness_slope_db_per_s",
      "spectral_centroid_hz",
      "spectral_slope_db_per_khz",
      "hnr_db",
      "jitter_local_pct",
      "shimmer_local_db",
      "pause_ratio",
      "speaking_rate_syl_per_s",
  };
  return kNames;
}

double Prosody::get(const std::string& name) const {
  const auto& names = prosody_feature_names();
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) {
    std::string known;
    for (const auto& k : names) known += (known.empty() ? "" : ", ") + k;
    throw Error("unknown prosody feature '" + name + "'; known: " + known);
  }
  const size_t i = static_cast<size_t>(it - names.begin());
  if (i >= values.size())
    throw Error("prosody feature '" + name + "' has no value (this Prosody holds " + std::to_string(values.size()) +
                " values)");
  return values[i];
}

namespace {

// The zero-padded, sanitised signal, its prefix energies and the frame grid every measurement reads.
struct Framed {
  double sr = 0;
  int64_t n = 0, hop = 0, frame_len = 0, n_frames = 0, max_period = 0, pad = 0;
  std::vector<float> x;
  std::vector<double> energy;  // energy[i] = sum of x[0, i)^2
  int64_t centre(int64_t f) const { return f * hop + hop / 2; }
};

Framed frame_signal(const float* samples, int64_t n, int sample_rate, const ProsodyOptions& options) {
  Framed s;
  s.sr = sample_rate;
  s.n = n;
  s.hop = std::max<int64_t>(1, std::llround(options.hop_s * s.sr));
  s.frame_len = std::max<int64_t>(2, std::llround(options.frame_s * s.sr));
  s.n_frames = n > 0 ? (n + s.hop - 1) / s.hop : 0;
  s.max_period = static_cast<int64_t>(std::ceil(s.sr / options.pitch.min_f0_hz)) + 2;
  s.pad = std::max(s.frame_len, 4 * s.max_period) + s.hop;
  s.x.assign(static_cast<size_t>(n + 2 * s.pad), 0.0f);
  for (int64_t i = 0; i < n; ++i) s.x[s.pad + i] = std::isfinite(samples[i]) ? samples[i] : 0.0f;
  s.energy.assign(s.x.size() + 1, 0.0);
  for (size_t i = 0; i < s.x.size(); ++i) s.energy[i + 1] = s.energy[i] + static_cast<double>(s.x[i]) * s.x[i];
  return s;
}

struct Activity {
  std::vector<double> mean_square, level;  // per frame: RMS window energy and its dB
  double active_db = 0;                    // the activity threshold
  std::vector<uint8_t> active;
  int64_t first = -1, last = -1;  // first and last active frame
  double phonation_s = 0;         // the active span without its pauses
};

// Loudness (RMS over a rectangular frame_s window, samples outside the signal not counted), activity
// (frames within 25 dB of the utterance's 99th-percentile level), pauses (inactive stretches of
// >= 150 ms between the first and last active frame) and the loudness functionals over active frames
// (all frames when none is active: digital silence).
Activity measure_loudness(const Framed& s, Prosody& out) {
  Activity a;
  a.mean_square.resize(s.n_frames);
  out.loudness_db.resize(s.n_frames);
  for (int64_t f = 0; f < s.n_frames; ++f) {
    const int64_t lo = std::max<int64_t>(0, s.centre(f) - s.frame_len / 2);
    const int64_t hi = std::min<int64_t>(s.n, s.centre(f) - s.frame_len / 2 + s.frame_len);
    a.mean_square[f] = (s.energy[s.pad + hi] - s.energy[s.pad + lo]) / static_cast<double>(hi - lo);
    out.loudness_db[f] = static_cast<float>(std::max(kFloorDb, 10.0 * std::log10(a.mean_square[f] + 1e-30)));
  }
  a.level.assign(out.loudness_db.begin(), out.loudness_db.end());
  a.active_db = std::max(kAbsoluteSilenceDb, percentile(a.level, 0.99) - kActiveBelowRefDb);
  a.active.resize(s.n_frames);
  for (int64_t f = 0; f < s.n_frames; ++f) {
    a.active[f] = a.level[f] > a.active_db;
    if (a.active[f]) {
      if (a.first < 0) a.first = f;
      a.last = f;
    }
  }
  int64_t pause_frames = 0;
  const int64_t min_pause = static_cast<int64_t>(std::ceil(kMinPauseS / out.hop_s - 1e-9));
  for (int64_t f = a.first; f >= 0 && f <= a.last;) {
    if (a.active[f]) {
      ++f;
      continue;
    }
    int64_t end = f;
    while (end <= a.last && !a.active[end]) ++end;
    if (end - f >= min_pause) pause_frames += end - f;
    f = end;
  }
  const int64_t span_frames = a.first >= 0 ? a.last - a.first + 1 : 0;
  out.values[kPauseRatio] = span_frames > 0 ? static_cast<double>(pause_frames) / span_frames : 1.0;
  a.phonation_s = static_cast<double>(span_frames - pause_frames) * out.hop_s;

  std::vector<double> t, db;
  for (int64_t f = 0; f < s.n_frames; ++f)
    if (a.active[f] || a.first < 0) t.push_back(s.centre(f) / s.sr), db.push_back(a.level[f]);
  out.values[kLoudness] = mean(db);
  out.values[kLoudnessStd] = stddev(db);
  out.values[kLoudnessP20] = percentile(db, 0.20);
  out.values[kLoudnessP80] = percentile(db, 0.80);
  out.values[kLoudnessSlope] = slope(t, db);
  return a;
}

// Spectral centroid and slope: Hann window of frame_s, mean over active frames.
void measure_spectrum(const Framed& s, const Activity& a, int sample_rate, Prosody& out) {
  SpectrumAnalyser spectrum(static_cast<int>(s.frame_len), sample_rate);
  std::vector<double> centroids, slopes;
  for (int64_t f = 0; f < s.n_frames; ++f) {
    if (!a.active[f]) continue;
    double c = 0.0, sl = 0.0;
    if (spectrum.analyse(s.x.data() + s.pad + s.centre(f) - s.frame_len / 2, c, sl)) {
      centroids.push_back(c);
      slopes.push_back(sl);
    }
  }
  out.values[kCentroid] = mean(centroids);
  out.values[kSpectralSlope] = mean(slopes);
}

// F0 functionals over voiced active frames; returns which frames those are.
std::vector<uint8_t> measure_f0(const Framed& s, const Activity& a, Prosody& out) {
  const std::vector<float>& f0 = out.pitch.f0_hz;
  std::vector<uint8_t> voiced(s.n_frames);
  std::vector<double> t, hz, st;
  int64_t n_active = 0;
  for (int64_t f = 0; f < s.n_frames; ++f) {
    voiced[f] = a.active[f] && f0[f] > 0.0f;
    n_active += a.active[f];
    if (!voiced[f]) continue;
    t.push_back(s.centre(f) / s.sr);
    hz.push_back(f0[f]);
    st.push_back(12.0 * std::log2(f0[f] / 27.5));  // semitones re A0
  }
  out.values[kVoicedFraction] = n_active > 0 ? static_cast<double>(hz.size()) / n_active : 0.0;
  if (!hz.empty()) {
    out.values[kF0Mean] = mean(hz);
    out.values[kF0Std] = stddev(hz);
    out.values[kF0P20] = percentile(hz, 0.20);
    out.values[kF0P50] = percentile(hz, 0.50);
    out.values[kF0P80] = percentile(hz, 0.80);
    out.values[kF0Range] = 12.0 * std::log2(percentile(hz, 0.95) / percentile(hz, 0.05));
    out.values[kF0Slope] = slope(t, st);
  }
  return voiced;
}

// HNR (Boersma 1993): r = normalised cross-correlation at the pitch period, parabolic peak;
// HNR = 10 log10(r / (1 - r)), averaged in dB over voiced active frames.
void measure_hnr(const Framed& s, const std::vector<uint8_t>& voiced, Prosody& out) {
  const std::vector<float>& f0 = out.pitch.f0_hz;
  const int64_t window = std::max<int64_t>(s.max_period, s.frame_len);
  std::vector<double> hnr;
  for (int64_t f = 0; f < s.n_frames; ++f) {
    if (!voiced[f]) continue;
    const double period = s.sr / f0[f];
    const int64_t lag0 = std::llround(period);
    const int64_t a = s.pad + s.centre(f) - (window + lag0) / 2;
    double r[5];
    for (int k = 0; k < 5; ++k) r[k] = nccf(s.x.data(), s.energy, a, a + std::max<int64_t>(1, lag0 - 2 + k), window);
    const int best = static_cast<int>(std::max_element(r + 1, r + 4) - r);
    const double peak = parabola_peak(r[best - 1], r[best], r[best + 1]).second;
    const double rr = std::clamp(peak, 1.0 - kHnrMaxR, kHnrMaxR);
    hnr.push_back(10.0 * std::log10(rr / (1.0 - rr)));
  }
  out.values[kHnr] = mean(hnr);
}

// Jitter and shimmer over glottal cycles in voiced active runs.
void measure_perturbation(const Framed& s, const std::vector<uint8_t>& voiced, const ProsodyOptions& options,
                          Prosody& out) {
  CycleStats stats;
  const double shortest = s.sr / options.pitch.max_f0_hz, longest = s.sr / options.pitch.min_f0_hz;  // samples
  for (int64_t f = 0; f < s.n_frames;) {
    if (!voiced[f]) {
      ++f;
      continue;
    }
    int64_t end = f;
    while (end < s.n_frames && voiced[end]) ++end;
    const int64_t lo = f * s.hop, hi = std::min<int64_t>(s.n, end * s.hop);
    track_cycles(s.x.data(), s.energy, s.pad, lo, hi, out.pitch.f0_hz, s.hop, f, end - 1, s.sr, shortest, longest,
                 stats);
    f = end;
  }
  if (stats.period_pairs > 0 && stats.sum_t > 0.0)
    out.values[kJitter] =
        100.0 * (stats.sum_abs_dt / stats.period_pairs) / (stats.sum_t / static_cast<double>(stats.periods));
  if (stats.amp_pairs > 0) out.values[kShimmer] = stats.sum_abs_da_db / stats.amp_pairs;
}

// Syllable nuclei (de Jong & Wempe 2009): peaks of a smoothed intensity contour that are above the
// activity threshold, voiced, and stand >= 2 dB above the dip before the next peak; per phonation second.
void measure_speaking_rate(const Framed& s, const Activity& a, Prosody& out) {
  const std::vector<float>& f0 = out.pitch.f0_hz;
  const int64_t n_frames = s.n_frames;
  std::vector<double> intensity(n_frames);
  constexpr double kKernel[5] = {1.0, 4.0, 6.0, 4.0, 1.0};  // binomial, sigma = one hop
  for (int64_t f = 0; f < n_frames; ++f) {
    double sum = 0.0, w = 0.0;
    for (int k = -2; k <= 2; ++k) {
      if (f + k < 0 || f + k >= n_frames) continue;
      sum += kKernel[k + 2] * a.mean_square[f + k];
      w += kKernel[k + 2];
    }
    intensity[f] = std::max(kFloorDb, 10.0 * std::log10(sum / w + 1e-30));
  }
  std::vector<int64_t> peaks;
  for (int64_t f = 1; f + 1 < n_frames; ++f)
    if (intensity[f] > intensity[f - 1] && intensity[f] >= intensity[f + 1] && intensity[f] > a.active_db)
      peaks.push_back(f);
  int64_t nuclei = 0;
  for (size_t i = 0; i < peaks.size(); ++i) {
    const int64_t next = i + 1 < peaks.size() ? peaks[i + 1] : n_frames;
    const double dip = *std::min_element(intensity.begin() + peaks[i], intensity.begin() + next);
    // Voiced at the peak, give or take 20 ms: the smoothed peak can sit just off the voiced frames.
    bool voiced_near = false;
    const int64_t reach = std::llround(kNucleusVoicingReachS / out.hop_s);
    for (int64_t g = std::max<int64_t>(0, peaks[i] - reach); g <= std::min(n_frames - 1, peaks[i] + reach); ++g)
      voiced_near |= f0[g] > 0.0f;
    if (intensity[peaks[i]] - dip >= kSyllableDipDb && voiced_near) ++nuclei;
  }
  out.values[kSpeakingRate] = a.phonation_s > 0.0 ? static_cast<double>(nuclei) / a.phonation_s : 0.0;
}

}  // namespace

Prosody analyse_prosody(const float* samples, int64_t n, int sample_rate, const ProsodyOptions& options) {
  validate(n, samples, sample_rate, options);
  static_assert(kFeatureCount == 21);
  const double sr = sample_rate;
  const int64_t hop = std::max<int64_t>(1, std::llround(options.hop_s * sr));

  Prosody out;
  out.hop_s = static_cast<double>(hop) / sr;
  out.values.assign(kFeatureCount, 0.0);
  out.values[kDuration] = static_cast<double>(n) / sr;
  const double skipped = std::numeric_limits<double>::quiet_NaN();
  if (!options.spectral) out.values[kCentroid] = out.values[kSpectralSlope] = skipped;
  if (!options.hnr) out.values[kHnr] = skipped;

  // The pitch track shares our hop so the contours line up frame for frame.
  PitchOptions pitch_options = options.pitch;
  pitch_options.hop_s = options.hop_s;
  out.pitch = track_pitch(samples, n, sample_rate, pitch_options);
  if (n == 0) {  // defined like digital silence
    out.values[kPauseRatio] = 1.0;
    out.values[kLoudness] = out.values[kLoudnessP20] = out.values[kLoudnessP80] = kFloorDb;
    return out;
  }
  const Framed s = frame_signal(samples, n, sample_rate, options);
  const Activity activity = measure_loudness(s, out);
  if (options.spectral) measure_spectrum(s, activity, sample_rate, out);
  const std::vector<uint8_t> voiced = measure_f0(s, activity, out);
  if (options.hnr) measure_hnr(s, voiced, out);
  measure_perturbation(s, voiced, options, out);
  measure_speaking_rate(s, activity, out);
  return out;
}

}  // namespace attune::audio
