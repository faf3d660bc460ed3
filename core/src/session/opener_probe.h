// Tests only: a seam in Opener::open, to run another call at one exact point
// of it (deterministically, no sleeping threads). Not installed, and named by
// no public header: the tests include it from core/src.
#ifndef MQSEAL_SESSION_OPENER_PROBE_H_
#define MQSEAL_SESSION_OPENER_PROBE_H_

#include <utility>

#include "mqseal/opener.h"

namespace mqseal::internal {

// Runs in each suite 3 or 4 open() of any Opener whose envelope opened,
// outside the Opener's lock, just before the session's keys go into the
// cache: where a set_keyring() of another thread may land. `opener` is the
// Opener opening.
struct SessionCommitProbe {
  void (*run)(void* context, Opener& opener) = nullptr;
  void* context = nullptr;
};

// Installs `probe` for every Opener of the process; null: none. Each suite 3
// or 4 open reads it once (one atomic load). The probe must outlive every
// open that may have read it.
void set_session_commit_probe(const SessionCommitProbe* probe) noexcept;

// Runs `f(opener)` at that point while it lives: one at a time per process.
template <typename F>
class ScopedSessionCommitProbe {
 public:
  explicit ScopedSessionCommitProbe(F f) : f_(std::move(f)) {
    probe_.run = [](void* context, Opener& opener) { (*static_cast<F*>(context))(opener); };
    probe_.context = &f_;
    set_session_commit_probe(&probe_);
  }
  ~ScopedSessionCommitProbe() { set_session_commit_probe(nullptr); }
  ScopedSessionCommitProbe(const ScopedSessionCommitProbe&) = delete;
  ScopedSessionCommitProbe& operator=(const ScopedSessionCommitProbe&) = delete;

 private:
  F f_;
  SessionCommitProbe probe_;
};

}  // namespace mqseal::internal

#endif  // MQSEAL_SESSION_OPENER_PROBE_H_
