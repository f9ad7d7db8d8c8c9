// A persistent pool for the decode path: a decode step meets at ~5 barriers per layer, thousands per
// second, so workers are woken by a generation counter they spin on briefly (then sleep on it), not
// by creating tasks. run(fn) calls fn(thread) on every thread, the caller being thread 0, and returns
// when all are done. fn must not throw. One run at a time: callers of one pool serialise (a mutex).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace attune::kernels {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }

  template <class Fn>
  void run(Fn&& fn) {
    if (threads_ == 1) {
      fn(0);
      return;
    }
    run_erased(&fn, [](void* f, int thread) { (*static_cast<Fn*>(f))(thread); });
  }

 private:
  using Trampoline = void (*)(void*, int);
  void run_erased(void* fn, Trampoline call);
  void worker(int thread);

  int threads_;
  std::vector<std::thread> workers_;
  std::mutex run_mutex_;
  void* fn_ = nullptr;
  Trampoline call_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
};

// [begin, end) of `n` items for `thread` of `threads`, in contiguous equal shares (a multiple of
// `align` items each, except the last).
struct Range {
  int64_t begin, end;
};
Range share(int64_t n, int thread, int threads, int64_t align = 1);

// The pool the decode path uses, with decode_threads() threads (made again when that changes; a
// caller keeps the one it got alive).
std::shared_ptr<ThreadPool> decode_pool();
// Threads of decode_pool() (default: hardware threads).
void set_decode_threads(int threads);
int decode_threads();

}  // namespace attune::kernels
