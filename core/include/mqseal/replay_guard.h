// mqseal/replay_guard.h: duplicate, replay and age checks on the receiving side.
//
// Every envelope names its sender (a random ID drawn once per sealing
// session, so a rebooted device is simply a new sender), a sequence number
// that grows by one per message the session seals, and the sender's
// timestamp. MQTT keeps messages in order per topic only, so the guard keeps
// one window per stream, a stream being a (sender, topic) pair: the highest
// sequence seen on it and a bitmap of the kReplayWindow sequence numbers
// below that.
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
// subscriber, possibly long after they were sealed, so they obey their own
// policy: refused, or accepted up to retained_max_age. The retain flag is not
// authenticated, so one young enough to be accepted as a live message is
// checked exactly as a live one; an older one (its live copy would be
// expired) is a `duplicate` if the window holds it and has seen it, and is
// otherwise accepted: see docs/SECURITY.md for what that leaves open.
//
// Memory is bounded: at most max_streams streams are tracked, each costing
// kReplayStateBytes (plus hash-map overhead, about 64 bytes). When the table
// is full, streams whose newest message is older than max_age are dropped
// first (any replay of theirs is refused as expired anyway); then the least
// recently seen stream is dropped and the guard raises its watermark to that
// stream's newest timestamp. A stream the guard does not know is accepted
// only with a timestamp above the watermark, and a stream remembers the
// watermark it started under and refuses anything at or below it, so eviction
// never reopens a replay.
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
#include <string_view>

#include "mqseal/bytes.h"
#include "mqseal/error.h"

namespace mqseal {

inline constexpr uint64_t kReplayWindow = 1024;  // sequence numbers per stream
// Per stream: sender ID, topic hash, top sequence, floor, newest timestamp,
// last seen time, window.
inline constexpr size_t kReplayStateBytes = kSenderIdSize + 8 + 8 + 8 + 8 + 8 + kReplayWindow / 8;  // 184

enum class RetainedPolicy : uint8_t {
  accept_within_age = 1,  // accept retained messages up to retained_max_age_ms old
  refuse = 2,             // refuse every retained message (retained_refused)
};

struct ReplayOptions {
  uint64_t max_age_ms = 5 * 60 * 1000;        // 5 minutes
  uint64_t max_future_skew_ms = 60 * 1000;    // tolerated clock skew, 1 minute
  RetainedPolicy retained = RetainedPolicy::accept_within_age;
  uint64_t retained_max_age_ms = 7ull * 24 * 60 * 60 * 1000;  // 7 days
  size_t max_streams = 4096;  // (sender, topic) pairs tracked at once
  // invalid_argument unless max_age_ms >= 1, max_streams in 1..2^24.
  [[nodiscard]] Status validate() const;
};

struct MessageFacts {
  std::string_view topic;  // the topic the message arrived on
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

  size_t tracked_streams() const;
  uint64_t watermark_ms() const;
  const ReplayOptions& options() const noexcept;

 private:
  friend class Opener;  // passes the topic hash its topic cache already holds
  [[nodiscard]] Status check(const MessageFacts& message, size_t topic_hash, uint64_t now_ms);
  struct Impl;
  explicit ReplayGuard(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

// Milliseconds since 1970 UTC from the system clock (on Linux the coarse
// real-time clock: no system call, resolution of a few milliseconds).
uint64_t system_time_ms() noexcept;

}  // namespace mqseal

#endif  // MQSEAL_REPLAY_GUARD_H_
