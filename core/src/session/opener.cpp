#include "mqseal/opener.h"

#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <optional>

#include "crypto/aead.h"
#include "keys/keyring_access.h"
#include "wire/envelope_internal.h"
#include "mqseal/envelope.h"
#include "session/opener_probe.h"
#include "session/recipient_session.h"
#include "session/shared_replay.h"
#include "session/signed_sender.h"
#include "session/topic_key_resolver.h"

namespace mqseal {

namespace {

// Tests only (session/opener_probe.h): null in a program that sets none. One
// load (acquire: a plain load on x86-64) and a branch per suite 3 or 4 open
// that reaches its session's commit; no per-Opener state.
std::atomic<const internal::SessionCommitProbe*> g_session_commit_probe{nullptr};

void before_session_commit(Opener& opener) {
  if (const internal::SessionCommitProbe* probe = g_session_commit_probe.load(std::memory_order_acquire)) {
    probe->run(probe->context, opener);
  }
}

}  // namespace

void internal::set_session_commit_probe(const SessionCommitProbe* probe) noexcept {
  g_session_commit_probe.store(probe, std::memory_order_release);
}

struct Opener::Impl {
  std::mutex mutex;  // guards the resolver; the replay guard locks itself
  internal::TopicKeyResolver resolver;
  ReplayGuard guard;
  std::unique_ptr<internal::SharedReplay> shared;  // null: the guard alone
  internal::RecipientSessionCache sessions;  // suite 3; guarded by `mutex`

  Impl(internal::TopicKeyResolver r, ReplayGuard g, internal::RecipientSessionCache c)
      : resolver(std::move(r)), guard(std::move(g)), sessions(std::move(c)) {}
};

Opener::Opener(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
Opener::Opener(Opener&&) noexcept = default;
Opener& Opener::operator=(Opener&&) noexcept = default;
Opener::~Opener() = default;

Result<Opener> Opener::create(const TopicPolicy& policy, std::shared_ptr<const Keyring> keyring,
                              OpenerOptions options) {
  if (Status s = internal::ensure_sodium(); !s) return s.error();
  Result<ReplayGuard> guard = ReplayGuard::create(options.replay);
  if (!guard) return std::move(guard).error();
  const std::shared_ptr<const Keyring> keys = keyring;
  Result<internal::TopicKeyResolver> resolver =
      internal::TopicKeyResolver::create(policy, std::move(keyring), options.topic_cache_capacity,
                                         internal::kMaxSubkeysPerKey);
  if (!resolver) return std::move(resolver).error();
  if (Status s = internal::SharedReplay::validate(options, policy, *keys); !s) return s.error();
  Result<internal::RecipientSessionCache> sessions =
      internal::RecipientSessionCache::create(options.recipient_session_capacity);
  if (!sessions) return std::move(sessions).error();
  auto impl = std::make_unique<Impl>(std::move(*resolver), std::move(*guard), std::move(*sessions));
  if (options.replay_store != nullptr) {
    impl->shared = std::make_unique<internal::SharedReplay>(std::move(options.replay_store),
                                                            options.max_claims_per_key_name, options.replay_group);
  }
  return Opener(std::move(impl));
}

Status Opener::open(std::string_view topic, ByteView envelope, const Delivery& delivery,
                    Opened& out) {
  internal::OutBuffer payload(out.payload);
  return open_to(topic, envelope, delivery, payload, out);
}

Status Opener::open(std::string_view topic, ByteView envelope, const Delivery& delivery, uint8_t* payload,
                    size_t capacity, size_t& size, Opened& out) {
  out.payload.clear();
  internal::OutBuffer to(payload, capacity);
  Status s = open_to(topic, envelope, delivery, to, out);
  size = s ? to.size() : to.needed();
  return s;
}

Status Opener::open_to(std::string_view topic, ByteView envelope, const Delivery& delivery,
                       internal::OutBuffer& payload, Opened& out) {
  // A vector payload keeps its size until the end, so that a caller reusing
  // `out` for same-size messages pays no zero-fill; every failure clears it
  // (but an envelope inside it, which open_into lets go of untouched).
  Status s = open_into(topic, envelope, delivery, payload, out);
  if (!s) {
    payload.clear();
    out.sealed = false;
    // A refusal after the signature verified keeps the verified signer
    // (signer_key_id set once it verified); any other names none.
    if (out.signer_key_id == 0) out.signer.clear();
  }
  return s;
}

Status Opener::open_into(std::string_view topic, ByteView envelope, const Delivery& delivery,
                         internal::OutBuffer& payload, Opened& out) {
  out.sealed = false;
  out.retained = false;
  out.signer.clear();
  out.signer_key_id = 0;
  if (internal::overlaps(envelope.data(), envelope.size(), payload.region(), payload.region_size())) {
    // Refused before anything is read; `out` names nothing of an earlier
    // message (above). The buffer holds the caller's envelope: let go of it,
    // so that open_to's clear() after the failure leaves it as it is.
    payload.detach();
    return Error(Errc::invalid_argument, "envelope may not live in the output buffer");
  }
  EnvelopeHeader header;  // in place: no copy of it per message
  Status parsed = internal::parse_header_into(envelope, header);
  std::optional<KeyId> wanted;  // none: the rule alone (no key for a bad header)
  if (parsed && header.key_id != 0) wanted = header.key_id;
  internal::ResolvedTopic resolved;
  internal::ScopedWipe wipe(resolved.key, sizeof resolved.key);
  uint8_t signer_key[kSignerPublicKeySize];  // suite 2: the signer's public key
  Status signer_found;
  // Suites 3 and 4 only: derived keys (wiped). Made when the header names
  // one of them, so that suites 1 and 2 neither zero nor wipe its 160 bytes.
  std::optional<internal::RecipientOpening> recipient;
  // Suites 1 and 2: HChaCha20(topic key, sender), suite 5 the sender's AES
  // key (crypto/aes256gcm.h), from the resolver's cache
  // if an authentic envelope of this sender under this key put it there.
  uint8_t subkey[internal::aead::kSubkeySize];
  internal::ScopedWipe wipe_subkey(subkey, sizeof subkey);
  bool subkey_cached = false;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    // With the sender's subkey kept, the topic key stays in guarded memory.
    // A topic or key not cached yet is derived into `resolved.key` and
    // cached (resolver.commit) only once the envelope proved authentic.
    if (Status s = impl_->resolver.lookup(topic, wanted, header.sender, resolved, subkey, subkey_cached); !s) return s;
    if (parsed && !resolved.rule->plaintext) {
      signer_found = internal::find_signer(impl_->resolver.keyring(), *resolved.rule, header, signer_key, out.signer);
      if (signer_found && (header.suite == kSuiteSealedToRecipient || header.suite == kSuiteSignedSealed) &&
          header.key_id != 0) {
        signer_found = impl_->sessions.prepare(impl_->resolver.keyring(), *resolved.rule, topic, header, recipient.emplace());
      }
    }
  }
  // The rule comes first: a plaintext topic passes any payload through, and
  // a sealed topic never passes a payload through unopened.
  const TopicRule& rule = *resolved.rule;
  if (rule.plaintext) return payload.assign(envelope);
  if (!parsed) return parsed;
  if (header.key_id == 0) return Errc::unknown_key;
  // The envelope version is the rule's: no downgrade to 55 bytes' fields, no
  // compact envelope where the rule wants the full one.
  if ((header.version == kEnvelopeVersionCompact) != rule.compact) return Errc::wrong_suite_for_topic;
  if (!signer_found) return signer_found;
  // Encrypt-then-sign: the signature, and the signer's authorisation, before
  // decryption and before any replay state.
  if (header.suite == kSuiteSignedSender) {
    if (Status s = internal::verify_signature(signer_key, topic, envelope); !s) return s;
    out.signer_key_id = header.signer_key_id;  // verified: from here on, a refusal names the signer
    if (!signer_authorized(rule, topic, out.signer)) return Errc::unauthorized_signer;
  }
  const uint64_t now = delivery.now_ms != 0 ? delivery.now_ms : system_time_ms();
  // v3 carries seconds modulo 2^24: the full time is read against `now`, and
  // authenticated with the rest (a wrong reading fails the tag).
  if (header.version == kEnvelopeVersionCompact) header.timestamp_ms = compact_timestamp_ms(header.timestamp_ms, now);
  if (header.suite == kSuiteSealedToRecipient) {
    // Derive (or take from the cache), verify and decrypt; only then may the
    // session's keys enter the cache (docs/SPEC.md, section 4b).
    if (Status s = internal::RecipientSessionCache::open(topic, envelope, header, *recipient, payload); !s) return s;
    before_session_commit(*this);
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->sessions.commit(header, topic, *recipient);
    // The topic is not cached (resolved.pending stays uncommitted): anyone
    // holding the recipient's public key seals authentic suite 3 envelopes,
    // so, as plaintext topics, suite 3 topics would let anyone grow the
    // topic-key cache's guarded memory and evict other topics' keys. Their
    // rule is looked up again per message; the session cache keeps the
    // session's last topic key.
  } else if (header.suite == kSuiteSignedSealed) {
    if (Status s = open_signed_sealed(rule, topic, envelope, header, *recipient, payload, out); !s) return s;
    if (resolved.pending) {
      std::lock_guard<std::mutex> lock(impl_->mutex);
      impl_->resolver.commit(topic, resolved, nullptr, nullptr);
    }
  } else {
    // The nonce begins with the sender (v3: its session, then zeros); suite
    // 5's AES key is the sender's.
    if (!subkey_cached) {
      if (Status s = internal::derive_sender_subkey(header.suite, resolved.key, header.sender, subkey); !s) return s;
    }
    if (Status s = internal::open_body(resolved.key, topic, envelope, header, payload, subkey); !s) return s;
    // Only an authentic envelope's topic, key and sender enter the cache, or
    // become its most recently used key and subkey: forgeries add no state
    // (no growth, no eviction, no say in what is evicted next).
    if (!subkey_cached) {
      std::lock_guard<std::mutex> lock(impl_->mutex);
      impl_->resolver.commit(topic, resolved, &header.sender, subkey);
    } else if (resolved.stale_recency) {  // another sender's or key's turn: rare in a run
      std::lock_guard<std::mutex> lock(impl_->mutex);
      impl_->resolver.touch(resolved, header.sender);
    }
  }
  MessageFacts facts;
  facts.topic = topic;
  facts.key_name = rule.key_name;
  char partition[1 + kMaxKeyNameSize];  // suite 3: kRecipientPartitionTag || the recipient name
  if (header.suite == kSuiteSealedToRecipient) {
    const size_t name_size = std::min(rule.key_name.size(), kMaxKeyNameSize);  // a valid name fits
    partition[0] = internal::kRecipientPartitionTag;
    std::memcpy(partition + 1, rule.key_name.data(), name_size);
    facts.key_name = std::string_view(partition, 1 + name_size);
    facts.public_sealers = true;
  }
  if (header.suite == kSuiteSignedSender || header.suite == kSuiteSignedSealed) facts.signer = out.signer;
  // Suites 3 and 4: the stream is the (ephemeral key, sender) pair's, which only the
  // session's sealer can write to; a sender ID alone anyone could copy.
  facts.sender = header.suite == kSuiteSealedToRecipient || header.suite == kSuiteSignedSealed ? recipient->stream
                                                                                               : header.sender;
  facts.sequence = header.sequence;
  facts.timestamp_ms = header.timestamp_ms;
  // The retain flag on delivery is not authenticated; the publisher's intent
  // is. Only a message sealed to be retained is judged as retained, so a
  // live message (and any v1 envelope, which cannot say) flagged as retained
  // in transit meets the live rules.
  facts.retained = delivery.retained && (header.flags & kFlagRetain) != 0;
  facts.retained_rule = rule.retained ? &*rule.retained : nullptr;
  if (Status s = impl_->shared ? impl_->shared->check(impl_->guard, facts, now) : impl_->guard.check(facts, now); !s) {
    return s;
  }
  out.sealed = true;
  out.key_id = header.key_id;
  out.timestamp_ms = header.timestamp_ms;
  out.sender = header.sender;
  out.sequence = header.sequence;
  out.retained = facts.retained;
  return {};
}

// Suite 4 (docs/SPEC.md, section 4c): decrypt as suite 3 into a buffer of
// our own, then the signer (unknown_signer, key_retired), its signature
// (authentication_failed) and authorisation (unauthorized_signer); only then
// the payload out, and the session's keys into the cache (any holder of the
// recipient's public key can pass the AEAD).
Status Opener::open_signed_sealed(const TopicRule& rule, std::string_view topic, ByteView envelope,
                                  EnvelopeHeader& header, internal::RecipientOpening& keys,
                                  internal::OutBuffer& payload, Opened& out) {
  // parse_header checked that the envelope holds a suite 4 overhead.
  internal::SignedSealedInner inner(envelope.size() - kEnvelopeOverheadRecipient);  // wiped when it goes
  internal::OutBuffer to(inner.data(), inner.size());
  Status s = internal::RecipientSessionCache::open(topic, envelope, header, keys, to);
  if (s && to.size() < kSignedSealedInnerSize) s = Error(Errc::malformed, "no signer inside a suite 4 envelope");
  uint8_t public_key[kSignerPublicKeySize];
  if (s) {
    header.signer_key_id = internal::load_be32(inner.data());
    std::lock_guard<std::mutex> lock(impl_->mutex);
    const internal::SignerView found = internal::KeyringAccess::find_signer(impl_->resolver.keyring(), header.signer_key_id);
    if (header.signer_key_id == 0 || found.name == nullptr) {
      s = Errc::unknown_signer;
    } else if (found.state == KeyState::retired) {
      s = Errc::key_retired;
    } else {
      std::memcpy(public_key, found.public_key, sizeof public_key);
      out.signer = *found.name;
    }
  }
  uint8_t header_bytes[kHeaderSizeRecipient];
  std::memcpy(header_bytes, envelope.data(), sizeof header_bytes);  // parse_header checked the size
  if (s) s = internal::verify_sealed(public_key, topic, header_bytes, ByteView(inner.data(), inner.size()));
  if (s) out.signer_key_id = header.signer_key_id;  // verified: from here on, a refusal names the signer
  if (s && !signer_authorized(rule, topic, out.signer)) s = Errc::unauthorized_signer;
  if (s) s = payload.assign(ByteView(inner.data() + kSignedSealedInnerSize, inner.size() - kSignedSealedInnerSize));
  if (!s) return s;  // nothing that failed enters the cache: any holder of R passes the AEAD
  before_session_commit(*this);
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->sessions.commit(header, topic, keys);
  return {};
}

Result<Opened> Opener::open(std::string_view topic, ByteView envelope, const Delivery& delivery) {
  Opened out;
  if (Status s = open(topic, envelope, delivery, out); !s) return s.error();
  return out;
}

void Opener::set_keyring(std::shared_ptr<const Keyring> keyring) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->resolver.set_keyring(std::move(keyring));
  impl_->sessions.clear();  // keys derived under the old keyring (a retired key's) go
}

bool Opener::recipient_session_cached(KeyId recipient, const std::array<uint8_t, kEphemeralKeySize>& ephemeral) const {
  EnvelopeHeader header;
  header.key_id = recipient;
  header.ephemeral = ephemeral;
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->sessions.contains(header);
}

size_t Opener::recipient_sessions() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->sessions.size();
}

const ReplayGuard& Opener::replay_guard() const noexcept { return impl_->guard; }

bool Opener::shares_replay_state() const noexcept { return impl_->shared != nullptr; }

}  // namespace mqseal
