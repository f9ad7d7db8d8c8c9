#include "serve/session_store.h"

#include <fmt/format.h>

#include <random>

#include "serve/api_error.h"

namespace attune::serve {

std::pair<std::string, std::shared_ptr<SessionStore::Entry>> SessionStore::add(Session session) {
  std::lock_guard lock(mutex_);
  if (sessions_.size() >= max_sessions_) {
    // Make room: the least recently used session that no request holds.
    auto victim = sessions_.end();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->second.use_count() == 1 &&
          (victim == sessions_.end() || it->second->last_used < victim->second->last_used))
        victim = it;
    }
    if (victim == sessions_.end())
      throw ApiError(
          429, "too_many_sessions",
          fmt::format("all {} sessions are in use; retry later or continue an existing session", max_sessions_));
    sessions_.erase(victim);
  }
  // Unguessable ids: one client cannot read another's dialogue by counting.
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::string id = fmt::format("sess-{:016x}{:04x}", rng(), ++counter_ & 0xFFFF);
  auto entry = std::make_shared<Entry>(std::move(session));
  sessions_[id] = entry;
  return {id, entry};
}

std::shared_ptr<SessionStore::Entry> SessionStore::find(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(id);
  if (it == sessions_.end())
    throw ApiError(404, "session_not_found",
                   fmt::format("no session '{}' (it may have expired); start one with attune.new_session", id),
                   "attune.session_id");
  it->second->last_used = Clock::now();
  return it->second;
}

bool SessionStore::remove(const std::string& id) {
  std::lock_guard lock(mutex_);
  return sessions_.erase(id) > 0;
}

size_t SessionStore::expire() {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  size_t n = 0;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second.use_count() == 1 && now - it->second->last_used > idle_expiry_) {
      it = sessions_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

size_t SessionStore::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

}  // namespace attune::serve
