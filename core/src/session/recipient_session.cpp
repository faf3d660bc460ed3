#include "session/recipient_session.h"

#include <sodium.h>

#include <cstring>

#include "base/sodium_util.h"
#include "crypto/aead.h"
#include "crypto/blake2b.h"
#include "crypto/x25519.h"
#include "mqseal/options.h"
#include "keys/keyring_access.h"
#include "session/topic_key_resolver.h"
#include "wire/envelope_internal.h"

namespace mqseal::internal {

namespace {

constexpr Blake2bPersonal kSessionKeyPersonal = "mqseal recipient";
constexpr Blake2bPersonal kStreamPersonal = "mqseal r-stream ";
// Section 3's personalisation: a suite 3 topic key is a topic key whose K is
// the session key.
constexpr Blake2bPersonal kTopicKeyPersonal = "mqseal topic key";
// Names what the session key is for, inside the hashed message.
constexpr char kSessionLabel[] = "mqseal envelope v2 suite 3 session key";
constexpr size_t kSessionLabelSize = sizeof kSessionLabel - 1;  // no terminator
constexpr size_t kPointSize = x25519::kPublicKeySize;
constexpr size_t kSessionInputSize = kSessionLabelSize + 2 * kPointSize;
constexpr size_t kKeyIdSize = 4;

static_assert(kEphemeralKeySize == kPointSize && kRecipientPublicKeySize == kPointSize, "X25519 points");
static_assert(x25519::kSharedSize == kKeySize, "the agreement's output keys BLAKE2b");
static_assert(static_cast<uint8_t>(Suite::sealed_to_recipient) == kSuiteSealedToRecipient, "suite 3");

}  // namespace

Status derive_session_key(const uint8_t shared[32], const uint8_t ephemeral_public[32],
                          const uint8_t recipient_public[32], uint8_t session_key[kKeySize]) {
  uint8_t input[kSessionInputSize];
  std::memcpy(input, kSessionLabel, kSessionLabelSize);
  std::memcpy(input + kSessionLabelSize, ephemeral_public, kPointSize);
  std::memcpy(input + kSessionLabelSize + kPointSize, recipient_public, kPointSize);
  return blake2b_personal(session_key, kKeySize, ByteView(shared, x25519::kSharedSize), ByteView(input, sizeof input),
                          kSessionKeyPersonal);
}

Status derive_session_topic_key(const uint8_t session_key[kKeySize], std::string_view topic,
                                uint8_t topic_key[kKeySize]) {
  return blake2b_personal(topic_key, kKeySize, ByteView(session_key, kKeySize), topic, kTopicKeyPersonal);
}

Status recipient_stream(const uint8_t ephemeral_public[32], const SenderId& sender, SenderId& stream) {
  const ByteView parts[] = {ByteView(ephemeral_public, kPointSize), ByteView(sender.data(), sender.size())};
  return blake2b_personal_parts(stream.data(), stream.size(), parts, 2, kStreamPersonal);
}

// ---- sealing ----

Status RecipientSealing::prepare(const Keyring& keyring, const TopicRule& rule, std::string_view topic,
                                 EnvelopeHeader& header, uint8_t topic_key[kKeySize]) {
  const RecipientView to = KeyringAccess::sealing_recipient(keyring, rule.key_name);
  if (to.id == 0) return Error(Errc::no_primary_key, "no primary recipient key of this name");
  if (secret_.data() == nullptr) {
    Result<Secret> secret = Secret::allocate(x25519::kSecretKeySize);
    if (!secret) return std::move(secret).error();
    if (Status s = x25519::generate(public_.data(), secret->data()); !s) return s;
    secret_ = std::move(*secret);
  }
  prepared_ = kNonePrepared;
  Recipient* r = nullptr;
  for (Recipient& candidate : recipients_) {
    if (candidate.id == to.id) r = &candidate;
  }
  if (r == nullptr) {
    Result<Secret> keys = Secret::allocate(kKeysSize);
    if (!keys) return std::move(keys).error();
    uint8_t shared[x25519::kSharedSize];
    ScopedWipe wipe(shared, sizeof shared);
    if (Status s = x25519::agree(secret_.data(), to.public_key, shared); !s) return Errc::crypto_failure;
    if (Status s = derive_session_key(shared, public_.data(), to.public_key, keys->data()); !s) return s;
    recipients_.push_back(Recipient{to.id, std::move(*keys), {}, false, {}, false});
    r = &recipients_.back();
  }
  if (!r->has_topic || r->topic != topic) {
    // The topic key and its subkey are replaced: neither is kept until the
    // new topic key is, and the old subkey is wiped now (subkey() derives
    // the new one).
    r->has_topic = false;
    r->has_subkey = false;  // the old topic key's
    sodium_memzero(r->keys.data() + kSubkeyAt, kKeySize);
    if (Status s = derive_session_topic_key(r->keys.data(), topic, r->keys.data() + kTopicKeyAt); !s) return s;
    r->topic.assign(topic.data(), topic.size());
    r->has_topic = true;
  }
  std::memcpy(topic_key, r->keys.data() + kTopicKeyAt, kKeySize);
  header.suite = kSuiteSealedToRecipient;
  header.key_id = to.id;
  header.ephemeral = public_;
  prepared_ = static_cast<size_t>(r - recipients_.data());
  return {};
}

Status RecipientSealing::subkey(const SenderId& sender, uint8_t subkey[kKeySize]) {
  if (prepared_ >= recipients_.size() || !recipients_[prepared_].has_topic) {
    return Error(Errc::crypto_failure, "no suite 3 topic key prepared");
  }
  Recipient* r = &recipients_[prepared_];
  if (!r->has_subkey || r->subkey_sender != sender) {
    r->has_subkey = false;
    if (Status s = aead::derive_subkey(r->keys.data() + kTopicKeyAt, sender.data(), r->keys.data() + kSubkeyAt); !s) {
      return s;
    }
    r->subkey_sender = sender;
    r->has_subkey = true;
  }
  std::memcpy(subkey, r->keys.data() + kSubkeyAt, kKeySize);
  return {};
}

void RecipientSealing::end() noexcept {
  prepared_ = kNonePrepared;
  secret_ = Secret();  // sodium_free wipes the ephemeral scalar
  recipients_.clear();  // and every session key, topic key and subkey derived from it
  public_ = {};
  started_ms = 0;
}

// ---- opening ----

RecipientOpening::~RecipientOpening() { sodium_memzero(&keys, sizeof keys); }

Result<RecipientSessionCache> RecipientSessionCache::create(size_t capacity) {
  if (capacity == 0 || capacity > kMaxRecipientSessionCapacity) {
    return Error(Errc::invalid_argument, "recipient session cache capacity out of range");
  }
  return RecipientSessionCache(capacity);
}

size_t SessionIdHash::operator()(const RecipientSessionId& id) const noexcept {
  uint8_t out[crypto_shorthash_siphash24_BYTES];
  crypto_shorthash_siphash24(out, id.data(), id.size(), key.data());
  uint64_t h = 0;
  std::memcpy(&h, out, sizeof h);
  return static_cast<size_t>(h);
}

RecipientSessionCache::RecipientSessionCache(size_t capacity) : keys_(kSlotSize, capacity) {
  Hash hash;
  randombytes_buf(hash.key.data(), hash.key.size());
  index_ = std::unordered_map<SessionId, size_t, Hash>(0, hash);
}

RecipientSessionCache::SessionId RecipientSessionCache::id_of(const EnvelopeHeader& header) {
  SessionId id{};
  store_be32(id.data(), header.key_id);
  std::memcpy(id.data() + kKeyIdSize, header.ephemeral.data(), kEphemeralKeySize);
  return id;
}

size_t RecipientSessionCache::find(const SessionId& id) const {
  if (recent_ != kNoNode && nodes_[recent_].id == id) return recent_;
  auto it = index_.find(id);
  return it == index_.end() ? kNoNode : it->second;
}

Status RecipientSessionCache::prepare(const Keyring& keyring, const TopicRule& rule, std::string_view topic,
                                      const EnvelopeHeader& header, RecipientOpening& out) const {
  out.generation = generation_;
  const RecipientView key = KeyringAccess::find_recipient(keyring, header.key_id);
  if (key.name == nullptr) return Errc::unknown_key;  // also a public key only: it opens nothing
  if (key.state == KeyState::retired) return Errc::key_retired;
  if (*key.name != rule.key_name) return Errc::wrong_key_for_topic;
  if (const size_t i = find(id_of(header)); i != kNoNode) {
    const Node& n = nodes_[i];
    out.cached = true;
    std::memcpy(out.keys.session_key, slot(i), kKeySize);
    if (!n.topic.empty() && n.topic == topic) {  // empty: a topic too long to keep
      std::memcpy(out.keys.topic_key, slot(i) + kKeySize, kKeySize);
      if (n.has_subkey && n.sender == header.sender) {
        std::memcpy(out.keys.subkey, slot(i) + 2 * kKeySize, kKeySize);
        out.have_subkey = true;
      }
    } else if (Status s = derive_session_topic_key(out.keys.session_key, topic, out.keys.topic_key); !s) {
      return s;
    }
    if (n.sender == header.sender) {
      out.stream = n.stream;
      out.have_stream = true;
    }
    return {};
  }
  out.cached = false;
  std::memcpy(out.keys.secret, key.secret_key, sizeof out.keys.secret);
  std::memcpy(out.keys.recipient_public, key.public_key, sizeof out.keys.recipient_public);
  return {};
}

Status RecipientSessionCache::open(std::string_view topic, ByteView envelope, const EnvelopeHeader& header,
                                   RecipientOpening& keys, OutBuffer& payload) {
  RecipientOpening::Secrets& k = keys.keys;
  if (!keys.cached) {
    uint8_t shared[x25519::kSharedSize];
    ScopedWipe wipe(shared, sizeof shared);
    // A low-order ephemeral key: authentication_failed, like any forgery.
    if (Status s = x25519::agree(k.secret, header.ephemeral.data(), shared); !s) return s;
    if (Status s = derive_session_key(shared, header.ephemeral.data(), k.recipient_public, k.session_key); !s) {
      return s;
    }
    if (Status s = derive_session_topic_key(k.session_key, topic, k.topic_key); !s) return s;
  }
  // The XChaCha20 subkey (the nonce = sender || sequence begins with the
  // sender) is derived once per (session, topic, sender) and kept in the
  // cache; both AEAD backends take it (crypto/aead.h).
  if (!keys.have_subkey) {
    if (Status s = aead::derive_subkey(k.topic_key, header.sender.data(), k.subkey); !s) return s;
    keys.have_subkey = true;
  }
  if (Status s = open_body(k.topic_key, topic, envelope, header, payload, k.subkey); !s) return s;
  if (!keys.have_stream) {
    if (Status s = recipient_stream(header.ephemeral.data(), header.sender, keys.stream); !s) return s;
    keys.have_stream = true;
  }
  return {};
}

void RecipientSessionCache::make_recent(size_t i, bool linked) {
  Node& n = nodes_[i];
  if (linked) {
    if (recent_ == i) return;
    nodes_[n.newer].older = n.older;  // not the most recent: it has a newer one
    if (n.older != kNoNode) {
      nodes_[n.older].newer = n.newer;
    } else {
      oldest_ = n.newer;
    }
  }
  n.newer = kNoNode;
  n.older = recent_;
  if (recent_ != kNoNode) nodes_[recent_].newer = i;
  recent_ = i;
  if (oldest_ == kNoNode) oldest_ = i;
}

void RecipientSessionCache::commit(const EnvelopeHeader& header, std::string_view topic,
                                   const RecipientOpening& keys) {
  if (keys.generation != generation_) return;  // derived under a keyring cleared since
  const SessionId id = id_of(header);
  size_t i = find(id);
  if (i != kNoNode) {
    make_recent(i, true);  // used again: now the most recent
    const Node& n = nodes_[i];
    if (keys.cached && n.topic == topic && n.sender == header.sender && n.has_subkey == keys.have_subkey) {
      return;  // the steady state
    }
  } else if (nodes_.size() < keys_.max_slots() && (nodes_.size() < keys_.size() || keys_.grow().ok())) {
    i = nodes_.size();
    nodes_.emplace_back();
    index_.emplace(id, i);
    make_recent(i, false);
  } else if (oldest_ == kNoNode) {
    return;  // no guarded memory for a first entry: the next message derives again, the next commit tries again
  } else {  // full, or no guarded memory for another entry (none tried again until clear()): the LRU entry goes
    i = oldest_;
    index_.erase(nodes_[i].id);
    index_.emplace(id, i);
    make_recent(i, true);
  }
  Node& n = nodes_[i];
  n.id = id;
  // A topic longer than kMaxCachedTopicSize is not kept, nor its keys: the
  // session's next message derives them again. Anyone with the public key
  // makes sessions, and topics of up to 64 KiB each would let them fill the
  // heap with capacity copies.
  const bool keep_topic = topic.size() <= kMaxCachedTopicSize;
  if (!keep_topic) {
    n.topic.clear();  // its capacity stays within kMaxCachedTopicSize: no longer one was assigned
  } else if (n.topic != topic) {
    n.topic.assign(topic.data(), topic.size());
  }
  n.sender = header.sender;
  n.stream = keys.stream;
  n.has_subkey = keep_topic && keys.have_subkey;
  std::memcpy(slot(i), keys.keys.session_key, kKeySize);
  if (keep_topic) {
    std::memcpy(slot(i) + kKeySize, keys.keys.topic_key, kKeySize);
    std::memcpy(slot(i) + 2 * kKeySize, keys.keys.subkey, kKeySize);
  } else {
    sodium_memzero(slot(i) + kKeySize, 2 * kKeySize);
  }
}

void RecipientSessionCache::clear() noexcept {
  keys_.wipe();  // the slots stay allocated, for the new keyring's sessions
  nodes_.clear();
  index_.clear();
  recent_ = kNoNode;
  oldest_ = kNoNode;
  ++generation_;
}

}  // namespace mqseal::internal
