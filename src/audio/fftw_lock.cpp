#include "audio/fftw_lock.h"

namespace attune::audio {

std::mutex& fftw_planner_mutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace attune::audio
