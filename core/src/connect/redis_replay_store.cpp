// The Redis replay store (mqseal/replay_store.h; key layout and script:
// docs/SPEC.md section 11, "Replay store in Redis"). The only file that
// includes hiredis (a private dependency: MQSEAL_WITH_REDIS).
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/hex.h"
#include "base/secret.h"
#include "connect/replay_store_internal.h"
#include "mqseal/replay_store.h"

namespace mqseal {

namespace {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

constexpr std::string_view kScheme = "redis://";
constexpr std::string_view kTlsScheme = "rediss://";
constexpr uint32_t kDefaultPort = 6379;
constexpr uint32_t kMaxPort = 65535;
constexpr uint32_t kMaxDatabase = 65535;
constexpr size_t kMaxUserSize = 64;
constexpr size_t kMaxPasswordSize = 512;
constexpr size_t kMaxHostNameSize = 253;
constexpr size_t kMaxLabelSize = 63;
constexpr uint64_t kMsPerS = 1000;
constexpr long kUsPerMs = 1000;
constexpr long kMsPerSLong = 1000;
constexpr size_t kScriptShaSize = 40;  // SCRIPT LOAD's answer: SHA-1 in hex
constexpr std::string_view kNoEviction = "noeviction";
constexpr std::string_view kPolicyField = "maxmemory_policy:";

// The claim, one atomic script (docs/SPEC.md section 11 states it
// normatively). KEYS: the claim key, the partition's quota set, the set of
// every claim of this kind (the claim's name_space) in the namespace, the
// namespace's set of kinds. ARGV: ttl in ms (from the caller's clock:
// keep_until - now + 1 s, plus max_clock_difference_s), the caller's now_s,
// keep_until_s, the partition's quota, the capacity, the member naming
// this claim in both sets, the kind.
// Answers 0 first_use, 1 seen, 2 partition full, 3 store full; an error
// reply for a claim key of another type than string.
constexpr std::string_view kClaimScript = R"lua(
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'string' then return 1 end
if kind ~= 'none' then return redis.error_reply('WRONGTYPE mqseal claim key holds a ' .. kind) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[2])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return 2 end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[2])
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[5]) then return 3 end
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 1 end
local ttl = tonumber(ARGV[1])
for i = 2, 3 do
  redis.call('ZADD', KEYS[i], ARGV[3], ARGV[6])
  if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
end
redis.call('SADD', KEYS[4], ARGV[7])
return 0
)lua";

enum ScriptAnswer : long long { kFirstUse = 0, kSeen = 1, kPartitionFull = 2, kStoreFull = 3 };

Error bad_url(const std::string& part, const std::string& why) {
  return Error(Errc::invalid_argument, "redis URL: " + part + ": " + why);
}

// Decimal digits only, at most `max`.
bool parse_number(std::string_view text, uint32_t max, uint32_t& out) {
  if (text.empty() || text.size() > 10) return false;
  uint64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n > max) return false;
  out = static_cast<uint32_t>(n);
  return true;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

// An LDH host name: labels of 1..63 letters, digits and hyphens, not
// starting or ending with a hyphen, the last one not all digits (that is a
// bad IPv4 address), 253 characters at most.
bool is_host_name(std::string_view host) {
  if (host.empty() || host.size() > kMaxHostNameSize) return false;
  std::string_view last;
  for (std::string_view rest = host;;) {
    const size_t dot = rest.find('.');
    const std::string_view label = rest.substr(0, dot);
    if (label.empty() || label.size() > kMaxLabelSize || label.front() == '-' || label.back() == '-' ||
        !std::all_of(label.begin(), label.end(), is_name_char)) {
      return false;
    }
    last = label;
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  return !std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_namespace_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

struct Endpoint {
  std::string host;     // as the URL names it (an IPv6 address without brackets)
  std::string address;  // numeric, resolved once when the store is opened: what every connection dials
  std::vector<std::string> candidates;  // every address the host resolved to, in the resolver's order
  uint32_t port = kDefaultPort;
  uint32_t db = 0;
  std::string user;           // empty: AUTH with the password alone
  internal::Secret password;  // empty: no AUTH
  std::string where;          // "Redis host:port/db", for messages: never the password
};

Result<Endpoint> parse_url(std::string_view url) {
  // The host is checked, then dialled, as a C string: "127.0.0.1\0x" would
  // pass as 127.0.0.1 and be dialled.
  if (url.find('\0') != std::string_view::npos) return bad_url("host", "a NUL character in the URL");
  if (url.substr(0, kTlsScheme.size()) == kTlsScheme) {
    return bad_url("scheme", "rediss:// (TLS) is not supported: reach Redis over a TLS tunnel on loopback");
  }
  if (url.substr(0, kScheme.size()) != kScheme) return bad_url("scheme", "not a redis:// URL");
  std::string_view rest = url.substr(kScheme.size());
  // user:password ends at the LAST '@' (the password may hold '/', '@', '?',
  // '#'). No error below quotes any part of the URL: without an '@', a
  // user:password typed without its host is read as host, port or database.
  const size_t at = rest.rfind('@');
  const std::string_view userinfo = at == std::string_view::npos ? std::string_view() : rest.substr(0, at);
  if (at != std::string_view::npos) rest.remove_prefix(at + 1);
  if (rest.find_first_of("?#") != std::string_view::npos) return bad_url("query", "no ?query or #fragment is taken");
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  Endpoint e;
  if (slash != std::string_view::npos) {
    const std::string_view db = rest.substr(slash + 1);
    if (!parse_number(db, kMaxDatabase, e.db)) {
      return bad_url("database", "not a whole number from 0 to " + std::to_string(kMaxDatabase));
    }
  }
  if (at != std::string_view::npos) {
    const size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      return bad_url("password", "the user part has no ':' (redis://:password@host or redis://user:password@host)");
    }
    const std::string_view user = userinfo.substr(0, colon);
    const std::string_view password = userinfo.substr(colon + 1);
    if (user.size() > kMaxUserSize || !std::all_of(user.begin(), user.end(), is_namespace_char)) {
      return bad_url("user", "at most " + std::to_string(kMaxUserSize) + " characters of A-Z a-z 0-9 . _ -");
    }
    const bool printable = std::all_of(password.begin(), password.end(), [](char c) { return c > ' ' && c < 0x7f; });
    if (password.empty() || password.size() > kMaxPasswordSize || !printable) {
      return bad_url("password",
                     "1 to " + std::to_string(kMaxPasswordSize) + " printable ASCII characters without blanks");
    }
    e.user = std::string(user);
    Result<internal::Secret> secret = internal::Secret::copy_of(
        ByteView(reinterpret_cast<const uint8_t*>(password.data()), password.size()));
    if (!secret) return std::move(secret).error();
    e.password = std::move(*secret);
  }
  std::string_view host = authority;
  std::string_view port;
  bool has_port = false;
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) return bad_url("host", "'[' without ']'");
    const std::string_view after = host.substr(close + 1);
    if (!after.empty() && after.front() != ':') return bad_url("host", "something other than :port after ']'");
    has_port = !after.empty();
    port = has_port ? after.substr(1) : after;
    host = host.substr(1, close - 1);
    in6_addr address{};
    if (inet_pton(AF_INET6, std::string(host).c_str(), &address) != 1) {
      return bad_url("host", "not an IPv6 address in brackets");
    }
  } else {
    const size_t colon = host.find(':');
    has_port = colon != std::string_view::npos;
    if (has_port) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
    in_addr address{};
    if (host.empty()) return bad_url("host", "empty");
    if (inet_pton(AF_INET, std::string(host).c_str(), &address) != 1 && !is_host_name(host)) {
      return bad_url("host", "neither an IPv4 address, an IPv6 address in brackets, nor a host name");
    }
  }
  if (has_port && (!parse_number(port, kMaxPort, e.port) || e.port == 0)) {
    return bad_url("port", "not a whole number from 1 to " + std::to_string(kMaxPort));
  }
  e.host = std::string(host);
  return e;
}

// Dials `address` from now on; `where` names it.
void use_address(Endpoint& e, const std::string& address) {
  e.address = address;
  const bool v6 = e.host.find(':') != std::string::npos;
  e.where = "Redis " + (v6 ? "[" + e.host + "]" : e.host) + ":" + std::to_string(e.port) + "/" + std::to_string(e.db);
  if (e.address != e.host) e.where += " at " + e.address;
}

// Every address of the host, in the resolver's order (duplicates dropped).
// getaddrinfo blocks as long as the system's resolver takes, once, when the
// store is opened; the store then keeps the first address that connects
// (a name such as localhost may give ::1 first while Redis listens on
// 127.0.0.1 only), and every later connection dials that numeric address,
// so a reconnect (in a broker's one thread) never waits for a resolver,
// only for its timeouts.
Status resolve(Endpoint& e) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(e.host.c_str(), nullptr, &hints, &found);
  if (rc != 0 || found == nullptr) {
    return Error(Errc::io_error, "redis URL: host: cannot resolve '" + e.host + "': " + gai_strerror(rc));
  }
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw = a->ai_family == AF_INET6
                          ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr)
                          : static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr);
    if (inet_ntop(a->ai_family, raw, text, sizeof text) == nullptr) continue;
    if (std::find(e.candidates.begin(), e.candidates.end(), text) == e.candidates.end()) e.candidates.emplace_back(text);
  }
  freeaddrinfo(found);
  if (e.candidates.empty()) return Error(Errc::io_error, "redis URL: host: cannot resolve '" + e.host + "'");
  use_address(e, e.candidates.front());
  return {};
}

// hiredis writes with write(2): a peer that closed the connection would
// raise SIGPIPE, whose default action ends the process. Blocked in this
// thread for the duration of a call; one it raised is taken back.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    was_pending_ = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
    blocked_ = pthread_sigmask(SIG_BLOCK, &pipe_, &old_) == 0;
  }
  ~SigpipeBlocked() {
    if (!blocked_) return;
    sigset_t pending;
    if (!was_pending_ && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
      const timespec none{};
      while (sigtimedwait(&pipe_, nullptr, &none) == -1 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t old_{};
  bool was_pending_ = false;
  bool blocked_ = false;
};

struct FreeReply {
  void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, FreeReply>;

std::string reply_text(const redisReply& r) { return std::string(r.str != nullptr ? r.str : "", r.len); }

timeval to_timeval(int64_t ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms / kMsPerSLong);
  tv.tv_usec = static_cast<suseconds_t>((ms % kMsPerSLong) * kUsPerMs);
  return tv;
}

class RedisStore final : public ReplayStore {
 public:
  RedisStore(Endpoint endpoint, RedisReplayStoreOptions options)
      : endpoint_(std::move(endpoint)), options_(std::move(options)) {}
  ~RedisStore() override { drop(); }
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  // Connects (open_redis_replay_store): every failure refuses the opening.
  // Connects to the host's addresses in turn and keeps the first that
  // answers; the error is the last address's.
  Status open() {
    const SigpipeBlocked no_sigpipe;
    std::lock_guard<std::mutex> lock(mutex_);
    Status s;
    for (const std::string& address : endpoint_.candidates) {
      use_address(endpoint_, address);
      s = connect(deadline());
      if (s) return s;
    }
    return s;
  }

  Result<ClaimOutcome> claim(const ReplayClaim& c) override {
    if (Status s = internal::check_claim(c); !s) return s.error();
    const uint64_t keep_s = c.keep_until_s > c.now_s ? c.keep_until_s - c.now_s : 0;
    if (keep_s > kMaxRedisClaimLifetimeS) {
      return Error(Errc::invalid_argument, "a Redis replay claim is kept at most " +
                                               std::to_string(kMaxRedisClaimLifetimeS) + " s");
    }
    // Remembered while the caller's now <= keep_until_s: to the end of that
    // second, timed by Redis from now on (PX, never PXAT: the server's date
    // does not matter, only that its clock runs); and as long again as the
    // clocks of the store's other users may lag this caller's.
    const std::string ttl_ms = std::to_string((keep_s + 1 + options_.max_clock_difference_s) * kMsPerS);
    Result<internal::PartitionDigest> digest = internal::partition_digest(c.name_space, c.partition);
    if (!digest) return std::move(digest).error();
    const std::string partition = internal::hex_encode(ByteView(digest->data(), digest->size()));
    const std::string member = partition + ":" + internal::hex_encode(ByteView(c.id.data(), c.id.size()));
    const std::string claim_key = options_.key_namespace + ":claim:" + member;
    const std::string quota_key = options_.key_namespace + ":quota:" + partition;
    // Each kind of claim has its own capacity: message claims never fill
    // the tokens' (logins), nor one consumer group's another's.
    const std::string all_key = capacity_key(c.name_space);
    const std::string now = std::to_string(c.now_s);
    const std::string keep_until = std::to_string(c.keep_until_s);
    const std::string quota = std::to_string(c.max_per_partition);
    const std::string capacity = std::to_string(options_.capacity);

    const SigpipeBlocked no_sigpipe;
    std::lock_guard<std::mutex> lock(mutex_);
    const Deadline until = deadline();
    if (Status s = ensure_connected(until); !s) return s.error();
    const std::string_view kind = c.name_space;
    Result<Reply> reply = run({"EVALSHA", sha_, "4", claim_key, quota_key, all_key, kinds_key(), ttl_ms, now,
                               keep_until, quota, capacity, member, kind},
                              until);
    if (reply && (*reply)->type == REDIS_REPLY_ERROR && reply_text(**reply).rfind("NOSCRIPT", 0) == 0) {
      // The server lost the script (SCRIPT FLUSH, a failover): the whole
      // text once, which loads it again.
      reply = run({"EVAL", kClaimScript, "4", claim_key, quota_key, all_key, kinds_key(), ttl_ms, now, keep_until,
                   quota, capacity, member, kind},
                  until);
    }
    if (!reply) return std::move(reply).error();
    const redisReply& r = **reply;
    if (r.type == REDIS_REPLY_ERROR) {
      // WRONGTYPE, OOM, or a server that is no longer the one to write to
      // (READONLY after a failover, LOADING): the next claim connects again,
      // at once (perhaps to the new primary behind the same address).
      Error refused(Errc::io_error, endpoint_.where + " refused the claim: " + reply_text(r));
      drop();
      return refused;
    }
    if (r.type != REDIS_REPLY_INTEGER) return unexpected("the claim script");
    switch (r.integer) {
      case kFirstUse:
        return ClaimOutcome::first_use;
      case kSeen:
        return ClaimOutcome::seen;
      case kPartitionFull:
        return Error(Errc::capacity_exceeded,
                     "this partition's live claims fill its quota (a user's: max_tokens_per_user)");
      case kStoreFull:
        return Error(Errc::capacity_exceeded, "the replay store's live claims fill its capacity (" + capacity + ")");
      default:
        return unexpected("the claim script");
    }
  }

  size_t capacity() const noexcept override { return options_.capacity; }

  size_t remembered() const override {
    const SigpipeBlocked no_sigpipe;
    std::lock_guard<std::mutex> lock(mutex_);
    const Deadline until = deadline();
    if (!ensure_connected(until)) return 0;
    // Every kind of claim ever made in this namespace (a few: tokens and
    // each consumer group).
    Result<Reply> kinds = run({"SMEMBERS", kinds_key()}, until);
    if (!kinds || (*kinds)->type != REDIS_REPLY_ARRAY) return 0;
    size_t total = 0;
    for (size_t i = 0; i < (*kinds)->elements; ++i) {
      const redisReply* kind = (*kinds)->element[i];
      if (kind == nullptr || kind->type != REDIS_REPLY_STRING) return 0;
      Result<Reply> reply = run({"ZCARD", capacity_key(reply_text(*kind))}, until);
      if (!reply || (*reply)->type != REDIS_REPLY_INTEGER || (*reply)->integer < 0) return 0;
      total += static_cast<size_t>((*reply)->integer);
    }
    return total;
  }

 private:
  std::string capacity_key(std::string_view kind) const {
    return options_.key_namespace + ":claims:" + std::string(kind);
  }
  std::string kinds_key() const { return options_.key_namespace + ":kinds"; }

  Deadline deadline() const {
    return Clock::now() + std::chrono::milliseconds(options_.connect_timeout_ms + options_.command_timeout_ms);
  }

  void drop() const {
    if (context_ != nullptr) redisFree(context_);
    context_ = nullptr;
    sha_.clear();
  }

  // Drops the connection and holds off the next attempt for
  // retry_interval_ms; the error to return.
  Error failed(const std::string& why) const {
    drop();
    retry_after_ = Clock::now() + std::chrono::milliseconds(options_.retry_interval_ms);
    return Error(Errc::io_error, endpoint_.where + ": " + why);
  }

  // A reply of a shape the protocol here never gives: the connection is no
  // longer trusted.
  Error unexpected(const std::string& what) const { return failed("an unexpected reply to " + what); }

  Status ensure_connected(Deadline until) const {
    if (context_ != nullptr) return {};
    if (Clock::now() < retry_after_) {
      return Error(Errc::io_error, endpoint_.where + ": unavailable since a failure less than " +
                                       std::to_string(options_.retry_interval_ms) + " ms ago (refused without trying)");
    }
    return connect(until);
  }

  Status connect(Deadline until) const {
    drop();
    redisContext* c = redisConnectWithTimeout(endpoint_.address.c_str(), static_cast<int>(endpoint_.port),
                                              to_timeval(options_.connect_timeout_ms));
    if (c == nullptr) return failed("cannot allocate a connection");
    if (c->err != 0) {
      const std::string why = c->errstr;
      redisFree(c);
      return failed("cannot connect within " + std::to_string(options_.connect_timeout_ms) + " ms: " + why);
    }
    context_ = c;
    if (endpoint_.password.size() != 0) {
      std::vector<std::string_view> auth = {"AUTH"};
      if (!endpoint_.user.empty()) auth.push_back(endpoint_.user);
      auth.push_back(endpoint_.password.text());
      if (Status s = expect_ok(auth, "AUTH", until); !s) return s;
    }
    if (endpoint_.db != 0) {
      if (Status s = expect_ok({"SELECT", std::to_string(endpoint_.db)}, "SELECT", until); !s) return s;
    }
    // An evicting Redis could drop a live claim, which would then be
    // first_use again: refused unless it never evicts.
    Result<Reply> info = run({"INFO", "memory"}, until);
    if (!info) return std::move(info).error();
    if ((*info)->type == REDIS_REPLY_ERROR) return failed("INFO memory refused: " + reply_text(**info));
    if ((*info)->type != REDIS_REPLY_STRING) return unexpected("INFO memory");
    const std::string text = reply_text(**info);
    const size_t field = text.find(kPolicyField);
    const std::string policy =
        field == std::string::npos
            ? std::string("(not reported)")
            : text.substr(field + kPolicyField.size(), text.find_first_of("\r\n", field) - field - kPolicyField.size());
    if (policy != kNoEviction) {
      return failed("its maxmemory-policy is " + policy +
                    ": it may evict a live claim (a replay accepted); configure maxmemory-policy noeviction");
    }
    Result<Reply> loaded = run({"SCRIPT", "LOAD", kClaimScript}, until);
    if (!loaded) return std::move(loaded).error();
    if ((*loaded)->type == REDIS_REPLY_ERROR) return failed("SCRIPT LOAD refused: " + reply_text(**loaded));
    if ((*loaded)->type != REDIS_REPLY_STRING || (*loaded)->len != kScriptShaSize) return unexpected("SCRIPT LOAD");
    sha_ = reply_text(**loaded);
    return {};
  }

  Status expect_ok(const std::vector<std::string_view>& args, const char* what, Deadline until) const {
    Result<Reply> reply = run(args, until);
    if (!reply) return std::move(reply).error();
    if ((*reply)->type == REDIS_REPLY_ERROR) return failed(std::string(what) + " refused: " + reply_text(**reply));
    if ((*reply)->type != REDIS_REPLY_STATUS) return unexpected(what);
    return {};
  }

  // One command on the connection, answered before `until` and within
  // command_timeout_ms: the reply (an error reply included), or an Error
  // after which the connection is dropped. Written and read step by step,
  // each step's socket timeout the time left of the command's: hiredis's
  // own loop (redisCommandArgv) gives every read the whole timeout, so an
  // answer arriving a byte at a time, each within it, never timed out.
  Result<Reply> run(const std::vector<std::string_view>& args, Deadline until) const {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    const int64_t wait_ms = std::min<int64_t>(left, options_.command_timeout_ms);
    if (wait_ms <= 0) return failed("no time left for " + std::string(args.front()));
    const Deadline command_until = Clock::now() + std::chrono::milliseconds(wait_ms);
    const auto timed_out = [&] {
      return failed(std::string(args.front()) + ": no answer within " + std::to_string(wait_ms) + " ms");
    };
    // The socket's timeout for the next step: what is left; false if nothing is.
    const auto arm = [&] {
      const auto rest = std::chrono::duration_cast<std::chrono::milliseconds>(command_until - Clock::now()).count();
      return rest > 0 && redisSetTimeout(context_, to_timeval(rest)) == REDIS_OK;
    };
    const auto io_failed = [&] {
      const bool slow = errno == EAGAIN || errno == EWOULDBLOCK;
      const std::string why = context_->errstr;
      return slow ? timed_out() : failed(std::string(args.front()) + ": " + why);
    };
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (std::string_view a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data()) != REDIS_OK) {
      return failed(std::string(args.front()) + ": " + context_->errstr);
    }
    for (int written = 0; written == 0;) {
      if (!arm()) return timed_out();
      errno = 0;
      if (redisBufferWrite(context_, &written) != REDIS_OK) return io_failed();
    }
    void* raw = nullptr;
    for (;;) {
      if (redisGetReplyFromReader(context_, &raw) != REDIS_OK) {
        return failed(std::string(args.front()) + ": " + context_->errstr);
      }
      if (raw != nullptr) break;
      if (!arm()) return timed_out();
      errno = 0;
      if (redisBufferRead(context_) != REDIS_OK) return io_failed();
    }
    return Reply(static_cast<redisReply*>(raw));
  }

  Endpoint endpoint_;  // its address chosen by open(), then fixed
  const RedisReplayStoreOptions options_;
  mutable std::mutex mutex_;
  // Under mutex_:
  mutable redisContext* context_ = nullptr;  // null: not connected
  mutable std::string sha_;                 // the claim script's, on this connection
  mutable Deadline retry_after_{};
};

}  // namespace

Result<std::shared_ptr<ReplayStore>> open_redis_replay_store(std::string_view url, RedisReplayStoreOptions options) {
  const std::string& ns = options.key_namespace;
  if (ns.empty() || ns.size() > kMaxRedisNamespaceSize || !std::all_of(ns.begin(), ns.end(), is_namespace_char)) {
    return Error(Errc::invalid_argument, "a Redis replay store's namespace is 1 to " +
                                             std::to_string(kMaxRedisNamespaceSize) +
                                             " characters of A-Z a-z 0-9 . _ -");
  }
  if (options.capacity == 0 || options.capacity > kMaxRedisReplayCapacity) {
    return Error(Errc::invalid_argument,
                 "a Redis replay store's capacity is 1 to " + std::to_string(kMaxRedisReplayCapacity));
  }
  for (const auto& [name, value] : {std::pair<const char*, uint32_t>{"connect", options.connect_timeout_ms},
                                    std::pair<const char*, uint32_t>{"command", options.command_timeout_ms}}) {
    if (value == 0 || value > kMaxRedisTimeoutMs) {
      return Error(Errc::invalid_argument, std::string("a Redis replay store's ") + name + " timeout is 1 to " +
                                               std::to_string(kMaxRedisTimeoutMs) + " ms");
    }
  }
  if (options.retry_interval_ms > kMaxRedisRetryIntervalMs) {
    return Error(Errc::invalid_argument, "a Redis replay store's retry interval is 0 to " +
                                             std::to_string(kMaxRedisRetryIntervalMs) + " ms");
  }
  if (options.max_clock_difference_s > kMaxRedisClockDifferenceS) {
    return Error(Errc::invalid_argument, "a Redis replay store's clock difference is 0 to " +
                                             std::to_string(kMaxRedisClockDifferenceS) + " s");
  }
  Result<Endpoint> endpoint = parse_url(url);
  if (!endpoint) return std::move(endpoint).error();
  if (Status s = resolve(*endpoint); !s) return s.error();
  auto store = std::make_shared<RedisStore>(std::move(*endpoint), std::move(options));
  if (Status s = store->open(); !s) return s.error();
  std::shared_ptr<ReplayStore> out = std::move(store);
  return out;
}

}  // namespace mqseal
