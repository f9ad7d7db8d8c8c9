// A minimal parallel loop for data jobs: items are handed out one at a time to `threads` workers,
// each with its own index (to own per-thread state such as a talker or an FFT plan). The first
// exception thrown by any item stops the hand-out and is rethrown on the calling thread.
#pragma once

#include <cstdint>
#include <functional>

namespace attune::common {

// threads <= 0: all cores. fn(item, worker) with worker in [0, effective threads).
void parallel_for(int64_t n, int threads, const std::function<void(int64_t item, int worker)>& fn);

// The number of workers parallel_for uses for `threads` and `n` items.
int effective_threads(int threads, int64_t n);

}  // namespace attune::common
