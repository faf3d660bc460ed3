// mqseal/replay_guard.h: duplicate, replay and age checks on the receiving side.
//
// Every envelope names its sender (a random ID drawn once per sealing
// session, so a rebooted device is simply a new sender) and a sequence number
// that grows by one per message the session seals, plus the sender's
// timestamp. The guard keeps, per sender, the highest sequence seen and a
// bitmap of the kReplayWindow sequence numbers below it:
//
//   - a sequence above the highest seen is accepted and slides the window;
//   - a sequence inside the window that was not seen is accepted (reordering);
//   - a sequence inside the window that was seen is `duplicate` (QoS 1
//     redelivery: normal, report it quietly and drop the message);
//   - a sequence below the window is `replay`;
//   - a timestamp older than max_age is `expired`, and one more than
//     max_future_skew ahead of the receiver's clock is `not_yet_valid`.
//
// Retained messages are, by MQTT's design, delivered again to every new
// subscriber, possibly long after they were sealed. They skip the window and
// obey their own policy: refused, or accepted up to retained_max_age.
//
// Memory is bounded: at most max_senders senders are tracked, each costing
// kReplayStateBytes (plus hash-map overhead, about 64 bytes). When the table
// is full, senders whose newest message is older than max_age are dropped
// first (any replay of theirs is refused as expired anyway); then the least
// recently seen sender is dropped and the guard raises its watermark to that
// sender's newest timestamp. A sender the guard does not know is accepted only
// with a timestamp above the watermark, so eviction never reopens a replay.
//
// Only authenticated messages may reach check(): the Opener calls it after
// the AEAD tag verified, so a forger cannot fill the table.
//
// Thread safety: all methods may be called concurrently.
#ifndef MQSEAL_REPLAY_GUARD_H_
#define MQSEAL_REPLAY_GUARD_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "mqseal/bytes.h"
#include "mqseal/error.h"

namespace mqseal {

inline constexpr uint64_t kReplayWindow = 1024;  // sequence numbers per sender
inline constexpr size_t kReplayStateBytes = kSenderIdSize + 8 + 8 + kReplayWindow / 8;  // 160

enum class RetainedPolicy : uint8_t {
  accept_within_age = 1,  // accept retained messages up to retained_max_age_ms old
  refuse = 2,             // refuse every retained message (retained_refused)
};

struct ReplayOptions {
  uint64_t max_age_ms = 5 * 60 * 1000;        // 5 minutes
  uint64_t max_future_skew_ms = 60 * 1000;    // tolerated clock skew, 1 minute
  RetainedPolicy retained = RetainedPolicy::accept_within_age;
  uint64_t retained_max_age_ms = 7ull * 24 * 60 * 60 * 1000;  // 7 days
  size_t max_senders = 4096;
  // invalid_argument unless max_age_ms >= 1, max_senders in 1..2^24.
  [[nodiscard]] Status validate() const;
};

struct MessageFacts {
  SenderId sender{};
  uint64_t sequence = 0;
  uint64_t timestamp_ms = 0;
  bool retained = false;
};

class ReplayGuard {
 public:
  // invalid_argument for options that do not validate().
  [[nodiscard]] static Result<ReplayGuard> create(ReplayOptions options = {});

  ReplayGuard(ReplayGuard&&) noexcept;
  ReplayGuard& operator=(ReplayGuard&&) noexcept;
  ~ReplayGuard();

  // Checks one authenticated message against the state at time `now_ms` and,
  // if it is accepted, records it. duplicate, replay, expired, not_yet_valid,
  // retained_refused, or success.
  [[nodiscard]] Status check(const MessageFacts& message, uint64_t now_ms);

  size_t tracked_senders() const;
  uint64_t watermark_ms() const;
  const ReplayOptions& options() const noexcept;

 private:
  struct Impl;
  explicit ReplayGuard(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

// Milliseconds since 1970 UTC from the system clock (on Linux the coarse
// real-time clock: no system call, resolution of a few milliseconds).
uint64_t system_time_ms() noexcept;

}  // namespace mqseal

#endif  // MQSEAL_REPLAY_GUARD_H_
