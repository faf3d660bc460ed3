#include "mqseal/replay_guard.h"

#include <array>
#include <chrono>
#include <ctime>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace mqseal {

namespace {

constexpr size_t kWordBits = 64;
constexpr size_t kWindowWords = kReplayWindow / kWordBits;
constexpr size_t kMaxTrackedSenders = size_t{1} << 24;
static_assert(kReplayWindow % kWordBits == 0, "window is whole words");

// Bit d of the window is set when sequence (top - d) has been accepted.
struct SenderState {
  uint64_t top = 0;
  uint64_t newest_timestamp_ms = 0;  // sender's clock
  uint64_t last_seen_ms = 0;         // receiver's clock, for eviction
  std::array<uint64_t, kWindowWords> window{};

  bool test(uint64_t d) const { return (window[d / kWordBits] >> (d % kWordBits)) & 1u; }
  void set(uint64_t d) { window[d / kWordBits] |= uint64_t{1} << (d % kWordBits); }
  // Moves the window up by `shift` sequence numbers.
  void slide(uint64_t shift) {
    if (shift >= kReplayWindow) {
      window.fill(0);
      return;
    }
    const size_t words = shift / kWordBits;
    const size_t bits = shift % kWordBits;
    for (size_t i = kWindowWords; i-- > 0;) {
      uint64_t v = 0;
      if (i >= words) {
        v = window[i - words] << bits;
        if (bits != 0 && i > words) v |= window[i - words - 1] >> (kWordBits - bits);
      }
      window[i] = v;
    }
  }
};

struct SenderHash {
  size_t operator()(const SenderId& id) const noexcept {
    size_t h;  // the ID is uniformly random: its first bytes are a fine hash
    std::memcpy(&h, id.data(), sizeof h);
    return h;
  }
};

}  // namespace

struct ReplayGuard::Impl {
  ReplayOptions options;
  mutable std::mutex mutex;
  std::unordered_map<SenderId, SenderState, SenderHash> senders;
  uint64_t watermark_ms = 0;
  // The sender of the previous accepted message: a subscription often hears
  // runs from one device. Map nodes are stable, so the pointer stays valid
  // until that sender is erased (which resets it).
  SenderState* last = nullptr;
  SenderId last_id{};

  SenderState* find(const SenderId& id) {
    if (last != nullptr && last_id == id) return last;
    auto it = senders.find(id);
    if (it == senders.end()) return nullptr;
    last = &it->second;
    last_id = id;
    return last;
  }

  // Called with the table full: first drops every sender whose newest message
  // is past max_age (a replay of theirs is refused as expired anyway), then,
  // if that freed nothing, the least recently seen sender, raising the
  // watermark so its old messages stay refused.
  void make_room(uint64_t now_ms) {
    last = nullptr;
    for (auto it = senders.begin(); it != senders.end();) {
      const uint64_t newest = it->second.newest_timestamp_ms;
      if (now_ms > newest && now_ms - newest > options.max_age_ms) it = senders.erase(it);
      else ++it;
    }
    if (senders.size() < options.max_senders) return;
    auto oldest = senders.begin();
    for (auto it = senders.begin(); it != senders.end(); ++it) {
      if (it->second.last_seen_ms < oldest->second.last_seen_ms) oldest = it;
    }
    if (oldest->second.newest_timestamp_ms > watermark_ms) {
      watermark_ms = oldest->second.newest_timestamp_ms;
    }
    senders.erase(oldest);
  }
};

Status ReplayOptions::validate() const {
  if (max_age_ms == 0) return Error(Errc::invalid_argument, "max_age_ms must be at least 1");
  if (max_senders == 0 || max_senders > kMaxTrackedSenders) {
    return Error(Errc::invalid_argument, "max_senders must be 1..16777216");
  }
  if (retained != RetainedPolicy::accept_within_age && retained != RetainedPolicy::refuse) {
    return Error(Errc::invalid_argument, "unknown retained policy");
  }
  return {};
}

Result<ReplayGuard> ReplayGuard::create(ReplayOptions options) {
  if (Status s = options.validate(); !s) return s.error();
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  return ReplayGuard(std::move(impl));
}

ReplayGuard::ReplayGuard(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
ReplayGuard::ReplayGuard(ReplayGuard&&) noexcept = default;
ReplayGuard& ReplayGuard::operator=(ReplayGuard&&) noexcept = default;
ReplayGuard::~ReplayGuard() = default;

Status ReplayGuard::check(const MessageFacts& m, uint64_t now_ms) {
  const ReplayOptions& o = impl_->options;
  if (m.timestamp_ms > now_ms && m.timestamp_ms - now_ms > o.max_future_skew_ms) {
    return Errc::not_yet_valid;
  }
  const uint64_t age = now_ms > m.timestamp_ms ? now_ms - m.timestamp_ms : 0;
  if (m.retained) {
    if (o.retained == RetainedPolicy::refuse) return Errc::retained_refused;
    if (age > o.retained_max_age_ms) return Errc::expired;
    return {};  // retained messages are delivered again by design: no window
  }
  if (age > o.max_age_ms) return Errc::expired;

  std::lock_guard<std::mutex> lock(impl_->mutex);
  SenderState* found = impl_->find(m.sender);
  if (found == nullptr) {
    if (m.timestamp_ms <= impl_->watermark_ms) return Error(Errc::replay, "stale sender");
    if (impl_->senders.size() >= o.max_senders) impl_->make_room(now_ms);
    SenderState state;
    state.top = m.sequence;
    state.set(0);
    state.newest_timestamp_ms = m.timestamp_ms;
    state.last_seen_ms = now_ms;
    impl_->senders.emplace(m.sender, state);
    return {};
  }
  SenderState& state = *found;
  if (m.sequence > state.top) {
    state.slide(m.sequence - state.top);
    state.top = m.sequence;
    state.set(0);
  } else {
    const uint64_t d = state.top - m.sequence;
    if (d >= kReplayWindow) return Error(Errc::replay, "below the replay window");
    if (state.test(d)) return Errc::duplicate;
    state.set(d);
  }
  if (m.timestamp_ms > state.newest_timestamp_ms) state.newest_timestamp_ms = m.timestamp_ms;
  state.last_seen_ms = now_ms;
  return {};
}

size_t ReplayGuard::tracked_senders() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->senders.size();
}

uint64_t ReplayGuard::watermark_ms() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->watermark_ms;
}

const ReplayOptions& ReplayGuard::options() const noexcept { return impl_->options; }

uint64_t system_time_ms() noexcept {
#if defined(CLOCK_REALTIME_COARSE)
  // The coarse clock is read from the vDSO without a system call and costs a
  // third of the precise one; its resolution (a few ms) is far finer than any
  // age limit it is compared with.
  timespec ts{};
  if (clock_gettime(CLOCK_REALTIME_COARSE, &ts) == 0) {
    return static_cast<uint64_t>(ts.tv_sec) * 1000u + static_cast<uint64_t>(ts.tv_nsec) / 1000000u;
  }
#endif
  using namespace std::chrono;
  return static_cast<uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

}  // namespace mqseal
