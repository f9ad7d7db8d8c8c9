#include "serve/turn_gate.h"

#include <fmt/format.h>

#include <algorithm>

#include "serve/api_error.h"

namespace attune::serve {

TurnGate::Pass::~Pass() { gate_->leave(); }

std::unique_ptr<TurnGate::Pass> TurnGate::enter(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  if (queue_.size() >= max_waiting_) {
    throw ApiError(
        429, "queue_full",
        fmt::format("the server is busy: {} requests are already waiting for the model; retry later", queue_.size()));
  }
  const uint64_t ticket = next_ticket_++;
  queue_.push_back(ticket);
  const bool mine = changed_.wait_until(lock, deadline, [&] { return !busy_ && queue_.front() == ticket; });
  if (!mine) {
    queue_.erase(std::find(queue_.begin(), queue_.end(), ticket));
    changed_.notify_all();  // the one behind may now be first
    throw ApiError(503, "timeout", "the request waited too long for the model (the server is overloaded); retry later");
  }
  queue_.pop_front();
  busy_ = true;
  return std::make_unique<Pass>(this);
}

void TurnGate::leave() {
  {
    std::lock_guard lock(mutex_);
    busy_ = false;
  }
  changed_.notify_all();
}

size_t TurnGate::waiting() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

bool TurnGate::busy() const {
  std::lock_guard lock(mutex_);
  return busy_;
}

}  // namespace attune::serve
