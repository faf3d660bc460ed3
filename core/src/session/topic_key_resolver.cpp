#include "session/topic_key_resolver.h"

#include <sodium.h>

#include <cstring>
#include <utility>

#include "crypto/aes256gcm.h"
#include "wire/envelope_internal.h"
#include "keys/keyring_access.h"
#include "mqseal/envelope.h"
#include "mqseal/options.h"

namespace mqseal::internal {

Result<TopicKeyResolver> TopicKeyResolver::create(const TopicPolicy& policy,
                                                  std::shared_ptr<const Keyring> keyring,
                                                  size_t capacity, size_t subkeys_per_key) {
  if (!keyring) return Error(Errc::invalid_argument, "a keyring is required");
  if (capacity == 0 || capacity > kMaxTopicCacheCapacity) {
    return Error(Errc::invalid_argument, "topic cache capacity out of range");
  }
  if (subkeys_per_key == 0 || subkeys_per_key > kMaxSubkeysPerKey) {
    return Error(Errc::invalid_argument, "subkeys per key out of range");
  }
  // Suite 5 runs only where the CPU has AES-NI and PCLMULQDQ: refused here,
  // when the Sealer or Opener is made, not at its first message.
  for (const TopicRule& rule : policy.rules()) {
    if (rule.suite == Suite::aes256gcm && !aes256gcm::available()) return aes256gcm::unavailable_error();
  }
  // The first region now (no guarded memory: create() fails, as it did when
  // the whole cache was allocated here); the others as topics arrive.
  SecretTable keys(kKeysPerTopic * (1 + subkeys_per_key) * kKeySize, capacity);
  if (Status s = keys.grow(); !s) return s.error();
  return TopicKeyResolver(policy, std::move(keyring), std::move(keys), subkeys_per_key);
}

TopicKeyResolver::TopicKeyResolver(const TopicPolicy& policy,
                                   std::shared_ptr<const Keyring> keyring, SecretTable keys,
                                   size_t subkeys_per_key)
    : policy_(policy),
      keyring_(std::move(keyring)),
      keys_(std::move(keys)),
      subkeys_per_key_(subkeys_per_key) {}

void TopicKeyResolver::set_keyring(std::shared_ptr<const Keyring> keyring) {
  if (!keyring) return;
  keyring_ = std::move(keyring);
  clear();
}

void TopicKeyResolver::clear() {
  keys_.wipe();  // the slots stay allocated, for the new keyring's topics
  nodes_.clear();
  index_.clear();
  head_ = tail_ = kNone;
  ++generation_;  // keys derived by lookup() under the old keyring are not committed
}

void TopicKeyResolver::forget_slot_subkeys(uint32_t i, size_t slot) noexcept {
  sodium_memzero(slot_subkey(i, slot, 0), subkeys_per_key_ * kKeySize);
  for (bool& kept : nodes_[i].subkey_kept[slot]) kept = false;
}

size_t TopicKeyResolver::claim_slot(uint32_t i) noexcept {
  static_assert(kKeysPerTopic == 2, "the less recently used of two slots is the other one");
  Node& n = nodes_[i];
  const size_t s = 1u - n.most_recent_slot;
  sodium_memzero(slot_key(i, s), kKeySize);  // the old key, should no new one be derived
  forget_slot_subkeys(i, s);  // of the key this slot held
  n.slot_ids[s] = 0;
  n.slot_stamps[s] = 0;
  return s;
}

void TopicKeyResolver::forget_subkeys() noexcept {
  for (uint32_t i = 0; i < keys_.size(); ++i) {
    sodium_memzero(slot_subkey(i, 0, 0), kKeysPerTopic * subkeys_per_key_ * kKeySize);
  }
  for (Node& n : nodes_) {
    for (auto& slot : n.subkey_kept) {
      for (bool& kept : slot) kept = false;
    }
  }
}

bool TopicKeyResolver::find_subkey(const ResolvedTopic& at, const SenderId& sender, uint8_t subkey[kKeySize],
                                   bool touch, bool& stale) {
  if (!holds(at)) return false;
  Node& n = nodes_[at.node];
  for (size_t e = 0; e < subkeys_per_key_; ++e) {
    if (n.subkey_kept[at.slot][e] && n.subkey_senders[at.slot][e] == sender) {
      stale = n.most_recent_subkey[at.slot] != e;
      if (touch) n.most_recent_subkey[at.slot] = static_cast<uint8_t>(e);
      std::memcpy(subkey, slot_subkey(at.node, at.slot, e), kKeySize);
      return true;
    }
  }
  return false;
}

void TopicKeyResolver::store_subkey(const ResolvedTopic& at, const SenderId& sender, const uint8_t subkey[kKeySize]) {
  if (!holds(at)) return;
  Node& n = nodes_[at.node];
  // The sender's own entry (two opens raced to it), else a free one, else the
  // least recently used: with two per key, the other one.
  size_t e = 0;
  while (e < subkeys_per_key_ && !(n.subkey_kept[at.slot][e] && n.subkey_senders[at.slot][e] == sender)) ++e;
  if (e == subkeys_per_key_) {
    e = 0;
    while (e < subkeys_per_key_ && n.subkey_kept[at.slot][e]) ++e;
  }
  if (e == subkeys_per_key_) e = (n.most_recent_subkey[at.slot] + 1u) % subkeys_per_key_;
  std::memcpy(slot_subkey(at.node, at.slot, e), subkey, kKeySize);
  n.subkey_senders[at.slot][e] = sender;
  n.subkey_kept[at.slot][e] = true;
  n.most_recent_subkey[at.slot] = static_cast<uint8_t>(e);
}

void TopicKeyResolver::unlink(uint32_t i) {
  Node& n = nodes_[i];
  if (n.prev != kNone) nodes_[n.prev].next = n.next; else head_ = n.next;
  if (n.next != kNone) nodes_[n.next].prev = n.prev; else tail_ = n.prev;
  n.prev = n.next = kNone;
}

void TopicKeyResolver::push_front(uint32_t i) {
  Node& n = nodes_[i];
  n.prev = kNone;
  n.next = head_;
  if (head_ != kNone) nodes_[head_].prev = i;
  head_ = i;
  if (tail_ == kNone) tail_ = i;
}

uint32_t TopicKeyResolver::find(std::string_view topic) {
  // Devices and services often send or receive runs on one topic: the most
  // recently used entry is checked before hashing.
  if (head_ != kNone && nodes_[head_].topic == topic) return head_;
  scratch_.assign(topic.data(), topic.size());
  auto it = index_.find(scratch_);
  if (it == index_.end()) return kNone;
  const uint32_t i = it->second;
  if (head_ != i) {
    unlink(i);
    push_front(i);
  }
  return i;
}

Result<uint32_t> TopicKeyResolver::find_or_insert(std::string_view topic, const TopicRule* known_rule) {
  if (const uint32_t i = find(topic); i != kNone) return i;
  Result<const TopicRule*> rule = known_rule;
  if (known_rule == nullptr) rule = policy_.resolve(topic);  // validates the topic
  if (!rule) return std::move(rule).error();
  uint32_t i = 0;
  // A new node while below the bound, with the next slot: allocated already
  // (after a set_keyring) or now. Otherwise (full, or no guarded memory for
  // another slot) the least recently used node and its slot. After a growth
  // failed, the table tries no region again until set_keyring() wipes it:
  // not one sodium_malloc per new topic under the owner's lock.
  if (nodes_.size() < keys_.max_slots() && (nodes_.size() < keys_.size() || keys_.grow().ok())) {
    i = static_cast<uint32_t>(nodes_.size());
    nodes_.emplace_back();
  } else if (tail_ == kNone) {
    return Error(Errc::crypto_failure, "no guarded memory for the topic cache");
  } else {
    i = tail_;
    unlink(i);
    index_.erase(nodes_[i].topic);
    sodium_memzero(slot_key(i, 0), kKeysPerTopic * kKeySize);
    for (size_t slot = 0; slot < kKeysPerTopic; ++slot) forget_slot_subkeys(i, slot);
    nodes_[i] = Node{};
  }
  Node& n = nodes_[i];
  n.topic = scratch_;
  n.rule = *rule;
  index_.emplace(n.topic, i);
  push_front(i);
  return i;
}

Result<const Key*> TopicKeyResolver::key_for(const TopicRule& rule, KeyId id) const {
  const internal::KeyringEntryView entry = internal::KeyringAccess::find(*keyring_, id);
  if (entry.name == nullptr) return Errc::unknown_key;
  if (entry.state == KeyState::retired) return Errc::key_retired;
  if (*entry.name != rule.key_name) return Errc::wrong_key_for_topic;
  return entry.key;
}

// Suite 3 derives its keys from the envelope's key agreement (recipient_session.h).
static bool derives_topic_key(const TopicRule& rule, const std::optional<KeyId>& wanted) {
  return !rule.plaintext && wanted && rule.suite != Suite::sealed_to_recipient && rule.suite != Suite::signed_sealed;
}

void TopicKeyResolver::found_in(uint32_t i, size_t s, const SenderId* sender, ResolvedTopic& out,
                                uint8_t subkey[kKeySize], bool& subkey_found, bool touch) {
  Node& n = nodes_[i];
  bool stale = n.most_recent_slot != s;
  if (touch) n.most_recent_slot = static_cast<uint8_t>(s);
  out.key_id = n.slot_ids[s];
  out.node = i;
  out.slot = static_cast<uint8_t>(s);
  out.stamp = n.slot_stamps[s];
  bool subkey_stale = false;
  subkey_found = sender != nullptr && find_subkey(out, *sender, subkey, touch, subkey_stale);
  if (!subkey_found) std::memcpy(out.key, slot_key(i, s), kKeySize);
  out.stale_recency = !touch && (stale || subkey_stale);
}

void TopicKeyResolver::touch(const ResolvedTopic& at, const SenderId& sender) {
  if (!holds(at)) return;
  Node& n = nodes_[at.node];
  n.most_recent_slot = at.slot;
  for (size_t e = 0; e < subkeys_per_key_; ++e) {
    if (n.subkey_senders[at.slot][e] == sender && n.subkey_kept[at.slot][e]) {
      n.most_recent_subkey[at.slot] = static_cast<uint8_t>(e);
    }
  }
}

Status TopicKeyResolver::resolve(std::string_view topic, std::optional<KeyId> wanted, const SenderId* sender,
                                 ResolvedTopic& out, uint8_t subkey[kKeySize], bool& subkey_found) {
  subkey_found = false;
  Result<uint32_t> found = find_or_insert(topic);
  if (!found) return std::move(found).error();
  const uint32_t i = *found;
  Node& n = nodes_[i];
  out.rule = n.rule;
  if (!derives_topic_key(*n.rule, wanted)) return {};
  KeyId id = *wanted;
  if (id == kPrimaryKey) {
    if (n.primary == 0) {
      Result<KeyId> primary = keyring_->primary(n.rule->key_name);
      if (!primary) return primary.error();
      n.primary = *primary;
    }
    id = n.primary;
  }
  size_t s = slot_of(n, id);
  if (s == kKeysPerTopic) {  // not cached: derived into the less recently used slot
    Result<const Key*> key = key_for(*n.rule, id);
    if (!key) return key.error();
    s = claim_slot(i);
    if (Status st = derive_topic_key(**key, n.topic, slot_key(i, s)); !st) return st;
    n.slot_ids[s] = id;
    n.slot_stamps[s] = ++stamps_;
  }
  found_in(i, s, sender, out, subkey, subkey_found, true);
  return {};
}

Status TopicKeyResolver::lookup(std::string_view topic, std::optional<KeyId> wanted, const SenderId& sender,
                                ResolvedTopic& out, uint8_t subkey[kKeySize], bool& subkey_found) {
  subkey_found = false;
  out.generation = generation_;
  const uint32_t i = find(topic);
  if (i == kNone) {
    Result<const TopicRule*> rule = policy_.resolve(topic);  // validates the topic
    if (!rule) return std::move(rule).error();
    out.rule = *rule;
    out.pending = true;  // the topic, once authentic
  } else {
    out.rule = nodes_[i].rule;
  }
  if (!derives_topic_key(*out.rule, wanted)) return {};
  // An envelope names its key: kPrimaryKey (0) is no key of a keyring.
  const KeyId id = *wanted;
  if (i != kNone) {
    if (const size_t s = slot_of(nodes_[i], id); s < kKeysPerTopic) {
      found_in(i, s, &sender, out, subkey, subkey_found, false);
      return {};
    }
  }
  // Not held: derived for this envelope alone, cached by commit() if it is authentic.
  Result<const Key*> key = key_for(*out.rule, id);
  if (!key) return key.error();
  if (Status st = derive_topic_key(**key, topic, out.key); !st) return st;
  out.key_id = id;
  out.pending = true;
  return {};
}

void TopicKeyResolver::commit(std::string_view topic, const ResolvedTopic& at, const SenderId* sender,
                              const uint8_t subkey[kKeySize]) {
  if (at.generation != generation_) return;  // derived under a keyring replaced since
  if (topic.size() > kMaxCachedTopicSize) return;  // not kept: derived again per message
  if (!at.pending) {  // the key was cached: lookup() left its recency to this
    if (holds(at)) nodes_[at.node].most_recent_slot = at.slot;
    if (sender != nullptr) store_subkey(at, *sender, subkey);
    return;
  }
  // Another commit may have inserted it; lookup() found its rule.
  Result<uint32_t> found = find_or_insert(topic, at.rule);
  if (!found) return;
  if (at.key_id == 0) return;  // the topic alone (a rule with no derived key)
  const uint32_t i = *found;
  Node& n = nodes_[i];
  size_t s = slot_of(n, at.key_id);
  if (s == kKeysPerTopic) {  // into the less recently used slot, as resolve() derives
    s = claim_slot(i);
    std::memcpy(slot_key(i, s), at.key, kKeySize);
    n.slot_ids[s] = at.key_id;
    n.slot_stamps[s] = ++stamps_;
  }
  n.most_recent_slot = static_cast<uint8_t>(s);
  if (sender == nullptr) return;
  ResolvedTopic held;
  held.node = i;
  held.slot = static_cast<uint8_t>(s);
  held.stamp = n.slot_stamps[s];
  store_subkey(held, *sender, subkey);
}

}  // namespace mqseal::internal
