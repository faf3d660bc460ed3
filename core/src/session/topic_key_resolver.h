// Private: from a concrete topic to the rule that covers it and the topic's
// derived key, with a bounded LRU cache so that no message pays a policy scan
// or a key derivation once its topic is warm. Shared by Sealer and Opener.
// Next to each derived key it keeps XChaCha20 subkeys, HChaCha20(topic key,
// sender) (crypto/aead.h): every nonce of suites 1 and 2 and of the compact
// envelope begins with the 16-byte sender, so a sender's messages under one
// topic key share one subkey, and a warm message pays no HChaCha20. The
// cache holds no more than capacity x kKeysPerTopic x subkeys_per_key of
// them; a subkey that is gone costs one HChaCha20 again, never a failure.
//
// Guarded memory grows with the topics held (base/secret_arena.h,
// SecretTable): one slot per topic, of kKeysPerTopic keys and their
// subkeys, in regions of one page first (21 topics of an Opener's 192
// bytes, 31 of a Sealer's 128), then doubling; never more than `capacity`
// slots, the bound at which the least recently used topic goes, as before.
// create() allocates the first region (crypto_failure without guarded
// memory, as when it allocated the whole cache); later, a topic that finds
// no guarded memory for a new slot takes the least recently used topic's,
// so resolve() never fails for memory, and the cache stops growing there:
// no new region is tried again until set_keyring() (SecretTable's growth
// policy).
//
// The Sealer's topics are its application's: resolve() caches a topic on
// its first use. The Opener's are whatever arrives: lookup() caches
// nothing new (a topic or key not held is derived into the caller's
// buffer), and commit() caches it once the envelope is authentic, so that
// forged envelopes on new topics neither grow the guarded, locked memory
// nor evict the cached keys of other topics.
// Slots never move: growth invalidates no pointer into them (and every
// access is under the owner's lock). set_keyring() wipes every slot and
// keeps them for the next topics; the resolver's end frees (and
// sodium_free wipes) them.
#ifndef MQSEAL_SRC_TOPIC_KEY_RESOLVER_H_
#define MQSEAL_SRC_TOPIC_KEY_RESOLVER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/secret.h"
#include "base/secret_arena.h"
#include "mqseal/keyring.h"
#include "mqseal/policy.h"
#include "base/sodium_util.h"

namespace mqseal::internal {

// Two derived keys per topic: the current primary's and one more, so that
// during a rotation messages under the old and the new key alternate without
// re-deriving.
inline constexpr size_t kKeysPerTopic = 2;

// XChaCha20 subkeys (HChaCha20(topic key, sender), crypto/aead.h) kept per
// derived topic key: one for a Sealer (its session's sender), up to
// kMaxSubkeysPerKey for an Opener (the senders on that topic).
inline constexpr size_t kMaxSubkeysPerKey = 2;

// What resolve() found for a topic.
struct ResolvedTopic {
  const TopicRule* rule = nullptr;  // lives as long as the resolver
  KeyId key_id = 0;                 // 0 when no key was derived
  uint8_t key[kKeySize] = {};       // the derived key; the caller wipes it
  // Where `key` lives in the cache, for find_subkey / store_subkey: `stamp`
  // names the derivation that put it there (0: none).
  uint32_t node = 0;
  uint8_t slot = 0;
  uint64_t stamp = 0;
  // lookup() only: the keyring generation it read (set_keyring() starts a
  // new one), and whether the topic or `key` is not held yet (commit()
  // keeps them).
  uint64_t generation = 0;
  bool pending = false;
  // lookup() only: the slot, or the sender's kept subkey, it found is not
  // the most recently used of its topic: touch() marks it so once the
  // envelope proved authentic (a forgery must not choose what is evicted).
  bool stale_recency = false;
};

// resolve()'s `wanted` for sealing: the primary key of the rule's key name.
inline constexpr KeyId kPrimaryKey = 0;

// The longest topic an Opener's caches keep, in bytes (this cache, after an
// authentic envelope on it, and suite 3's session cache, as a session's last
// topic). A longer topic (MQTT allows 65 535 bytes) is not kept, and its key
// is derived again per message (the associated data reads the whole topic
// anyway), so that what key holders and, in suite 3, anyone holding the
// recipient's public key can make an Opener hold stays within its caches'
// capacities times this, not times 64 KiB.
inline constexpr size_t kMaxCachedTopicSize = 256;

// Not thread-safe: its owner serialises calls.
class TopicKeyResolver {
 public:
  // Keeps its own copy of the policy; shares the keyring, which must not be
  // modified while shared. `subkeys_per_key`: 1..kMaxSubkeysPerKey.
  [[nodiscard]] static Result<TopicKeyResolver> create(const TopicPolicy& policy,
                                                       std::shared_ptr<const Keyring> keyring,
                                                       size_t capacity, size_t subkeys_per_key = 1);

  // The rule that covers `topic` (invalid_topic, no_rule) and, unless the
  // rule is plaintext or `wanted` is empty, the topic's derived key: `wanted`
  // is the key ID an envelope names, or kPrimaryKey to seal. no_primary_key,
  // unknown_key, key_retired, wrong_key_for_topic, crypto_failure.
  [[nodiscard]] Status resolve(std::string_view topic, std::optional<KeyId> wanted, ResolvedTopic& out) {
    bool subkey_found = false;
    return resolve(topic, wanted, nullptr, out, nullptr, subkey_found);
  }
  // resolve(), and with a `sender`, find_subkey(out, *sender, subkey) in the
  // same step (the Opener's: one call): `subkey_found` says whether it found
  // one. When it does, out.key is left
  // as it was (zero): an open whose sender's subkey is kept never copies the
  // topic key out of guarded memory. Otherwise out.key is the topic key, as
  // from resolve().
  [[nodiscard]] Status resolve(std::string_view topic, std::optional<KeyId> wanted, const SenderId* sender,
                               ResolvedTopic& out, uint8_t subkey[kKeySize], bool& subkey_found);

  // The Opener's resolve(): the same results, but a topic or key the cache
  // does not hold is not put there. The key is derived into out.key (the
  // caller wipes it) and out.pending is set: commit() caches them once the
  // envelope proved authentic.
  [[nodiscard]] Status lookup(std::string_view topic, std::optional<KeyId> wanted, const SenderId& sender,
                              ResolvedTopic& out, uint8_t subkey[kKeySize], bool& subkey_found);
  // After an authentic envelope: caches what lookup() put in `at` and did
  // not cache (the topic, and its key at.key if at.key_id is set), makes
  // that key the topic's most recently used, and with a `sender`, `subkey`
  // next to that key (store_subkey). Nothing if a
  // set_keyring() ran since lookup(), or for a topic longer than
  // kMaxCachedTopicSize; a topic or key that another commit() cached
  // meanwhile is kept once.
  void commit(std::string_view topic, const ResolvedTopic& at, const SenderId* sender,
              const uint8_t subkey[kKeySize]);
  // After an authentic envelope whose lookup() found `at` (and `sender`'s
  // subkey) cached with at.stale_recency set: makes that slot, and that
  // subkey, the most recently used of the topic, as resolve() does at once.
  // Nothing if `at` has left the cache since, or no longer keeps `sender`.
  void touch(const ResolvedTopic& at, const SenderId& sender);

  // The XChaCha20 subkey HChaCha20(at.key, sender) kept for the topic key
  // `at` (a resolve() result), into `subkey`: false if none is kept, or `at`
  // is no longer cached. A hit makes it the most recently used of its key.
  [[nodiscard]] bool find_subkey(const ResolvedTopic& at, const SenderId& sender, uint8_t subkey[kKeySize]) {
    bool stale = false;
    return find_subkey(at, sender, subkey, true, stale);
  }
  // Keeps `subkey` (the caller computed it from `at.key` and `sender`) next to
  // the topic key `at`, in guarded memory, replacing the least recently used
  // of that key's subkeys; nothing if that key has left the cache since
  // resolve() (evicted, re-derived, a new keyring). Each subkey is wiped when
  // its topic key is evicted or re-derived, by set_keyring and
  // forget_subkeys, and with the resolver.
  void store_subkey(const ResolvedTopic& at, const SenderId& sender, const uint8_t subkey[kKeySize]);
  // Wipes every subkey (a Sealer's new session: a new sender).
  void forget_subkeys() noexcept;

  void set_keyring(std::shared_ptr<const Keyring> keyring);
  // The keyring resolve() uses; valid until set_keyring.
  const Keyring& keyring() const noexcept { return *keyring_; }

  // Guarded bytes allocated so far for keys and subkeys (tests, benchmarks).
  size_t guarded_bytes() const noexcept { return keys_.bytes(); }
  // Topics cached (tests).
  size_t topics() const noexcept { return nodes_.size(); }
  // Tests: the slots allocated, and slot i's bytes (i < allocated_slots()),
  // to see that set_keyring() wiped them.
  size_t allocated_slots() const noexcept { return keys_.size(); }
  ByteView slot_bytes(size_t i) const noexcept {
    return ByteView(keys_[i], kKeysPerTopic * (1 + subkeys_per_key_) * kKeySize);
  }

 private:
  struct Node {
    std::string topic;
    const TopicRule* rule = nullptr;
    KeyId primary = 0;                   // 0 until looked up
    KeyId slot_ids[kKeysPerTopic] = {};  // 0 = empty slot
    uint64_t slot_stamps[kKeysPerTopic] = {};  // the derivation that filled each slot
    uint8_t most_recent_slot = 0;
    // Per slot, the senders whose subkeys slot_subkey() holds.
    SenderId subkey_senders[kKeysPerTopic][kMaxSubkeysPerKey] = {};
    bool subkey_kept[kKeysPerTopic][kMaxSubkeysPerKey] = {};
    uint8_t most_recent_subkey[kKeysPerTopic] = {};
    uint32_t prev = kNone;
    uint32_t next = kNone;
  };
  static constexpr uint32_t kNone = UINT32_MAX;

  TopicKeyResolver(const TopicPolicy& policy, std::shared_ptr<const Keyring> keyring,
                   SecretTable keys, size_t subkeys_per_key);
  // The cache slot of a topic, valid until the next call. `rule`: the
  // topic's rule when the caller looked it up already (else null).
  Result<uint32_t> find_or_insert(std::string_view topic, const TopicRule* rule = nullptr);
  // The cache slot of a cached topic, made the most recently used; kNone if
  // the topic is not cached.
  uint32_t find(std::string_view topic);
  // The keyring's key `id` for `rule`, checked: unknown_key, key_retired,
  // wrong_key_for_topic.
  Result<const Key*> key_for(const TopicRule& rule, KeyId id) const;
  // find_subkey(); with `touch` false (lookup()'s) the hit's recency is left
  // as it was, and `stale` says whether it was not the most recent.
  [[nodiscard]] bool find_subkey(const ResolvedTopic& at, const SenderId& sender, uint8_t subkey[kKeySize],
                                 bool touch, bool& stale);
  // Fills `out` from node `i`'s slot `s` (and `subkey`, when the sender's is kept).
  // `touch` false (lookup()): the recency of slot and subkey is left as it
  // was, and out.stale_recency says whether touch() should change it.
  void found_in(uint32_t i, size_t s, const SenderId* sender, ResolvedTopic& out, uint8_t subkey[kKeySize],
                bool& subkey_found, bool touch);
  // Node `index`'s guarded slot: its kKeysPerTopic keys, then
  // subkeys_per_key_ subkeys for each of them.
  uint8_t* slot_key(uint32_t index, size_t slot) { return keys_[index] + slot * kKeySize; }
  uint8_t* slot_subkey(uint32_t index, size_t slot, size_t entry) {
    return keys_[index] + (kKeysPerTopic + slot * subkeys_per_key_ + entry) * kKeySize;
  }
  // Wipes and drops the subkeys of one slot.
  void forget_slot_subkeys(uint32_t index, size_t slot) noexcept;
  // The slot of node `n` that holds key `id`, or kKeysPerTopic if none does.
  static size_t slot_of(const Node& n, KeyId id) noexcept {
    size_t s = 0;
    while (s < kKeysPerTopic && n.slot_ids[s] != id) ++s;
    return s;
  }
  // Node `index`'s less recently used key slot, emptied for a new key: its
  // key and subkeys wiped, its subkeys forgotten, its id and stamp cleared
  // (the caller writes the key, then sets both; if it cannot derive the
  // key, the slot stays empty: zeros under id 0).
  size_t claim_slot(uint32_t index) noexcept;
  bool holds(const ResolvedTopic& at) const noexcept {
    return at.stamp != 0 && at.node < nodes_.size() && at.slot < kKeysPerTopic &&
           nodes_[at.node].slot_stamps[at.slot] == at.stamp;
  }
  void unlink(uint32_t index);
  void push_front(uint32_t index);
  void clear();

  TopicPolicy policy_;  // a private copy: Node::rule points into it
  std::shared_ptr<const Keyring> keyring_;
  SecretTable keys_;  // per node: kKeysPerTopic derived keys, then their subkeys; max_slots(): the capacity
  size_t subkeys_per_key_;
  uint64_t stamps_ = 0;  // derivations so far: each gets the next stamp, never reused
  uint64_t generation_ = 0;  // set_keyring()s so far
  std::vector<Node> nodes_;
  std::unordered_map<std::string, uint32_t> index_;
  std::string scratch_;  // reused for lookups, so a warm lookup allocates nothing
  uint32_t head_ = kNone;  // most recently used
  uint32_t tail_ = kNone;  // least recently used
};

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_TOPIC_KEY_RESOLVER_H_
