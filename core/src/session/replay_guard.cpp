#include "mqseal/replay_guard.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>

#include <sodium.h>

#include "base/sodium_util.h"
#include "session/replay_guard_probe.h"

namespace mqseal {

namespace {

constexpr size_t kWordBits = 64;
constexpr size_t kWindowWords = kReplayWindow / kWordBits;
constexpr size_t kMaxTrackedStreams = size_t{1} << 24;
// Key names with replay state: a policy has at most kMaxPolicyRules rules,
// so at most that many key names.
constexpr size_t kMaxPartitions = kMaxPolicyRules;
// Signers with replay state at once: a partition exists only for a signer
// whose signature verified under a key of the keyring, which holds at most
// this many keys. Keyrings swapped in later (set_keyring) bring other
// signers, so at the bound a new signer takes the partition of the signer
// whose latest message is the oldest, once that one's messages are all past max_age
// (Impl::recycle_signer_partition).
constexpr size_t kMaxSignerPartitions = 4096;  // kMaxKeyringKeys (mqseal/keyring.h)
// A signer's partition is keyed by this byte and its name: no key name
// starts with it ([A-Za-z0-9_.-]), so the two kinds never share one.
constexpr char kSignerPartitionTag = '\x01';
static_assert(kReplayWindow % kWordBits == 0, "window is whole words");

// A stream is a (sender, topic) pair. Topics are kept as a hash: two topics
// of one sender whose hashes collide share a window, which can only refuse
// more (a reordered message may look too old), never accept a repeat.
struct StreamKey {
  SenderId sender;
  size_t topic_hash;
  // StreamSipHash of the two, which the tables hash by: set by
  // Partition::find before the key meets a table. Not part of the identity.
  size_t keyed_hash = 0;
  bool operator==(const StreamKey& o) const noexcept {
    return topic_hash == o.topic_hash && sender == o.sender;
  }
};

// Both tables of a partition (its streams, and a recipient name's tombstones)
// hash with SipHash-2-4 under the guard's own random key: a stream is the
// sender ID the sealer chose (suite 1: any key holder; suite 3: an unkeyed
// BLAKE2b of what anyone with the recipient's public key chose) and a topic,
// so an unkeyed hash would let a sealer grind streams into one bucket and
// make every lookup in that partition walk them all.
struct StreamSipHash {
  std::array<uint8_t, crypto_shorthash_siphash24_KEYBYTES> key{};
  size_t operator()(const StreamKey& k) const noexcept {
    uint8_t in[kSenderIdSize + sizeof k.topic_hash];
    std::memcpy(in, k.sender.data(), kSenderIdSize);
    std::memcpy(in + kSenderIdSize, &k.topic_hash, sizeof k.topic_hash);
    uint8_t out[crypto_shorthash_siphash24_BYTES];
    crypto_shorthash_siphash24(out, in, sizeof in, key.data());
    size_t h;
    std::memcpy(&h, out, sizeof h);
    return h;
  }
};

// The tables' hash: the key's SipHash, computed once per message rather than
// at every node a lookup or a rehash passes (std::unordered_map does not
// keep hash codes for a hash it takes to be cheap).
struct ByKeyedHash {
  size_t operator()(const StreamKey& k) const noexcept { return k.keyed_hash; }
};

// The window as a ring of words (RFC 6479): sequence s is bit s % 64 of word
// (s / 64) % kRingWords. A window of kReplayWindow sequences spans at most
// kRingWords words, so no two sequences it holds share a bit, and moving the
// top up clears only the words it passes over instead of shifting them all.
constexpr size_t kRingWords = kWindowWords + 1;

struct StreamState;
// A tracked stream as the table holds it: its node does not move until it
// is erased, so the partition's orders point at it.
using StreamEntry = std::pair<const StreamKey, StreamState>;
// A partition's streams by newest timestamp (the order they expire in), then
// by address. The order reads the entries' newest timestamps, which change
// only in Partition::raise_newest, and only where that keeps the order.
struct ByNewest {
  bool operator()(const StreamEntry* a, const StreamEntry* b) const noexcept;
};
using NewestIndex = std::set<StreamEntry*, ByNewest>;

struct StreamState {
  uint64_t top = 0;
  // The guard's watermark when the stream started: a message at or below it
  // may predate an eviction of this same stream, so it is refused.
  uint64_t floor_ms = 0;
  uint64_t newest_timestamp_ms = 0;  // sender's clock; changed only by Partition::raise_newest
  // The partition's list of streams from the most recently seen (an
  // accepted message recorded on it) to the least, for eviction.
  StreamEntry* newer = nullptr;
  StreamEntry* older = nullptr;
  NewestIndex::iterator by_newest{};  // its place in Partition::by_newest
  std::array<uint64_t, kRingWords> ring{};

  bool holds(uint64_t sequence) const { return sequence <= top && top - sequence < kReplayWindow; }
  // Whether `sequence`, which the window holds, has been accepted.
  bool test(uint64_t sequence) const { return (word(sequence) >> (sequence % kWordBits)) & 1u; }
  void set(uint64_t sequence) { word(sequence) |= uint64_t{1} << (sequence % kWordBits); }
  // A stream brought back from its tombstone: every sequence up to `top` counts
  // as seen (the tombstone kept no window), none above it.
  void mark_seen_through(uint64_t sequence) {
    top = sequence;
    ring.fill(~uint64_t{0});
    const uint64_t bit = sequence % kWordBits;
    if (bit + 1 < kWordBits) word(sequence) &= (uint64_t{1} << (bit + 1)) - 1;
  }
  // Moves the top up to `sequence`, clearing the words of the blocks of 64
  // sequence numbers it enters (all of them after a jump of a whole ring).
  void advance(uint64_t sequence) {
    const uint64_t entered = std::min<uint64_t>(sequence / kWordBits - top / kWordBits, kRingWords);
    for (uint64_t b = 1; b <= entered; ++b) word(top + b * kWordBits) = 0;
    top = sequence;
  }

 private:
  uint64_t& word(uint64_t sequence) { return ring[(sequence / kWordBits) % kRingWords]; }
  const uint64_t& word(uint64_t sequence) const { return ring[(sequence / kWordBits) % kRingWords]; }
};

bool ByNewest::operator()(const StreamEntry* a, const StreamEntry* b) const noexcept {
  if (a->second.newest_timestamp_ms != b->second.newest_timestamp_ms) {
    return a->second.newest_timestamp_ms < b->second.newest_timestamp_ms;
  }
  return std::less<const StreamEntry*>{}(a, b);
}

static_assert(sizeof(StreamKey) + sizeof(StreamState) == kReplayStateBytes, "kReplayStateBytes is a stream's state");

// A stream evicted from a partition that remembers its evicted streams
// (suite 3's): enough to refuse every message it accepted, and no window.
struct Tombstone {
  uint64_t top = 0;
  uint64_t floor_ms = 0;
  uint64_t newest_timestamp_ms = 0;
  std::multimap<uint64_t, StreamKey>::iterator order;  // in Partition::tomb_order
};

// The state of one key name: its streams and its watermark. Nothing in one
// partition reads or moves another's. Every step takes constant time or
// O(log max_streams) (the two ordered trees), whatever the table holds: no
// step scans the streams.
struct Partition {
  std::unordered_map<StreamKey, StreamState, ByKeyedHash> streams;
  uint64_t watermark_ms = 0;
  // The ends of the streams' list in the order they were last seen.
  StreamEntry* most_recent = nullptr;
  StreamEntry* least_recent = nullptr;
  NewestIndex by_newest;
  // Suite 3 (MessageFacts::public_sealers): an evicted stream leaves a
  // tombstone instead of raising the watermark; only a tombstone dropped to
  // make room for another (the lowest bar first) or past max_age raises it.
  bool remembers_evicted = false;
  std::unordered_map<StreamKey, Tombstone, ByKeyedHash> tombs;
  std::multimap<uint64_t, StreamKey> tomb_order;  // bar (newest timestamp or floor, the larger) -> stream
  // The latest timestamp the partition accepted, or the watermark it started
  // with if higher: every bar it holds (the watermark, a stream's floor or
  // newest timestamp, a tombstone's) is at most this, as each is one of
  // those timestamps. A signer's partition that gives way to another
  // (ReplayGuard::Impl::recycle_signer_partition) leaves it behind.
  uint64_t latest_ms = 0;
  // The stream of the previous message: subscriptions often hear runs from
  // one device on one topic. Map nodes are stable, so the pointer stays valid
  // until that stream is erased (drop resets it).
  StreamEntry* last = nullptr;

  StreamSipHash siphash;  // the guard's key

  explicit Partition(const StreamSipHash& hash) : siphash(hash) {}

  // The tracked stream of `key`, or null; sets key.keyed_hash for the
  // tables, unless it is the previous message's stream.
  StreamEntry* find(StreamKey& key) {
    if (last != nullptr && last->first == key) return last;
    key.keyed_hash = siphash(key);
    auto it = streams.find(key);
    if (it == streams.end()) return nullptr;
    last = &*it;
    return last;
  }

  // The list of streams by when they were last seen: constant time.
  void link_most_recent(StreamEntry& e) {
    e.second.newer = nullptr;
    e.second.older = most_recent;
    (most_recent != nullptr ? most_recent->second.newer : least_recent) = &e;
    most_recent = &e;
  }
  void unlink(StreamEntry& e) {
    (e.second.newer != nullptr ? e.second.newer->second.older : most_recent) = e.second.older;
    (e.second.older != nullptr ? e.second.older->second.newer : least_recent) = e.second.newer;
  }
  void make_most_recent(StreamEntry& e) {
    if (most_recent == &e) return;  // a run of messages on one stream
    unlink(e);
    link_most_recent(e);
  }

  // A stream's newest timestamp, and its place in by_newest, move together.
  // Still below the next stream's (a run of messages on the stream with the
  // partition's newest timestamp), its place holds: constant time.
  // Otherwise it moves, mostly to the end: O(log max_streams) at worst.
  void raise_newest(StreamEntry& e, uint64_t timestamp_ms) {
    if (timestamp_ms <= e.second.newest_timestamp_ms) return;
    const auto next = std::next(e.second.by_newest);
    if (next == by_newest.end() || timestamp_ms < (*next)->second.newest_timestamp_ms) {
      e.second.newest_timestamp_ms = timestamp_ms;
      return;
    }
    auto node = by_newest.extract(e.second.by_newest);
    e.second.newest_timestamp_ms = timestamp_ms;  // out of the tree while its key changes
    e.second.by_newest = by_newest.insert(by_newest.end(), std::move(node));
  }

  // Forgets a tracked stream (the caller carries its bar where it belongs).
  void drop(StreamEntry& e) {
    if (last == &e) last = nullptr;
    unlink(e);
    by_newest.erase(e.second.by_newest);
    const StreamKey key = e.first;  // erase() must not read the node it frees
    streams.erase(key);
  }

  // Called with the table full: first drops every stream whose newest message
  // is past max_age (the front of by_newest), then, if that freed nothing,
  // the least recently seen stream (the end of the list). Every drop raises
  // the watermark to the dropped stream's newest timestamp or its floor,
  // whichever is larger, so its messages stay refused even if `now` steps
  // back (a clock step, or two opens that read the clock in one order and
  // lock in the other).
  void make_room(uint64_t now_ms, const ReplayOptions& options) {
    while (!by_newest.empty()) {
      StreamEntry& aged = **by_newest.begin();
      const uint64_t newest = aged.second.newest_timestamp_ms;
      if (now_ms > newest && now_ms - newest > options.max_age_ms) {
        raise_watermark(std::max(newest, aged.second.floor_ms));
        drop(aged);
      } else {
        break;
      }
    }
    if (streams.size() < options.max_streams) return;
    StreamEntry& oldest = *least_recent;
    if (remembers_evicted && options.max_evicted_streams > 0) {
      bury(oldest.first, oldest.second, now_ms, options);
    } else {
      raise_watermark(std::max(oldest.second.newest_timestamp_ms, oldest.second.floor_ms));
    }
    drop(oldest);
  }

  // Remembers an evicted stream. Tombstones whose bar is past max_age go
  // first (their messages are expired), then, the table being full, the one
  // with the lowest bar: each dropped tombstone raises the watermark to its
  // bar, as an evicted stream does in a partition without tombstones.
  void bury(const StreamKey& key, const StreamState& state, uint64_t now_ms, const ReplayOptions& options) {
    while (!tomb_order.empty()) {
      const uint64_t lowest = tomb_order.begin()->first;
      const bool expired = now_ms > lowest && now_ms - lowest > options.max_age_ms;
      if (!expired && tombs.size() < options.max_evicted_streams) break;
      drop_tomb(tombs.find(tomb_order.begin()->second));
    }
    const uint64_t bar = std::max(state.newest_timestamp_ms, state.floor_ms);
    Tombstone t;
    t.top = state.top;
    t.floor_ms = state.floor_ms;
    t.newest_timestamp_ms = state.newest_timestamp_ms;
    t.order = tomb_order.emplace(bar, key);
    tombs.emplace(key, t);
  }

  void drop_tomb(std::unordered_map<StreamKey, Tombstone, ByKeyedHash>::iterator it) {
    raise_watermark(it->second.order->first);
    tomb_order.erase(it->second.order);
    tombs.erase(it);
  }

  // What a tombstone remembers, as a stream that counts every sequence up
  // to its top as seen.
  static StreamState revive(const Tombstone& t) {
    StreamState state;
    state.mark_seen_through(t.top);
    state.floor_ms = t.floor_ms;
    state.newest_timestamp_ms = t.newest_timestamp_ms;
    return state;
  }

  void raise_watermark(uint64_t timestamp_ms) {
    if (timestamp_ms > watermark_ms) watermark_ms = timestamp_ms;
  }

  // Records an accepted message in a stream's window.
  static void accept(StreamState& state, const MessageFacts& m) {
    if (m.sequence > state.top) state.advance(m.sequence);
    state.set(m.sequence);
  }

  // Records an accepted message on a tracked stream it extends or fills in.
  void record(StreamEntry& e, const MessageFacts& m) {
    accept(e.second, m);
    raise_newest(e, m.timestamp_ms);
    make_most_recent(e);
  }

  // Tracks a stream (new, or back from its tombstone) with its first
  // accepted message; the table has room.
  void track(const StreamKey& key, StreamState state, const MessageFacts& m) {
    accept(state, m);
    if (m.timestamp_ms > state.newest_timestamp_ms) state.newest_timestamp_ms = m.timestamp_ms;
    StreamEntry& e = *streams.emplace(key, state).first;
    e.second.by_newest = by_newest.insert(by_newest.end(), &e);
    link_most_recent(e);
  }

  // The window rules of docs/SPEC.md section 6, step 4.
  Status check_window(StreamKey& key, const MessageFacts& m, uint64_t now_ms,
                      const ReplayOptions& options) {
    if (StreamEntry* e = find(key); e != nullptr) {
      if (Status s = check_tracked(e->second, m); !s) return s;
      record(*e, m);
      return {};
    }
    StreamState fresh;
    auto tomb = tombs.empty() ? tombs.end() : tombs.find(key);
    if (tomb != tombs.end()) {
      // Judged as the stream it was; tracked again only if the message is
      // accepted (a refused one changes nothing).
      fresh = revive(tomb->second);
      if (Status s = check_tracked(fresh, m); !s) return s;
      tomb_order.erase(tomb->second.order);
      tombs.erase(tomb);
    } else {
      if (m.timestamp_ms <= watermark_ms) return Error(Errc::replay, "stale stream");
      // The floor is the watermark this message was checked against: every
      // earlier incarnation of this stream was dropped by then.
      fresh.floor_ms = watermark_ms;
      fresh.top = m.sequence;
    }
    if (streams.size() >= options.max_streams) make_room(now_ms, options);
    track(key, fresh, m);
    return {};
  }

  // The rules for a tracked stream, changing nothing.
  static Status check_tracked(const StreamState& state, const MessageFacts& m) {
    if (m.timestamp_ms <= state.floor_ms) return Error(Errc::replay, "stale stream");
    if (m.sequence <= state.top) {
      if (!state.holds(m.sequence)) return Error(Errc::replay, "below the replay window");
      if (state.test(m.sequence)) return Errc::duplicate;  // live: seen already
    }
    return {};
  }

  // A retained message older than max_age: its live copy would be expired, so
  // it only has to be checked against what the window holds. Accepted without
  // a window, it still raises the bar for its stream (the watermark, or the
  // stream's floor) to its timestamp: harmless while the clock moves forward,
  // as that timestamp is past max_age, and it keeps the message from being
  // accepted again live if the receiver's clock steps back.
  Status check_old_retained(StreamKey& key, const MessageFacts& m) {
    StreamEntry* e = find(key);
    if (e == nullptr) {
      auto tomb = tombs.empty() ? tombs.end() : tombs.find(key);
      if (tomb == tombs.end()) {
        raise_watermark(m.timestamp_ms);
        return {};
      }
      // An evicted stream is revived from its tombstone whatever the
      // watermark, so the bar goes into the tombstone, as into a tracked
      // stream below: its floor above its top, its newest timestamp at or below.
      Tombstone& t = tomb->second;
      if (m.sequence > t.top) {
        t.floor_ms = std::max(t.floor_ms, m.timestamp_ms);
      } else {
        t.newest_timestamp_ms = std::max(t.newest_timestamp_ms, m.timestamp_ms);
      }
      const uint64_t bar = std::max(t.newest_timestamp_ms, t.floor_ms);
      if (bar > t.order->first) {
        tomb_order.erase(t.order);
        t.order = tomb_order.emplace(bar, key);
      }
      return {};
    }
    StreamState* state = &e->second;
    if (m.sequence > state->top) {
      if (m.timestamp_ms > state->floor_ms) state->floor_ms = m.timestamp_ms;
      return {};
    }
    if (state->holds(m.sequence)) {
      if (state->test(m.sequence)) return Errc::duplicate;  // retained: seen already
      state->set(m.sequence);
    }
    // At or below top: the stream's newest timestamp, carried into the
    // watermark if the stream is dropped later, keeps the message refused as
    // a young one after an eviction and a clock step back, even when its
    // timestamp is above the stream's others (an insider can seal timestamps
    // that do not grow with the sequence).
    raise_newest(*e, m.timestamp_ms);
    return {};
  }
};

}  // namespace

struct ReplayGuard::Impl {
  ReplayOptions options;
  mutable std::mutex mutex;
  // key name (or kSignerPartitionTag and signer name) -> its partition. Map
  // nodes are stable: `last` stays valid.
  std::unordered_map<std::string, Partition> partitions;
  size_t key_partitions = 0;
  size_t signer_partitions = 0;
  Partition* last = nullptr;  // the previous message's partition
  std::string last_name;      // its key name or signer name
  bool last_by_signer = false;
  StreamSipHash stream_hash;  // its random key, for every partition's streams and tombstones
  std::string last_topic;  // the previous message's topic, and its hash
  size_t last_topic_hash = std::hash<std::string_view>{}(last_topic);

  // std::hash of a topic; a run of messages on one topic hashes it once.
  size_t topic_hash(std::string_view topic) {
    if (topic != last_topic) {
      last_topic.assign(topic.data(), topic.size());
      last_topic_hash = std::hash<std::string_view>{}(topic);
    }
    return last_topic_hash;
  }

  // The watermark every signer partition made from now on starts with: the
  // highest latest_ms of the signer partitions recycled so far.
  uint64_t recycled_signer_bar_ms = 0;

  // With kMaxSignerPartitions signer partitions: forgets the one whose
  // latest_ms is the lowest, if that is more than max_age before now (its
  // messages are all expired), and carries its latest_ms into
  // recycled_signer_bar_ms, so that no message it accepted is accepted again
  // as live in a partition made later (its own signer's included), even if
  // the receiver's clock steps back. A bar more than max_age old refuses no
  // message young enough to be accepted. False, changing nothing, when every
  // signer partition accepted a message within max_age. O(partitions): only
  // a signer new to the guard (its signature verified) at the bound pays it.
  bool recycle_signer_partition(uint64_t now_ms) {
    auto oldest = partitions.end();
    for (auto it = partitions.begin(); it != partitions.end(); ++it) {
      if (it->first.empty() || it->first.front() != kSignerPartitionTag) continue;
      if (oldest == partitions.end() || it->second.latest_ms < oldest->second.latest_ms) oldest = it;
    }
    if (oldest == partitions.end()) return false;
    const uint64_t latest = oldest->second.latest_ms;
    if (now_ms <= latest || now_ms - latest <= options.max_age_ms) return false;
    recycled_signer_bar_ms = std::max(recycled_signer_bar_ms, latest);
    if (last == &oldest->second) last = nullptr;
    partitions.erase(oldest);
    --signer_partitions;
    return true;
  }

  // The partition of a key name, or of a signer (`signer` set), made on
  // first use; null when kMaxPartitions key names have one already, or when
  // kMaxSignerPartitions signers do and none of them can give way
  // (recycle_signer_partition).
  Partition* partition(std::string_view key_name, std::string_view signer, bool public_sealers, uint64_t now_ms) {
    const bool by_signer = !signer.empty();
    const std::string_view id = by_signer ? signer : key_name;
    if (last != nullptr && last_by_signer == by_signer && last_name == id) return last;
    std::string name = by_signer ? std::string(1, kSignerPartitionTag) : std::string();
    name += id;
    auto it = partitions.find(name);
    if (it == partitions.end()) {
      size_t& count = by_signer ? signer_partitions : key_partitions;
      if (count >= (by_signer ? kMaxSignerPartitions : kMaxPartitions) &&
          !(by_signer && recycle_signer_partition(now_ms))) {
        return nullptr;
      }
      it = partitions.emplace(std::piecewise_construct, std::forward_as_tuple(name), std::forward_as_tuple(stream_hash)).first;
      it->second.remembers_evicted = public_sealers;
      if (by_signer) {
        it->second.watermark_ms = recycled_signer_bar_ms;
        it->second.latest_ms = recycled_signer_bar_ms;
      }
      ++count;
    }
    last = &it->second;
    last_name.assign(id.data(), id.size());
    last_by_signer = by_signer;
    return last;
  }
};

Status ReplayOptions::validate() const {
  if (max_age_ms == 0) return Error(Errc::invalid_argument, "max_age_ms must be at least 1");
  if (max_streams == 0 || max_streams > kMaxTrackedStreams) {
    return Error(Errc::invalid_argument, "max_streams must be 1..16777216");
  }
  if (max_evicted_streams > kMaxTrackedStreams) {
    return Error(Errc::invalid_argument, "max_evicted_streams must be 0..16777216");
  }
  if (retained != RetainedPolicy::accept_within_age && retained != RetainedPolicy::refuse) {
    return Error(Errc::invalid_argument, "unknown retained policy");
  }
  return {};
}

Result<ReplayGuard> ReplayGuard::create(ReplayOptions options) {
  if (Status s = options.validate(); !s) return s.error();
  if (Status s = internal::ensure_sodium(); !s) return s.error();
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  randombytes_buf(impl->stream_hash.key.data(), impl->stream_hash.key.size());
  return ReplayGuard(std::move(impl));
}

ReplayGuard::ReplayGuard(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
ReplayGuard::ReplayGuard(ReplayGuard&&) noexcept = default;
ReplayGuard& ReplayGuard::operator=(ReplayGuard&&) noexcept = default;
ReplayGuard::~ReplayGuard() = default;

Status ReplayGuard::check_age(const MessageFacts& m, uint64_t now_ms) const {
  const ReplayOptions& o = impl_->options;
  // Unsigned arithmetic that cannot wrap: a timestamp ahead of the receiver
  // (within the skew) has age 0.
  if (m.timestamp_ms > now_ms && m.timestamp_ms - now_ms > o.max_future_skew_ms) {
    return Errc::not_yet_valid;
  }
  const uint64_t age = now_ms > m.timestamp_ms ? now_ms - m.timestamp_ms : 0;
  if (m.retained) {
    const RetainedPolicy policy = m.retained_rule != nullptr ? m.retained_rule->policy : o.retained;
    const uint64_t max_age = m.retained_rule != nullptr ? m.retained_rule->max_age_ms : o.retained_max_age_ms;
    if (policy == RetainedPolicy::refuse) return Errc::retained_refused;
    if (age > max_age) return Errc::expired;
  } else if (age > o.max_age_ms) {
    return Errc::expired;
  }
  return {};
}

Status ReplayGuard::check(const MessageFacts& m, uint64_t now_ms) {
  if (Status s = check_age(m, now_ms); !s) return s;
  const ReplayOptions& o = impl_->options;
  const uint64_t age = now_ms > m.timestamp_ms ? now_ms - m.timestamp_ms : 0;
  std::lock_guard<std::mutex> lock(impl_->mutex);
  StreamKey key{m.sender, impl_->topic_hash(m.topic)};
  Partition* p = impl_->partition(m.key_name, m.signer, m.public_sealers, now_ms);
  if (p == nullptr) {
    return Error(Errc::capacity_exceeded,
                 m.signer.empty() ? "too many key names" : "too many signers with a message within max_age");
  }
  // A young retained message could be a copy of a live one: it is judged as one.
  Status s = m.retained && age > o.max_age_ms ? p->check_old_retained(key, m) : p->check_window(key, m, now_ms, o);
  if (s && m.timestamp_ms > p->latest_ms) p->latest_ms = m.timestamp_ms;
  return s;
}

size_t ReplayGuard::tracked_streams() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  size_t total = 0;
  for (const auto& [name, p] : impl_->partitions) total += p.streams.size();
  return total;
}

uint64_t ReplayGuard::watermark_ms(std::string_view key_name) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  auto it = impl_->partitions.find(std::string(key_name));
  return it == impl_->partitions.end() ? 0 : it->second.watermark_ms;
}

uint64_t ReplayGuard::signer_watermark_ms(std::string_view signer) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  auto it = impl_->partitions.find(std::string(1, kSignerPartitionTag) + std::string(signer));
  return it == impl_->partitions.end() ? 0 : it->second.watermark_ms;
}

const ReplayOptions& ReplayGuard::options() const noexcept { return impl_->options; }

size_t internal::ReplayGuardProbe::largest_stream_bucket(const ReplayGuard& guard, std::string_view key_name) {
  std::lock_guard<std::mutex> lock(guard.impl_->mutex);
  auto it = guard.impl_->partitions.find(std::string(key_name));
  if (it == guard.impl_->partitions.end()) return 0;
  const auto& streams = it->second.streams;
  size_t largest = 0;
  for (size_t b = 0; b < streams.bucket_count(); ++b) largest = std::max(largest, streams.bucket_size(b));
  return largest;
}

}  // namespace mqseal
