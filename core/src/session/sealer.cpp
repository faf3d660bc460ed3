#include "mqseal/sealer.h"

#include <pthread.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <atomic>
#include <mutex>

#include "crypto/aead.h"
#include "crypto/aes256gcm.h"
#include "wire/envelope_internal.h"
#include "mqseal/envelope.h"
#include "session/recipient_session.h"
#include "session/signed_sender.h"
#include "session/topic_key_resolver.h"

namespace mqseal {

namespace {

// Incremented in every child process fork() creates. A Sealer that sees it
// change draws a new session ID before sealing again, so parent and child
// never continue the same nonce sequence.
std::atomic<uint64_t> g_fork_generation{0};

void on_fork_child() { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

// Suite 4 (docs/SPEC.md, section 4c): sign signer_key_id || payload with
// the header it will be sealed under, then seal signer_key_id || signature ||
// payload as suite 3.
// `subkey`: the session's XChaCha20 subkey under `topic_key` (crypto/aead.h).
Status seal_signed_sealed(std::string_view topic, ByteView payload, const EnvelopeHeader& header,
                                  const uint8_t topic_key[kKeySize], const uint8_t* signing_key,
                                  const uint8_t* subkey, internal::OutBuffer& out) {
  internal::SignedSealedInner inner(kSignedSealedInnerSize + payload.size());  // wiped when it goes
  internal::store_be32(inner.data(), header.signer_key_id);
  if (!payload.empty()) std::memcpy(inner.data() + kSignedSealedInnerSize, payload.data(), payload.size());
  uint8_t header_bytes[kHeaderSizeRecipient];
  internal::encode_sealed_header(header, header_bytes);
  Status s = internal::sign_sealed(signing_key, topic, header_bytes, inner.data(), inner.size());
  if (s) s = internal::seal_with_header(topic_key, topic, header, ByteView(inner.data(), inner.size()), out, subkey);
  if (!s) out.clear();
  return s;
}

void register_fork_handler() {
  static std::once_flag once;
  std::call_once(once, [] { pthread_atfork(nullptr, nullptr, on_fork_child); });
}

// Bytes around the payload in an envelope sealed under `rule` (not plaintext).
size_t overhead_of(const TopicRule& rule) {
  if (rule.compact) return kEnvelopeOverheadCompact;
  switch (rule.suite) {
    case Suite::signed_sender: return kEnvelopeOverheadSigned;
    case Suite::sealed_to_recipient: return kEnvelopeOverheadRecipient;
    case Suite::signed_sealed: return kEnvelopeOverheadSignedSealed;
    case Suite::symmetric:
    case Suite::aes256gcm: break;
  }
  return kEnvelopeOverhead;
}

// The size of the envelope of `payload_size` bytes under `rule`; the
// payload's own size under a plaintext rule. payload_too_large when the
// envelope would exceed kMaxEnvelopeSize.
Result<size_t> size_under(const TopicRule& rule, size_t payload_size) {
  if (rule.plaintext) return payload_size;
  const size_t overhead = overhead_of(rule);
  if (payload_size > kMaxEnvelopeSize - overhead) return Error(Errc::payload_too_large);
  return payload_size + overhead;
}

}  // namespace

struct Sealer::Impl {
  std::mutex mutex;
  internal::TopicKeyResolver resolver;
  SenderId sender{};
  uint64_t next_sequence = 0;
  uint64_t last_timestamp_ms = 0;  // a session's timestamps never decrease
  uint64_t fork_generation = 0;
  // Suite 5 bytes (payload, header and topic) sealed in this session: GCM's
  // bound per AES key (crypto/aes256gcm.h, kMaxSessionBytes).
  uint64_t aes_bytes = 0;
  Clock clock;  // empty: system_time_ms()
  std::string signer;  // SealerOptions::signer
  internal::RecipientSealing recipients;  // suites 3 and 4: this session's ephemeral key pair and derived keys
  uint64_t recipient_max_age_ms = 0;

  Impl(internal::TopicKeyResolver r, Clock c, std::string s, uint64_t max_age)
      : resolver(std::move(r)), clock(std::move(c)), signer(std::move(s)), recipient_max_age_ms(max_age) {
    new_session();
  }

  void new_session() {
    recipients.end();  // the ephemeral secret of the ending session is wiped
    resolver.forget_subkeys();  // of the ending session's sender
    randombytes_buf(sender.data(), sender.size());
    next_sequence = 0;
    aes_bytes = 0;
    last_timestamp_ms = 0;
    fork_generation = g_fork_generation.load(std::memory_order_relaxed);
  }
};

Sealer::Sealer(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
Sealer::Sealer(Sealer&&) noexcept = default;
Sealer& Sealer::operator=(Sealer&&) noexcept = default;
Sealer::~Sealer() = default;

Result<Sealer> Sealer::create(const TopicPolicy& policy, std::shared_ptr<const Keyring> keyring,
                              SealerOptions options) {
  if (Status s = internal::ensure_sodium(); !s) return s.error();
  register_fork_handler();
  Result<internal::TopicKeyResolver> resolver =
      internal::TopicKeyResolver::create(policy, std::move(keyring), options.topic_cache_capacity);
  if (!resolver) return std::move(resolver).error();
  return Sealer(std::make_unique<Impl>(std::move(*resolver), std::move(options.clock), std::move(options.signer),
                                       options.recipient_session_max_age_ms));
}

Status Sealer::seal(std::string_view topic, ByteView payload, std::vector<uint8_t>& out,
                    Publish publish) {
  internal::OutBuffer to(out);
  return seal_to(topic, payload, to, publish);
}

Status Sealer::seal(std::string_view topic, ByteView payload, uint8_t* out, size_t capacity, size_t& size,
                    Publish publish) {
  internal::OutBuffer to(out, capacity);
  Status s = seal_to(topic, payload, to, publish);
  size = s ? to.size() : to.needed();
  return s;
}

Status Sealer::seal_to(std::string_view topic, ByteView payload, internal::OutBuffer& out,
                       Publish publish) {
  // Before the topic: a refused payload costs no sequence number.
  if (Status s = internal::aead::check_buffers(payload, kMaxPayloadSize, out); !s) return s;
  internal::ResolvedTopic resolved;
  internal::ScopedWipe wipe(resolved.key, sizeof resolved.key);
  // HChaCha20(topic key, sender), the XChaCha20 subkey of every nonce of
  // this session under this key: suites 1 and 2, v1 to v3, kept by the
  // resolver from the session's first message on the key; suites 3 and 4,
  // kept by the recipient session next to its topic key.
  uint8_t subkey[internal::aead::kSubkeySize];
  internal::ScopedWipe wipe_subkey(subkey, sizeof subkey);
  bool have_subkey = false;
  uint8_t signing_key[internal::kSigningSecretSize];  // suite 2 only
  internal::ScopedWipe wipe_signing(signing_key, sizeof signing_key);
  EnvelopeHeader header;
  bool recipient_starting = false;  // suite 3: this message begins an ephemeral key pair
  size_t overhead = 0;              // the envelope's bytes around the payload, by the rule
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (Status s = impl_->resolver.resolve(topic, internal::kPrimaryKey, resolved); !s) {
      out.clear();
      return s;
    }
    if (resolved.rule->plaintext) return out.assign(payload);
    // The envelope's size follows from the rule (sealed_size() says it in
    // advance): a payload too large for it, or caller memory too small, is
    // refused here, before any sequence number or session state is used and
    // before the payload is read.
    const Result<size_t> size = size_under(*resolved.rule, payload.size());
    Status s = size ? Status() : Status(size.error());
    if (s && !out.fits(*size)) s = internal::OutBuffer::too_small();
    overhead = size ? *size - payload.size() : 0;
    if (s && resolved.rule->suite == Suite::signed_sender) {
      s = internal::prepare_signing(impl_->resolver.keyring(), *resolved.rule, topic, impl_->signer, header,
                                    signing_key);
    }
    if (!s) {
      out.clear();
      return s;
    }
    if (impl_->fork_generation != g_fork_generation.load(std::memory_order_relaxed)) {
      impl_->new_session();
    }
    // A compact envelope carries 4 bytes of sequence: past them, a new
    // session (new sender), never a wrap (docs/SPEC.md, section 4d).
    if (resolved.rule->compact && impl_->next_sequence > kCompactMaxSequence) impl_->new_session();
    // Suite 5: each session's subkey is one AES key; past GCM's bounds for
    // it (docs/SPEC.md, section 4e), a new session, hence a new subkey.
    const bool aes = resolved.rule->suite == Suite::aes256gcm;
    const uint64_t aes_bytes = aes ? payload.size() + kHeaderSize + internal::kTopicLengthSize + topic.size() : 0;
    if (aes) {
      const internal::aes256gcm::SessionLimits limits = internal::aes256gcm::session_limits();
      if (impl_->next_sequence > limits.max_sequence || impl_->aes_bytes > limits.max_bytes ||
          aes_bytes > limits.max_bytes - impl_->aes_bytes) {
        impl_->new_session();
      }
    }
    if (aes) header.suite = kSuiteAes256Gcm;
    const uint64_t now = impl_->clock ? impl_->clock() : system_time_ms();
    const bool signed_sealed = resolved.rule->suite == Suite::signed_sealed;
    if (resolved.rule->suite == Suite::sealed_to_recipient || signed_sealed) {
      // Suite 4: the signer first (no_primary_key, unauthorized_signer), as suite 2.
      if (signed_sealed) {
        s = internal::prepare_signing(impl_->resolver.keyring(), *resolved.rule, topic, impl_->signer, header,
                                      signing_key);
      }
      // A session sealing to recipients for longer than allowed starts a new
      // ephemeral key pair (the old secret wiped): forward secrecy in time.
      if (s && impl_->recipients.active() && impl_->recipient_max_age_ms != 0 &&
          std::max(impl_->last_timestamp_ms, now) - impl_->recipients.started_ms >= impl_->recipient_max_age_ms) {
        impl_->recipients.end();
      }
      recipient_starting = !impl_->recipients.active();
      if (s) s = impl_->recipients.prepare(impl_->resolver.keyring(), *resolved.rule, topic, header, resolved.key);
      if (!s) {
        out.clear();
        return s;
      }
      if (signed_sealed) header.suite = kSuiteSignedSealed;
    }
    if (impl_->next_sequence == UINT64_MAX) {
      out.clear();
      return Errc::nonce_exhausted;
    }
    header.sender = impl_->sender;
    header.sequence = impl_->next_sequence++;
    impl_->aes_bytes += aes_bytes;
    if (resolved.rule->compact) {
      header.version = kEnvelopeVersionCompact;
      std::fill(header.sender.begin() + kCompactSessionSize, header.sender.end(), uint8_t{0});
    }
    // `now` was read under this lock, with the sequence; never below the last one, so that within a
    // session timestamps do not decrease as the sequence grows, across
    // threads and wall-clock steps (docs/SPEC.md, section 6).
    impl_->last_timestamp_ms = std::max(impl_->last_timestamp_ms, now);
    header.timestamp_ms = impl_->last_timestamp_ms;
    if (recipient_starting) impl_->recipients.started_ms = header.timestamp_ms;
    if (header.suite == kSuiteSealedToRecipient || header.suite == kSuiteSignedSealed) {
      // After the sender is final: derived at the session's first message on
      // this topic, then copied (wiped with the session, RecipientSealing::end).
      if (Status st = impl_->recipients.subkey(header.sender, subkey); !st) {
        out.clear();
        return st;
      }
      have_subkey = true;
    } else {
      have_subkey = impl_->resolver.find_subkey(resolved, header.sender, subkey);
      if (!have_subkey) {
        // Suites 1 and 2: the nonce begins with the sender (v3: its session,
        // then zeros); suite 5: the session's AES key.
        if (Status st = internal::derive_sender_subkey(header.suite, resolved.key, header.sender, subkey); !st) {
          out.clear();
          return st;
        }
        impl_->resolver.store_subkey(resolved, header.sender, subkey);
        have_subkey = true;
      }
    }
  }
  if (header.suite != kSuiteSealedToRecipient && header.suite != kSuiteSignedSealed) header.key_id = resolved.key_id;
  // Every suite carries the retain flag; suite 4 signs it with the header.
  header.flags = publish == Publish::retained ? kFlagRetain : 0;
  out.reserve(payload.size() + overhead);  // outside the lock; a signature goes in without a copy
  const uint8_t* const known_subkey = have_subkey ? subkey : nullptr;
  if (header.suite == kSuiteSignedSealed) return seal_signed_sealed(topic, payload, header, resolved.key, signing_key, known_subkey, out);
  if (header.suite != kSuiteSignedSender) {
    return internal::seal_with_header(resolved.key, topic, header, payload, out, known_subkey);
  }
  if (Status s = internal::seal_with_header(resolved.key, topic, header, payload, out, known_subkey); !s) return s;
  return internal::append_signature(signing_key, topic, out);
}

Result<size_t> Sealer::sealed_size(std::string_view topic, size_t payload_size) {
  // In seal()'s order: the payload's size before the topic.
  if (payload_size > kMaxPayloadSize) return Error(Errc::payload_too_large);
  internal::ResolvedTopic resolved;  // the rule only: no key is derived
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (Status s = impl_->resolver.resolve(topic, std::nullopt, resolved); !s) return s.error();
  return size_under(*resolved.rule, payload_size);
}

Result<std::vector<uint8_t>> Sealer::seal(std::string_view topic, ByteView payload,
                                          Publish publish) {
  std::vector<uint8_t> out;
  if (Status s = seal(topic, payload, out, publish); !s) return s.error();
  return out;
}

void Sealer::set_keyring(std::shared_ptr<const Keyring> keyring) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->resolver.set_keyring(std::move(keyring));  // wipes the topic keys and their subkeys
  impl_->recipients.end();  // rotation ends suite 3's session: its secret is wiped
}

void Sealer::end_recipient_session() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->recipients.end();
}

SenderId Sealer::sender() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->sender;
}

}  // namespace mqseal
