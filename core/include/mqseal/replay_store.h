// mqseal/replay_store.h: where "single use" is remembered.
//
// A replay store answers one question, atomically per claim: "claim this
// (namespace, partition, id) until keep_until_s: is this its first use?"
//
//   first_use  nobody claimed it before (and it is now remembered, durably
//              if the store is durable, before the answer is given);
//   seen       it was claimed before and is still remembered: refuse it;
//   an Error   the store cannot answer (fail closed: the caller refuses).
//
// The token verifier (mqseal/credentials.h) claims ("token", username,
// token nonce) for every token that passed all its other checks; the
// namespace keeps other kinds of claims (a consumer group's message claims,
// "message:<group>")
// apart from tokens in a store they share.
//
// Implementations:
//   memory_replay_store()    one process's memory; what the verifier uses by
//                            default. Single use for the process's lifetime:
//                            a restart forgets every claim.
//   open_file_replay_store() a local file that survives restarts of the one
//                            process that holds it (an exclusive lock: a
//                            second process opening it is refused). Single
//                            use across restarts of one broker, not across
//                            brokers. Format: docs/SPEC.md section 11,
//                            "Replay store file".
//   open_redis_replay_store() a Redis server shared by several brokers:
//                            single use across all of them and their
//                            restarts, as long as Redis keeps its data (see
//                            docs/SECURITY.md on failover). Key layout and
//                            script: docs/SPEC.md section 11, "Replay store
//                            in Redis".
//
// Bounds, the same rules for every implementation (what happens when one is
// reached is in each):
//   - a partition (a user) holds at most claim.max_per_partition live claims;
//     when its own fill it, its next claim is refused (capacity_exceeded)
//     until one of them is past keep_until_s. Nothing one partition does
//     changes another's answers, except through capacity() below;
//   - the store holds at most capacity() live claims of each kind (the
//     claim's name_space: "token", each "message:<group>") over all
//     partitions; past that, every new claim of that kind is refused
//     (capacity_exceeded), and no other kind's. The token verifier refuses
//     to start with a store smaller than (users) x max_tokens_per_user, an
//     Opener with one smaller than (key names and signers) x its quota, so
//     that no user or key holder can fill it for the others, even in a
//     store that logins and consumer groups share. Each counts only its
//     own: callers of one kind with different users or partitions sharing
//     a store (two verifiers on one file store, brokers with different
//     credentials on one Redis namespace, members of a group with different
//     policies) must size it for all of theirs together, or one caller's
//     users fill the room of another's (capacity_exceeded);
//   - a claim is forgotten only once a claim on its partition is made with
//     now > keep_until_s (a file store also drops such claims when it is
//     opened, by the system clock; a Redis store's claim key also expires
//     keep_until_s - now_s + 1 + max_clock_difference_s seconds after the
//     claim, timed by the Redis server from the claim, never by its own
//     clock's date; a Redis clock stepped forward meanwhile shortens it by
//     the step; a file store whose kind is full forgets, at a claim's now,
//     every partition's claims past keep_until_s). A memory or file store
//     refuses (expired) a claim made at an earlier now, and accepted
//     (accepted_until_s, or keep_until_s) only until before, the latest now
//     that forgot a claim of its partition: it may be one of them, still
//     live by that earlier now (what a verifier made again on the store, a
//     broker's reload, or another caller with a clock of its own would
//     otherwise take as first_use). A forgotten
//     claim would be first_use again: callers refuse claims whose keep_until_s is below the latest
//     now they have judged at (the token verifier refuses such a token as
//     expired), so a clock stepping back brings nothing back to the memory
//     and file stores. A Redis store's claim key is timed by elapsed time:
//     a caller's clock stepped back by more than max_clock_difference_s + 1
//     s after a claim still judges it live when Redis has forgotten it (as
//     a caller whose clock is behind the claimant's by that much would), so
//     replays of claims made before the step are first_use again in a window
//     of (step - max_clock_difference_s - 1) s at the end of each.
//
// The Redis store fits this interface unchanged: claim() is one atomic
// server-side operation (a Lua script: the per-partition quota and the
// store's capacity are checked and `SET <claim key> 1 NX PX <ttl>` written in
// the same script, so that the check and the write cannot be split), keys are
// prefixed with a deployment namespace given when the store is opened, every
// call has a bounded timeout, and an unreachable or misbehaving server is an
// Error (fail closed), never first_use.
//
// Thread safety: every implementation may be called from any thread; a
// claim is atomic against every other claim on the same store (the Redis
// store: against every claim of every store on the same server and
// deployment namespace).
#ifndef MQSEAL_REPLAY_STORE_H_
#define MQSEAL_REPLAY_STORE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "mqseal/error.h"

namespace mqseal {

inline constexpr size_t kReplayIdSize = 16;               // a token's nonce
inline constexpr size_t kMaxReplayNamespaceSize = 64;     // bytes
inline constexpr size_t kMaxReplayPartitionSize = 65535;  // bytes: an MQTT username
using ReplayId = std::array<uint8_t, kReplayIdSize>;

struct ReplayClaim {
  std::string_view name_space;  // 1..kMaxReplayNamespaceSize bytes: the kind of claim ("token")
  std::string_view partition;   // 0..kMaxReplayPartitionSize bytes: whose (a username)
  ReplayId id;                  // what is claimed (a token's nonce)
  uint64_t keep_until_s = 0;    // remembered while now <= keep_until_s (a token: expiry + skew, at least 60 s from now, saturated)
  uint64_t now_s = 0;           // the caller's clock
  size_t max_per_partition = 0; // this partition's quota of live claims, >= 1
  // The latest now at which the caller would accept what is claimed (a
  // token: expiry + skew), if earlier than keep_until_s; 0: keep_until_s.
  // A memory or file store refuses (expired) a claim made at an earlier now,
  // and accepted only until an earlier time, than a now at which it forgot
  // claims of its partition (above).
  uint64_t accepted_until_s = 0;
};

enum class ClaimOutcome : uint8_t { first_use, seen };

class ReplayStore {
 public:
  virtual ~ReplayStore() = default;
  // first_use or seen, as above; invalid_argument for a claim out of range;
  // capacity_exceeded when a bound is reached; expired (memory and file
  // stores) for a claim made at an earlier now, and accepted only until
  // before, a now that forgot claims of its partition, as above; io_error when the store
  // cannot remember the claim (a full disk, a failed write or sync): the
  // claim is then not remembered, and the caller refuses it.
  [[nodiscard]] virtual Result<ClaimOutcome> claim(const ReplayClaim& claim) = 0;
  // The most live claims it holds of each kind (name_space), over all
  // partitions.
  virtual size_t capacity() const noexcept = 0;
  // Claims remembered now (some may be past keep_until_s until their
  // partition's next claim forgets them).
  virtual size_t remembered() const = 0;
};

// One process's memory. No bound but the callers' quotas (capacity() is
// SIZE_MAX): about 100 bytes per remembered claim. crypto_failure if
// libsodium cannot start.
[[nodiscard]] Result<std::shared_ptr<ReplayStore>> memory_replay_store();

// The largest capacity a file store accepts: 2^26 (64 Mi) claims of each
// kind, a file of at most 2 x 72 bytes x 2^26 = 9 GiB per kind of claim it
// serves (docs/SPEC.md).
inline constexpr size_t kMaxFileReplayCapacity = size_t{1} << 26;

struct FileReplayStoreOptions {
  // Live claims held at most of each kind (ReplayClaim::name_space: tokens,
  // each consumer group's messages), 1..kMaxFileReplayCapacity (the
  // mosquitto plugin uses users x max_tokens_per_user). When a kind's are
  // all live, its every new claim is refused (capacity_exceeded); other
  // kinds' are not. The file holds at most twice as many records as the
  // larger of the capacity and the live claims of all kinds: before it would
  // grow past that, it is compacted (rewritten with only the live claims,
  // atomically). The file does not record kinds: claims read back when it
  // is opened count for their kind once their partition is claimed again.
  size_t capacity = 0;
};

// Opens the store file at `path`, creating it (mode 0600) if there is none,
// and takes an exclusive lock on it for the store's lifetime. Every claim
// answered first_use was written and fsynced first. On opening, claims past
// keep_until_s (by the system clock) are dropped and the file rewritten;
// so is part of a record after the last whole one (an append a crash cut
// short: its claim was never answered).
// Refused, with the path and the reason in the error:
//   io_error              cannot open, lock (another process holds it), read
//                         or write it; not a regular file;
//   insecure_permissions  owned by another user than the effective one, or
//                         group or others have any access (chmod 600 it);
//                         or its directory is owned by neither the
//                         effective user nor root, or group or others may
//                         write it (sticky or not: /tmp is refused), since
//                         whoever can write the directory can delete or
//                         replace the file and so reset what it remembers:
//                         keep the store in a directory of its own (0700).
//                         Checked before anything is made in it;
//   parse_error           not a replay store file (foreign), shorter than
//                         its header without holding its start (a file
//                         that does, or an empty one, is a creation a crash
//                         cut short: started again as new), or a record
//                         whose checksum does not match (corrupt): nothing
//                         in it is trusted, and nothing is overwritten: move it
//                         away only once every token it could hold has
//                         expired (max lifetime + skew), or replays of those
//                         tokens are accepted once;
//   invalid_argument      a capacity out of range.
// More live claims of a kind in the file than `capacity` (a smaller capacity
// than the last run's) are kept; new claims of that kind are refused until
// enough expire.
[[nodiscard]] Result<std::shared_ptr<ReplayStore>> open_file_replay_store(const std::string& path,
                                                                          FileReplayStoreOptions options);

// ---- Redis ----

inline constexpr size_t kMaxRedisNamespaceSize = 64;         // bytes of [A-Za-z0-9._-]
inline constexpr uint32_t kDefaultRedisTimeoutMs = 250;      // connect, and each command
inline constexpr uint32_t kMaxRedisTimeoutMs = 10'000;       // either timeout, at most
inline constexpr uint32_t kDefaultRedisRetryIntervalMs = 1'000;
inline constexpr uint32_t kMaxRedisRetryIntervalMs = 60'000;
inline constexpr size_t kMaxRedisReplayCapacity = size_t{1} << 32;  // live claims
// keep_until_s - now_s of one claim, at most (366 days): a claim to be kept
// longer is refused (invalid_argument), never kept for less.
inline constexpr uint64_t kMaxRedisClaimLifetimeS = uint64_t{366} * 24 * 3600;
// How far apart the clocks of the processes sharing one Redis store may be
// (RedisReplayStoreOptions::max_clock_difference_s): by default as far as
// the token verifier lets a device's clock be from the broker's.
inline constexpr uint32_t kDefaultRedisClockDifferenceS = 30;
inline constexpr uint32_t kMaxRedisClockDifferenceS = 3600;

struct RedisReplayStoreOptions {
  // The deployment namespace: the first part of every key (docs/SPEC.md), so
  // that several deployments share one Redis without sharing claims. 1 to
  // kMaxRedisNamespaceSize characters of A-Z a-z 0-9 . _ -
  std::string key_namespace = "mqseal";
  // Live claims held at most of each kind (claim.name_space: "token",
  // "message:<group>"...) over all partitions and every store on this server and
  // namespace, 1..kMaxRedisReplayCapacity (the mosquitto plugin uses users x
  // max_tokens_per_user). Each kind has its own capacity set in Redis
  // (<namespace>:claims:<kind>): message claims never fill the token
  // verifier's. When a kind's claims are all live, its every new claim is
  // refused (capacity_exceeded); stores sharing a namespace and a kind should
  // be given the same capacity (each compares the shared count with its own).
  size_t capacity = 0;
  // 1..kMaxRedisTimeoutMs each. A claim returns within connect_timeout_ms +
  // command_timeout_ms, answered or refused (a command's timeout bounds the
  // whole command, however slowly its answer arrives, not each read) (a host name was resolved when
  // the store was opened: a reconnect never waits for a resolver).
  uint32_t connect_timeout_ms = kDefaultRedisTimeoutMs;
  uint32_t command_timeout_ms = kDefaultRedisTimeoutMs;
  // After a failure that dropped the connection (unreachable, a timeout, a
  // reply out of protocol), claims within this many milliseconds are
  // refused at once (io_error) without trying; the first claim after it
  // connects again. 0..kMaxRedisRetryIntervalMs; 0: every claim tries.
  // Keeps a broker's one thread from waiting a timeout per login while
  // Redis is down.
  uint32_t retry_interval_ms = kDefaultRedisRetryIntervalMs;
  // The most the clocks of the processes sharing this namespace (brokers,
  // Openers) may differ, 0..kMaxRedisClockDifferenceS seconds. A claim's
  // key is timed by Redis from the claim, for as long as the CLAIMANT's
  // clock says (keep_until_s - now_s + 1 s), plus this: a process whose
  // clock is behind the claimant's by up to this still judges the token or
  // message valid only while the claim lives, so it answers seen. Clocks
  // further apart reopen a window of (difference - this - 1) seconds at the
  // end of each claim in which a captured token or message is first_use
  // again at the process that is behind. The quotas and the capacity are
  // counted by each claimant's own clock, as before: a claim key may
  // outlive its place in them by this long, so Redis may hold more keys
  // than `capacity` (docs/SPEC.md section 11: size its maxmemory for them;
  // at it Redis answers OOM, and claims are refused).
  uint32_t max_clock_difference_s = kDefaultRedisClockDifferenceS;
};

// Connects to the Redis server at `url`:
//   redis://[[user]:password@]host[:port][/db]
// host an IPv4 address, an IPv6 address in brackets, or a DNS name, resolved
// ONCE, here (blocking as long as the system's resolver takes: at startup),
// to its addresses; the first that answers (tried in the resolver's order)
// is the one every later connection dials (messages name
// it: "Redis host:port/db at address"); a name that moves to another
// address needs the store opened again (a broker restarted); port 1..65535 (default 6379); db 0..65535 (default
// 0); the password is sent with AUTH (with the user: Redis 6 ACLs), 1 to 512
// printable ASCII characters without blanks, no percent-decoding: user and
// password end at the URL's LAST '@', so the password may hold '/', '@', '?',
// '#' (and ':'). No TLS
// (rediss:// is refused: put Redis behind a TLS tunnel on loopback), no
// Redis Cluster (the script's keys are in different slots).
// Refused, with the part named (never the password's characters: no text
// before the last '@' is quoted in any message):
//   invalid_argument  a bad URL part or option; a core built without Redis
//                     (MQSEAL_WITH_REDIS=OFF) refuses every URL so;
//   io_error          a host name that does not resolve; Redis
//                     unreachable, slow past a timeout, refusing AUTH
//                     or SELECT, or configured to evict keys
//                     (maxmemory-policy other than noeviction: an evicted
//                     claim would be first_use again).
// Then every claim is one round trip (EVALSHA; EVAL when the server lost
// the script). Every failure is an Error, never first_use: io_error for the
// server's (unreachable, a timeout, an error reply such as WRONGTYPE at a
// claim key, a reply of an unexpected shape), capacity_exceeded for the
// bounds, invalid_argument for a claim to be kept past
// kMaxRedisClaimLifetimeS. After a failure the connection is dropped and a
// later claim connects again (retry_interval_ms above; at once after an
// error reply, such as READONLY from a primary demoted by a failover), so
// claims work again when Redis does, without reopening. One connection, under a mutex:
// concurrent claims wait for each other, each at most the bound above.
// remembered() asks Redis (every store's live claims of every kind in this
// namespace; 0 if Redis cannot answer).
[[nodiscard]] Result<std::shared_ptr<ReplayStore>> open_redis_replay_store(std::string_view url,
                                                                           RedisReplayStoreOptions options);

}  // namespace mqseal

#endif  // MQSEAL_REPLAY_STORE_H_
