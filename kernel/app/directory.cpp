#include "app/directory.hpp"

#include <vector>

namespace postern::kernel {

void SessionDirectory::add(const std::string& identifier, std::uint64_t session, Closer closer) {
  std::lock_guard lock(mutex_);
  sessions_[identifier][session] = std::move(closer);
}

void SessionDirectory::remove(const std::string& identifier, std::uint64_t session) {
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(identifier);
  if (it == sessions_.end()) return;
  it->second.erase(session);
  if (it->second.empty()) sessions_.erase(it);
}

std::size_t SessionDirectory::kick(const std::string& identifier) {
  std::vector<Closer> closers;
  {
    std::lock_guard lock(mutex_);
    const auto it = sessions_.find(identifier);
    if (it == sessions_.end()) return 0;
    for (auto& [session, closer] : it->second) closers.push_back(closer);
  }
  // Outside the lock: a closer may end its session synchronously, and the
  // session removes itself from the directory.
  for (const Closer& closer : closers) closer();
  return closers.size();
}

std::size_t SessionDirectory::sessions(const std::string& identifier) const {
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(identifier);
  return it == sessions_.end() ? 0 : it->second.size();
}

void SessionDirectory::delay(const std::string& identifier, Clock::duration duration, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (duration <= Clock::duration::zero()) {
    holds_.erase(identifier);
    return;
  }
  holds_[identifier] = now + duration;
}

SessionDirectory::Clock::duration SessionDirectory::hold_remaining(const std::string& identifier,
                                                                   Clock::time_point now) {
  std::lock_guard lock(mutex_);
  const auto it = holds_.find(identifier);
  if (it == holds_.end()) return Clock::duration::zero();
  if (it->second <= now) {
    holds_.erase(it);  // expired entries go lazily
    return Clock::duration::zero();
  }
  return it->second - now;
}

}  // namespace postern::kernel
