// FFTW's planner is not thread-safe: code in attune::audio that creates or destroys a plan holds
// this one lock (executing a plan needs none).
#pragma once

#include <mutex>

namespace attune::audio {

std::mutex& fftw_planner_mutex();

}  // namespace attune::audio
