#include "mqseal/sealer.h"

#include <pthread.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <mutex>

#include "crypto/aead.h"
#include "wire/envelope_internal.h"
#include "mqseal/envelope.h"
#include "session/signed_sender.h"
#include "session/topic_key_resolver.h"

namespace mqseal {

namespace {

// Incremented in every child process fork() creates. A Sealer that sees it
// change draws a new session ID before sealing again, so parent and child
// never continue the same nonce sequence.
std::atomic<uint64_t> g_fork_generation{0};

void on_fork_child() { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

void register_fork_handler() {
  static std::once_flag once;
  std::call_once(once, [] { pthread_atfork(nullptr, nullptr, on_fork_child); });
}

}  // namespace

struct Sealer::Impl {
  std::mutex mutex;
  internal::TopicKeyResolver resolver;
  SenderId sender{};
  uint64_t next_sequence = 0;
  uint64_t last_timestamp_ms = 0;  // a session's timestamps never decrease
  uint64_t fork_generation = 0;
  Clock clock;  // empty: system_time_ms()
  std::string signer;  // SealerOptions::signer

  Impl(internal::TopicKeyResolver r, Clock c, std::string s)
      : resolver(std::move(r)), clock(std::move(c)), signer(std::move(s)) {
    new_session();
  }

  void new_session() {
    randombytes_buf(sender.data(), sender.size());
    next_sequence = 0;
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
  return Sealer(std::make_unique<Impl>(std::move(*resolver), std::move(options.clock), std::move(options.signer)));
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
  uint8_t signing_key[internal::kSigningSecretSize];  // suite 2 only
  internal::ScopedWipe wipe_signing(signing_key, sizeof signing_key);
  EnvelopeHeader header;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (Status s = impl_->resolver.resolve(topic, internal::kPrimaryKey, resolved); !s) {
      out.clear();
      return s;
    }
    if (resolved.rule->plaintext) return out.assign(payload);
    if (resolved.rule->suite == Suite::signed_sender) {
      Status s = payload.size() > kMaxSignedPayloadSize
                     ? Status(Errc::payload_too_large)
                     : internal::prepare_signing(impl_->resolver.keyring(), *resolved.rule, topic, impl_->signer,
                                                 header, signing_key);
      if (!s) {
        out.clear();
        return s;
      }
    }
    if (impl_->fork_generation != g_fork_generation.load(std::memory_order_relaxed)) {
      impl_->new_session();
    }
    // A compact envelope carries 4 bytes of sequence: past them, a new
    // session (new sender), never a wrap (docs/SPEC.md, section 4b).
    if (resolved.rule->compact && impl_->next_sequence > kCompactMaxSequence) impl_->new_session();
    if (impl_->next_sequence == UINT64_MAX) {
      out.clear();
      return Errc::nonce_exhausted;
    }
    header.sender = impl_->sender;
    header.sequence = impl_->next_sequence++;
    if (resolved.rule->compact) {
      header.version = kEnvelopeVersionCompact;
      std::fill(header.sender.begin() + kCompactSessionSize, header.sender.end(), uint8_t{0});
    }
    // Read with the sequence, and never below the last one, so that within a
    // session timestamps do not decrease as the sequence grows, across
    // threads and wall-clock steps (docs/SPEC.md, section 6).
    const uint64_t now = impl_->clock ? impl_->clock() : system_time_ms();
    impl_->last_timestamp_ms = std::max(impl_->last_timestamp_ms, now);
    header.timestamp_ms = impl_->last_timestamp_ms;
  }
  header.key_id = resolved.key_id;
  header.flags = publish == Publish::retained ? kFlagRetain : 0;
  if (header.suite != kSuiteSignedSender) return internal::seal_with_header(resolved.key, topic, header, payload, out);
  // Caller memory must hold the signature too: said before anything is written.
  if (!out.fits(payload.size() + kEnvelopeOverheadSigned)) {
    out.clear();
    return internal::OutBuffer::too_small();
  }
  out.reserve(payload.size() + kEnvelopeOverheadSigned);  // the signature goes in without a copy
  if (Status s = internal::seal_with_header(resolved.key, topic, header, payload, out); !s) return s;
  return internal::append_signature(signing_key, topic, out);
}

Result<std::vector<uint8_t>> Sealer::seal(std::string_view topic, ByteView payload,
                                          Publish publish) {
  std::vector<uint8_t> out;
  if (Status s = seal(topic, payload, out, publish); !s) return s.error();
  return out;
}

void Sealer::set_keyring(std::shared_ptr<const Keyring> keyring) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->resolver.set_keyring(std::move(keyring));
}

SenderId Sealer::sender() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->sender;
}

}  // namespace mqseal
