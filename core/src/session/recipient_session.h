// Private: suite 3, sealed to a recipient (docs/SPEC.md, section 4b), for
// Sealer and Opener: the sealing session's ephemeral X25519 key pair and the
// keys derived from it, and the Opener's bounded cache of derived session
// keys. Kept apart from sealer.cpp and opener.cpp, which stay about sessions
// and ordering.
//
//   shared      = X25519(ephemeral secret, recipient public)      (sealer)
//               = X25519(recipient secret, ephemeral public)      (opener)
//   session_key = BLAKE2b-256(key = shared, personal "mqseal recipient",
//                   message = kSessionLabel || ephemeral public || recipient public)
//   topic_key   = section 3's derivation with K = session_key
//   stream      = BLAKE2b-128(personal "mqseal r-stream", ephemeral public || sender)
//
// The raw X25519 output is never a key. `stream` is the sender's identity
// in the replay guard: the ephemeral key is bound into the session key, so
// nobody without the session's secrets can produce a valid envelope in that
// stream (a sender ID alone could be copied by anyone with the public key).
#ifndef MQSEAL_SRC_SESSION_RECIPIENT_SESSION_H_
#define MQSEAL_SRC_SESSION_RECIPIENT_SESSION_H_

#include <sodium.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/out_buffer.h"
#include "base/secret.h"
#include "base/secret_arena.h"
#include "mqseal/envelope.h"
#include "mqseal/keyring.h"
#include "mqseal/policy.h"

namespace mqseal::internal {

using EphemeralKey = std::array<uint8_t, kEphemeralKeySize>;
// A recipient name's replay partition is keyed by this byte and the name: no
// key name starts with it ([A-Za-z0-9_.-]), so a key and a recipient of the
// same name (separate namespaces, docs/SPEC.md section 1) never share one.
// (Signers' partitions use 0x01.)
inline constexpr char kRecipientPartitionTag = '\x03';

// session_key from the agreement's output and both public keys.
[[nodiscard]] Status derive_session_key(const uint8_t shared[32], const uint8_t ephemeral_public[32],
                                        const uint8_t recipient_public[32], uint8_t session_key[kKeySize]);
// The topic key under a session key (section 3 with K = session_key).
[[nodiscard]] Status derive_session_topic_key(const uint8_t session_key[kKeySize], std::string_view topic,
                                              uint8_t topic_key[kKeySize]);
// The replay stream of (ephemeral public key, sender).
[[nodiscard]] Status recipient_stream(const uint8_t ephemeral_public[32], const SenderId& sender, SenderId& stream);

// The sealing side: one ephemeral key pair per sealing session, drawn at the
// session's first suite 3 message, and per recipient key sealed to, the
// derived session key, the last topic's key and that key's XChaCha20 subkey
// for the session's sender, all in one guarded allocation per recipient key.
// Not thread-safe (the Sealer's lock). end() wipes all of it: after end(),
// nothing in this process can open what the session sealed.
class RecipientSealing {
 public:
  // For a suite 3 rule: the recipient's key (no_primary_key), the session's
  // key pair (made if there is none: crypto_failure), header.suite, key_id
  // and ephemeral, and the topic key into `topic_key` (the caller wipes it).
  [[nodiscard]] Status prepare(const Keyring& keyring, const TopicRule& rule, std::string_view topic,
                               EnvelopeHeader& header, uint8_t topic_key[kKeySize]);
  // After a successful prepare(): the XChaCha20 subkey HChaCha20(topic key,
  // sender) of the topic key it gave, into `subkey` (the caller wipes it),
  // for crypto/aead.h's `subkey`. Derived at the first call per (recipient
  // key, topic, sender) of the session and kept next to the topic key, so a
  // session's later messages on the topic pay no HChaCha20; wiped when
  // prepare() derives another topic key (and derived again here), derived
  // again when `sender` differs from the kept one's, wiped with the rest by
  // end(). crypto_failure, also without a successful prepare() since the
  // last end().
  [[nodiscard]] Status subkey(const SenderId& sender, uint8_t subkey[kKeySize]);
  void end() noexcept;
  bool active() const noexcept { return secret_.data() != nullptr; }
  // The timestamp_ms the session began at (Sealer ends it after a while).
  uint64_t started_ms = 0;

 private:
  struct Recipient {
    KeyId id = 0;
    Secret keys;  // kKeysSize: session key || topic key of `topic` || its subkey for `subkey_sender`
    std::string topic;
    bool has_topic = false;
    SenderId subkey_sender{};
    bool has_subkey = false;  // of `topic` and `subkey_sender`
  };
  static constexpr size_t kTopicKeyAt = kKeySize;
  static constexpr size_t kSubkeyAt = 2 * kKeySize;
  static constexpr size_t kKeysSize = 3 * kKeySize;
  Secret secret_;  // the ephemeral scalar; empty: no session
  EphemeralKey public_{};
  std::vector<Recipient> recipients_;  // at most one per recipient key of the keyring
  static constexpr size_t kNonePrepared = SIZE_MAX;
  size_t prepared_ = kNonePrepared;  // prepare()'s recipient, until the next prepare() or end()
};

// What the Opener needs outside its lock to open one suite 3 envelope.
struct RecipientOpening {
  // The cache's generation when prepare() took the keys: commit() keeps
  // them only if the cache was not cleared since (set_keyring).
  uint64_t generation = 0;
  bool cached = false;       // keys below already derived
  bool have_subkey = false;  // `subkey` is of this topic and sender
  SenderId stream{};
  bool have_stream = false;
  // Wiped together when the opening ends.
  struct Secrets {
    uint8_t secret[32];            // !cached: the recipient's scalar
    uint8_t recipient_public[32];  // !cached
    uint8_t session_key[kKeySize];
    uint8_t topic_key[kKeySize];
    // HChaCha20(topic_key, sender): XChaCha20-Poly1305's subkey for every
    // nonce of the session's sender on this topic (nonce = sender ||
    // sequence), so a steady-state open skips that derivation.
    uint8_t subkey[kKeySize];
  } keys{};
  ~RecipientOpening();
};

// Suite 4's inner message, signer key ID || signature || payload, while it
// is signed and sealed or opened and verified: on the stack for payloads up
// to kStackPayload bytes (no allocation per message), on the heap above;
// wiped when it goes (it is plaintext).
class SignedSealedInner {
 public:
  static constexpr size_t kStackPayload = 1024;
  explicit SignedSealedInner(size_t size) : size_(size) {
    if (size > sizeof stack_) {
      heap_.resize(size);
      data_ = heap_.data();
    }
  }
  SignedSealedInner(const SignedSealedInner&) = delete;
  SignedSealedInner& operator=(const SignedSealedInner&) = delete;
  ~SignedSealedInner() { sodium_memzero(data_, size_); }
  uint8_t* data() noexcept { return data_; }
  size_t size() const noexcept { return size_; }

 private:
  uint8_t stack_[kSignedSealedInnerSize + kStackPayload];
  std::vector<uint8_t> heap_;
  uint8_t* data_ = stack_;
  size_t size_;
};

// key_id (4 bytes, big endian) || ephemeral public key
using RecipientSessionId = std::array<uint8_t, 4 + kEphemeralKeySize>;
// SipHash-2-4 under a random key of the cache's own: the ephemeral keys are
// chosen by whoever seals (anyone with the public key), so an unkeyed hash
// would let them pile entries into one bucket.
struct SessionIdHash {
  std::array<uint8_t, 16> key{};
  size_t operator()(const RecipientSessionId& id) const noexcept;
};

// The receiving side's bounded cache of derived keys, keyed by (recipient
// key ID, ephemeral public key). Per session: the session key, and for the
// last topic (kept only up to kMaxCachedTopicSize bytes, session/
// topic_key_resolver.h: a longer one's keys are derived again per message)
// its topic key and the last sender's subkey. Only an envelope whose tag verified under
// the derived keys is ever inserted (commit()), so unauthenticated input
// neither adds an entry nor evicts one nor changes the LRU order. Full: the
// least recently used entry goes (its sender's next envelope pays one
// derivation again); finding it, and every other step, takes constant time
// (a list through the entries in LRU order, a hash index). Not thread-safe
// (the Opener's lock).
//
// Guarded memory grows with the entries (base/secret_arena.h, SecretTable):
// none until the first commit, then regions of one page first (42 entries
// of 96 bytes), doubling, never more than `capacity` entries, the bound at
// which the least recently used goes, as before; a receiver that hears no
// suite 3 or 4 allocates none. A commit that finds no guarded memory for a
// new entry takes the least recently used entry's instead, and the cache
// stops growing there: no new region is tried again until clear()
// (SecretTable's growth policy). A commit that finds none for the first
// region keeps nothing (the open succeeded, its next message derives
// again), and the next commit tries the first region again: with no entry
// to take, a stop there would cache no session until clear().
//
// clear() (the Opener's set_keyring) starts a new generation. An open under
// way took its keys (prepare) under the old keyring and derives outside the
// lock; its commit() after the clear keeps nothing: those keys may come from
// a recipient secret the new keyring no longer has (the same key ID with
// another secret), and in the cache they would open the old keyring's
// envelopes, and fail the new keyring's, of that ephemeral key. The open
// itself still succeeds: it is judged under the keyring it began with, as an
// open of any suite in flight when set_keyring returns is (the Opener's
// header, "Thread safety").
class RecipientSessionCache {
 public:
  [[nodiscard]] static Result<RecipientSessionCache> create(size_t capacity);

  // Under the lock: the recipient key pair header.key_id names, which must
  // be of the rule's recipient name (unknown_key, key_retired,
  // wrong_key_for_topic), then either the cached keys or what deriving them
  // needs.
  [[nodiscard]] Status prepare(const Keyring& keyring, const TopicRule& rule, std::string_view topic,
                               const EnvelopeHeader& header, RecipientOpening& out) const;
  // Outside the lock: derives what prepare() did not find (a low-order
  // ephemeral key: authentication_failed), then verifies and decrypts.
  [[nodiscard]] static Status open(std::string_view topic, ByteView envelope, const EnvelopeHeader& header,
                                   RecipientOpening& keys, OutBuffer& payload);
  // Under the lock, after open() succeeded: remembers (or refreshes) the
  // keys, unless clear() ran since prepare() took them (then nothing).
  void commit(const EnvelopeHeader& header, std::string_view topic, const RecipientOpening& keys);
  // Wipes every entry and starts a new generation.
  void clear() noexcept;
  bool contains(const EnvelopeHeader& header) const { return index_.count(id_of(header)) != 0; }
  using SessionId = RecipientSessionId;
  size_t size() const noexcept { return index_.size(); }
  size_t capacity() const noexcept { return keys_.max_slots(); }
  // Guarded bytes allocated so far (tests, benchmarks).
  size_t guarded_bytes() const noexcept { return keys_.bytes(); }
  // Tests: the slots allocated, and slot i's bytes (i < allocated_slots()),
  // to see that clear() wiped them.
  size_t allocated_slots() const noexcept { return keys_.size(); }
  ByteView slot_bytes(size_t i) const noexcept { return ByteView(keys_[i], kSlotSize); }

 private:
  using Hash = SessionIdHash;
  static constexpr size_t kNoNode = SIZE_MAX;
  struct Node {
    SessionId id{};
    std::string topic;  // empty: none kept (a topic longer than kMaxCachedTopicSize)
    SenderId sender{};
    SenderId stream{};
    bool has_subkey = false;  // of `topic` and `sender`
    // The LRU order, a list through the nodes: toward the most recently
    // used (`newer`) and the least (`older`); kNoNode at its ends.
    size_t newer = kNoNode;
    size_t older = kNoNode;
  };
  explicit RecipientSessionCache(size_t capacity);
  // Per node, its guarded slot: session key || topic key || subkey.
  static constexpr size_t kSlotSize = 3 * kKeySize;
  uint8_t* slot(size_t i) const { return keys_[i]; }
  static SessionId id_of(const EnvelopeHeader& header);

  SecretTable keys_;  // per node: kSlotSize bytes, allocated as nodes are; max_slots(): the capacity
  std::vector<Node> nodes_;
  std::unordered_map<SessionId, size_t, Hash> index_;
  // The most recently used node, compared before hashing (a receiver mostly
  // hears runs of one session), and the least recently used, which goes when
  // the cache is full: the ends of the LRU list. kNoNode: none.
  size_t recent_ = kNoNode;
  size_t oldest_ = kNoNode;
  uint64_t generation_ = 0;  // clear()s so far
  // Moves node i to the most recent end of the LRU list (linked: false, it
  // is not in the list yet). Constant time.
  void make_recent(size_t i, bool linked);
  // The node of `id`, or kNoNode.
  size_t find(const SessionId& id) const;
};

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_SESSION_RECIPIENT_SESSION_H_
