#include "kernels/thread_pool.h"

#include <algorithm>
#include <memory>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ATTUNE_PAUSE() _mm_pause()
#else
#define ATTUNE_PAUSE() std::this_thread::yield()
#endif

namespace attune::kernels {

namespace {
// About 50-100 us of spinning before a worker sleeps: long enough to span the gap between two
// regions of a decode step, short enough not to steal a core from a prefill running in libtorch.
constexpr int kSpinIterations = 20000;
}  // namespace

ThreadPool::ThreadPool(int threads) : threads_(std::max(1, threads)) {
  for (int t = 1; t < threads_; ++t) workers_.emplace_back([this, t] { worker(t); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  generation_.fetch_add(1);
  generation_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::run_erased(void* fn, Trampoline call) {
  std::lock_guard<std::mutex> lock(run_mutex_);
  fn_ = fn;
  call_ = call;
  pending_.store(threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  if (sleepers_.load(std::memory_order_acquire) > 0) generation_.notify_all();
  call(fn, 0);
  while (pending_.load(std::memory_order_acquire) != 0) ATTUNE_PAUSE();
}

void ThreadPool::worker(int thread) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t now = generation_.load(std::memory_order_acquire);
    for (int i = 0; now == seen && i < kSpinIterations; ++i) {
      ATTUNE_PAUSE();
      now = generation_.load(std::memory_order_acquire);
    }
    if (now == seen) {
      sleepers_.fetch_add(1, std::memory_order_acq_rel);
      // Re-read after announcing the sleep: a run that started in between sees sleepers_ > 0 or
      // is seen here.
      now = generation_.load(std::memory_order_acquire);
      while (now == seen) {
        generation_.wait(seen, std::memory_order_acquire);
        now = generation_.load(std::memory_order_acquire);
      }
      sleepers_.fetch_sub(1, std::memory_order_acq_rel);
    }
    seen = now;
    if (stop_.load(std::memory_order_acquire)) return;
    call_(fn_, thread);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

Range share(int64_t n, int thread, int threads, int64_t align) {
  const int64_t units = (n + align - 1) / align;
  const int64_t begin = std::min(n, units * thread / threads * align);
  const int64_t end = std::min(n, units * (thread + 1) / threads * align);
  return {begin, end};
}

namespace {
std::mutex pool_mutex;
int wanted_threads = 0;
std::shared_ptr<ThreadPool> pool;
}  // namespace

void set_decode_threads(int threads) {
  std::lock_guard<std::mutex> lock(pool_mutex);
  wanted_threads = std::max(1, threads);
}

int decode_threads() {
  std::lock_guard<std::mutex> lock(pool_mutex);
  return wanted_threads > 0 ? wanted_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::shared_ptr<ThreadPool> decode_pool() {
  const int threads = decode_threads();
  std::lock_guard<std::mutex> lock(pool_mutex);
  if (!pool || pool->threads() != threads) pool = std::make_shared<ThreadPool>(threads);
  return pool;
}

}  // namespace attune::kernels
