// The server-side dialogues: one runtime Session per id (history, KV cache, trajectory), kept apart,
// expired after an idle time, and capped in number (the least recently used idle one makes room).
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "attune/runtime.h"

namespace attune::serve {

class SessionStore {
 public:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    explicit Entry(Session s) : session(std::move(s)) {}
    Session session;
    Clock::time_point last_used = Clock::now();
  };

  SessionStore(size_t max_sessions, std::chrono::seconds idle_expiry)
      : max_sessions_(max_sessions), idle_expiry_(idle_expiry) {}

  // Adds a session under a fresh id. Throws ApiError 429 when the cap is reached and every session
  // is in use by a request.
  std::pair<std::string, std::shared_ptr<Entry>> add(Session session);
  // The session, or ApiError 404 (unknown or expired id).
  std::shared_ptr<Entry> find(const std::string& id);
  bool remove(const std::string& id);
  // Forgets sessions idle longer than the expiry (and not in use); returns how many.
  size_t expire();
  size_t size() const;

 private:
  size_t max_sessions_;
  std::chrono::seconds idle_expiry_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Entry>> sessions_;
  uint64_t counter_ = 0;
};

}  // namespace attune::serve
