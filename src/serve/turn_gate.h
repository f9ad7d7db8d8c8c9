// One turn at a time through the model (a Model's sessions share torch's threads and must not run
// turns concurrently), first come first served, with a bounded queue and a deadline per waiter.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>

namespace attune::serve {

class TurnGate {
 public:
  using Clock = std::chrono::steady_clock;
  explicit TurnGate(size_t max_waiting) : max_waiting_(max_waiting) {}

  // Held while a turn runs; destroying it lets the next waiter in.
  class Pass {
   public:
    explicit Pass(TurnGate* gate) : gate_(gate) {}
    ~Pass();
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;

   private:
    TurnGate* gate_;
  };

  // Waits for the turn. Throws ApiError 429 when `max_waiting` requests already wait, and 503 when
  // `deadline` passes first.
  std::unique_ptr<Pass> enter(Clock::time_point deadline);

  size_t waiting() const;
  bool busy() const;

 private:
  void leave();

  size_t max_waiting_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::list<uint64_t> queue_;
  uint64_t next_ticket_ = 0;
  bool busy_ = false;
};

}  // namespace attune::serve
