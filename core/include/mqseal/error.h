// mqseal/error.h: error codes and the Result type every mqseal call returns.
//
// mqseal never throws. A call that can fail returns `Status` (success or an
// Error) or `Result<T>` (a T or an Error). Both are [[nodiscard]]: ignoring a
// failed open or a failed seal is a bug.
//
//   mqseal::Result<std::vector<uint8_t>> sealed = sealer.seal(topic, payload);
//   if (!sealed) {
//     log("seal failed: %s", sealed.error().message());
//     return;
//   }
//   publish(topic, *sealed);
//
// An Error carries a code (stable, switch on it) and an optional detail
// string for humans (for example the line of a file that failed to parse).
// Neither ever contains key material.
#ifndef MQSEAL_ERROR_H_
#define MQSEAL_ERROR_H_

#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

namespace mqseal {

// Stable numeric values: they cross language boundaries and may be logged.
enum class Errc : uint8_t {
  invalid_argument = 1,       // a caller-supplied value is out of range
  invalid_topic = 2,          // not a valid MQTT topic name
  invalid_filter = 3,         // not a valid MQTT topic filter
  no_rule = 4,                // no policy rule covers the topic (fail closed)
  malformed = 5,              // envelope is truncated or structurally wrong
  unsupported_version = 6,    // envelope format version this build cannot read
  unsupported_suite = 7,      // cipher suite this build cannot read
  unknown_key = 8,            // key ID not in the keyring
  key_retired = 9,            // key ID was retired: no longer opens anything
  wrong_key_for_topic = 10,   // key exists but belongs to another key name
  authentication_failed = 11, // altered, forged, or sealed for another topic
  duplicate = 12,             // exact repeat of an accepted message (QoS 1)
  replay = 13,                // too old for the replay window / stale sender
  expired = 14,               // older than the configured maximum age
  not_yet_valid = 15,         // timestamp too far in the future
  retained_refused = 16,      // retained message refused by the policy
  payload_too_large = 17,     // over kMaxPayloadSize
  io_error = 18,              // a file, or a shared store (Redis), could not be read or written
  insecure_permissions = 19,  // secret file readable by group or others
  parse_error = 20,           // file content is not in the documented format
  crypto_failure = 21,        // libsodium could not initialise or allocate, or OpenSSL failed
  nonce_exhausted = 22,       // a sealer used up its 2^64 sequence numbers
  no_primary_key = 23,        // key name has no primary key to seal with
  transport_error = 24,       // the MQTT client library refused the operation
  unknown_user = 25,          // no credentials for this username (TokenVerifier::verify answers
                              // authentication_failed instead: docs/SPEC.md section 11)
  capacity_exceeded = 26,     // a bounded table is full of live entries: refused
  unknown_signer = 27,        // signer key ID not in the keyring (suite 2)
  unauthorized_signer = 28,   // validly signed, by a signer the topic's rule does not authorise
  wrong_suite_for_topic = 29, // envelope's suite is not the one the topic's rule requires
};

// A short, fixed English sentence for the code. Never null.
const char* message(Errc code) noexcept;
// The name of the code as spelled above, e.g. "authentication_failed".
const char* name(Errc code) noexcept;

namespace detail {
struct ErrorRep {
  Errc code;
  std::string detail;
};
// The detail of an Error that has none.
const std::string& empty_detail() noexcept;
}  // namespace detail

// One machine word, as cheap to return as the code itself: the code tagged
// in-line (low bit 1), or, only when there is a detail, a pointer to a heap
// copy of code and detail. A copy copies the detail; a moved-from Error keeps
// its code and loses its detail.
class Error {
 public:
  Error(Errc code) noexcept : bits_(inline_bits(code)) {}  // NOLINT: implicit on purpose
  Error(Errc code, std::string detail);
  Error(const Error& other) : bits_(other.is_rep() ? copy_rep(other.rep()) : other.bits_) {}
  Error(Error&& other) noexcept : bits_(other.bits_) { other.bits_ = other.without_detail(); }
  Error& operator=(const Error& other) { return *this = Error(other); }
  Error& operator=(Error&& other) noexcept {
    if (this != &other) {
      release();
      bits_ = other.bits_;
      other.bits_ = other.without_detail();
    }
    return *this;
  }
  ~Error() { release(); }

  Errc code() const noexcept {
    return is_rep() ? rep()->code : static_cast<Errc>(bits_ >> 1);
  }
  // message(code()), then ": detail" when there is a detail.
  std::string message() const;
  // Empty when there is none.
  const std::string& detail() const noexcept {
    return is_rep() ? rep()->detail : detail::empty_detail();
  }

  friend bool operator==(const Error& e, Errc c) noexcept { return e.code() == c; }
  friend bool operator!=(const Error& e, Errc c) noexcept { return e.code() != c; }

 private:
  friend class Status;
  static constexpr uintptr_t kInlineTag = 1;  // a heap rep is aligned: its low bit is 0
  static constexpr uintptr_t kNone = 0;       // no error: only inside a successful Status
  static constexpr uintptr_t inline_bits(Errc code) noexcept {
    return (static_cast<uintptr_t>(code) << 1) | kInlineTag;
  }
  explicit Error(uintptr_t bits) noexcept : bits_(bits) {}
  bool is_rep() const noexcept { return (bits_ & kInlineTag) == 0 && bits_ != kNone; }
  const detail::ErrorRep* rep() const noexcept {
    return reinterpret_cast<const detail::ErrorRep*>(bits_);
  }
  uintptr_t without_detail() const noexcept { return is_rep() ? inline_bits(code()) : bits_; }
  static uintptr_t copy_rep(const detail::ErrorRep* rep);
  void release() noexcept {
    if (is_rep()) delete rep();
  }

  uintptr_t bits_;
};

namespace detail {
// Accessing the value of a failed Result (or the error of a good one) is a
// programming error. Without exceptions the only safe answer is to stop.
[[noreturn]] void bad_result_access() noexcept;
}  // namespace detail

// Either a T or an Error. Test with `if (r)` / `r.ok()`, then use `*r`,
// `r->`, or `r.value()`; on failure use `r.error()`.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : ok_(true) { new (&storage_.value) T(std::move(value)); }  // NOLINT
  Result(Error error) : ok_(false) { new (&storage_.error) Error(std::move(error)); }  // NOLINT
  Result(Errc code) : Result(Error(code)) {}  // NOLINT

  Result(Result&& other) noexcept(std::is_nothrow_move_constructible_v<T>) : ok_(other.ok_) {
    if (ok_) new (&storage_.value) T(std::move(other.storage_.value));
    else new (&storage_.error) Error(std::move(other.storage_.error));
  }
  Result& operator=(Result&& other) noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (this != &other) {
      destroy();
      ok_ = other.ok_;
      if (ok_) new (&storage_.value) T(std::move(other.storage_.value));
      else new (&storage_.error) Error(std::move(other.storage_.error));
    }
    return *this;
  }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  ~Result() { destroy(); }

  bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }

  T& value() & { check(ok_); return storage_.value; }
  const T& value() const& { check(ok_); return storage_.value; }
  T&& value() && { check(ok_); return std::move(storage_.value); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { check(!ok_); return storage_.error; }
  Error&& error() && { check(!ok_); return std::move(storage_.error); }

 private:
  static void check(bool cond) { if (!cond) detail::bad_result_access(); }
  void destroy() noexcept {
    if (ok_) storage_.value.~T();
    else storage_.error.~Error();
  }
  union Storage {
    Storage() {}
    ~Storage() {}
    T value;
    Error error;
  } storage_;
  bool ok_;
};

// Success or an Error, in one machine word: success is a null word.
class [[nodiscard]] Status {
 public:
  Status() noexcept : error_(Error::kNone) {}  // success
  Status(Error error) noexcept : error_(std::move(error)) {}  // NOLINT
  Status(Errc code) noexcept : error_(code) {}  // NOLINT

  bool ok() const noexcept { return error_.bits_ == Error::kNone; }
  explicit operator bool() const noexcept { return ok(); }
  const Error& error() const& {
    if (ok()) detail::bad_result_access();
    return error_;
  }

 private:
  Error error_;  // meaningful only when failed
};

static_assert(alignof(detail::ErrorRep) >= 2, "an ErrorRep's address leaves the tag bit free");
static_assert(sizeof(Error) == sizeof(void*), "an Error is one word");
static_assert(sizeof(Status) == sizeof(void*), "a Status is one word");

}  // namespace mqseal

#endif  // MQSEAL_ERROR_H_
