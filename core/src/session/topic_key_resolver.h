// Private: from a concrete topic to the rule that covers it and the topic's
// derived key, with a bounded LRU cache so that no message pays a policy scan
// or a key derivation once its topic is warm. Shared by Sealer and Opener.
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
#include "mqseal/keyring.h"
#include "mqseal/policy.h"
#include "base/sodium_util.h"

namespace mqseal::internal {

// Two derived keys per topic: the current primary's and one more, so that
// during a rotation messages under the old and the new key alternate without
// re-deriving.
inline constexpr size_t kKeysPerTopic = 2;

// What resolve() found for a topic.
struct ResolvedTopic {
  const TopicRule* rule = nullptr;  // lives as long as the resolver
  KeyId key_id = 0;                 // 0 when no key was derived
  uint8_t key[kKeySize] = {};       // the derived key; the caller wipes it
};

// resolve()'s `wanted` for sealing: the primary key of the rule's key name.
inline constexpr KeyId kPrimaryKey = 0;

// Not thread-safe: its owner serialises calls.
class TopicKeyResolver {
 public:
  // Keeps its own copy of the policy; shares the keyring, which must not be
  // modified while shared.
  [[nodiscard]] static Result<TopicKeyResolver> create(const TopicPolicy& policy,
                                                       std::shared_ptr<const Keyring> keyring,
                                                       size_t capacity);

  // The rule that covers `topic` (invalid_topic, no_rule) and, unless the
  // rule is plaintext or `wanted` is empty, the topic's derived key: `wanted`
  // is the key ID an envelope names, or kPrimaryKey to seal. no_primary_key,
  // unknown_key, key_retired, wrong_key_for_topic, crypto_failure.
  [[nodiscard]] Status resolve(std::string_view topic, std::optional<KeyId> wanted, ResolvedTopic& out);

  void set_keyring(std::shared_ptr<const Keyring> keyring);
  // The keyring resolve() uses; valid until set_keyring.
  const Keyring& keyring() const noexcept { return *keyring_; }

 private:
  struct Node {
    std::string topic;
    const TopicRule* rule = nullptr;
    KeyId primary = 0;                   // 0 until looked up
    KeyId slot_ids[kKeysPerTopic] = {};  // 0 = empty slot
    uint8_t most_recent_slot = 0;
    uint32_t prev = kNone;
    uint32_t next = kNone;
  };
  static constexpr uint32_t kNone = UINT32_MAX;

  TopicKeyResolver(const TopicPolicy& policy, std::shared_ptr<const Keyring> keyring,
                   Secret arena, size_t capacity);
  // The cache slot of a topic, valid until the next call.
  Result<uint32_t> find_or_insert(std::string_view topic);
  uint8_t* slot_key(uint32_t index, size_t slot) {
    return arena_.data() + (static_cast<size_t>(index) * kKeysPerTopic + slot) * kKeySize;
  }
  void unlink(uint32_t index);
  void push_front(uint32_t index);
  void clear();

  TopicPolicy policy_;  // a private copy: Node::rule points into it
  std::shared_ptr<const Keyring> keyring_;
  Secret arena_;  // capacity * kKeysPerTopic derived keys
  size_t capacity_;
  std::vector<Node> nodes_;
  std::unordered_map<std::string, uint32_t> index_;
  std::string scratch_;  // reused for lookups, so a warm lookup allocates nothing
  uint32_t head_ = kNone;  // most recently used
  uint32_t tail_ = kNone;  // least recently used
};

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_TOPIC_KEY_RESOLVER_H_
