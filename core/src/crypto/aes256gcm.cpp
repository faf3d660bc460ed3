#include "crypto/aes256gcm.h"

#include <sodium.h>

#include <atomic>
#include <cstring>

#include "base/sodium_util.h"
#include "crypto/aead.h"
#include "crypto/blake2b.h"
#include "mqseal/envelope.h"

namespace mqseal::internal::aes256gcm {

static_assert(kSubkeySize == crypto_aead_aes256gcm_KEYBYTES, "AES-256 key");
static_assert(kNonceSize == crypto_aead_aes256gcm_NPUBBYTES, "GCM IV");
static_assert(kTagSize == crypto_aead_aes256gcm_ABYTES, "GCM tag");
static_assert(kNonceZeroSize + sizeof(uint64_t) == kNonceSize, "IV = 0^4 || be64(sequence)");
static_assert(kTagSize == aead::kTagSize, "every suite's tag is 16 bytes");
static_assert(kMaxSequence == kAes256GcmMaxSequence, "the public bound is this one");

namespace {

// The subkey's BLAKE2b personalisation: exactly 16 bytes, its own.
constexpr Blake2bPersonal kSubkeyPersonal = "mqseal aes256gcm";

// Tests may mask the CPU's answer (set_available_for_testing).
std::atomic<bool> g_masked{false};

std::atomic<uint64_t> g_max_sequence{kMaxSequence};
std::atomic<uint64_t> g_max_bytes{kMaxSessionBytes};

struct Iv {
  uint8_t bytes[kNonceSize] = {};
  explicit Iv(uint64_t sequence) noexcept { store_be64(bytes + kNonceZeroSize, sequence); }
};

}  // namespace

bool available() noexcept {
  // sodium_init() ran (ensure_sodium) before any caller gets here: it is
  // what fills in the CPU features libsodium reports.
  return !g_masked.load(std::memory_order_relaxed) && crypto_aead_aes256gcm_is_available() == 1;
}

SessionLimits session_limits() noexcept {
  return SessionLimits{g_max_sequence.load(std::memory_order_relaxed), g_max_bytes.load(std::memory_order_relaxed)};
}

void set_session_limits_for_testing(SessionLimits limits) noexcept {
  g_max_sequence.store(limits.max_sequence < kMaxSequence ? limits.max_sequence : kMaxSequence,
                       std::memory_order_relaxed);
  g_max_bytes.store(limits.max_bytes < kMaxSessionBytes ? limits.max_bytes : kMaxSessionBytes,
                    std::memory_order_relaxed);
}

void set_available_for_testing(bool value) noexcept { g_masked.store(!value, std::memory_order_relaxed); }

Error unavailable_error() {
  return Error(Errc::unsupported_suite,
               "suite 5 (AES-256-GCM) needs a CPU with AES-NI and PCLMULQDQ, which this one lacks");
}

Status derive_subkey(const uint8_t topic_key[kKeySize], const uint8_t sender[kSenderSize],
                     uint8_t subkey[kSubkeySize]) {
  if (!available()) return unavailable_error();
  return blake2b_personal(subkey, kSubkeySize, ByteView(topic_key, kKeySize), ByteView(sender, kSenderSize),
                          kSubkeyPersonal);
}

Status seal(const uint8_t subkey[kSubkeySize], uint64_t sequence, ByteView ad, ByteView header, ByteView plaintext,
            size_t max_plaintext, OutBuffer& out) {
  if (Status s = aead::check_buffers(plaintext, max_plaintext, out); !s) return s;
  if (!available()) {
    out.clear();
    return unavailable_error();
  }
  if (!out.take(header.size() + plaintext.size() + kTagSize)) {
    out.clear();
    return OutBuffer::too_small();
  }
  uint8_t* to = out.data();
  if (!header.empty()) std::memcpy(to, header.data(), header.size());
  const Iv iv(sequence);
  unsigned long long written = 0;
  // libsodium expands the key into a state on its stack and wipes it after
  // (tests/wipe_test.cpp finds no AES key left on an opening thread's stack;
  // it does find one when the state is left unwiped).
  if (crypto_aead_aes256gcm_encrypt(to + header.size(), &written, plaintext.data(), plaintext.size(), ad.data(),
                                    ad.size(), nullptr, iv.bytes, subkey) != 0) {
    out.clear();
    return Errc::crypto_failure;
  }
  return {};
}

Status open(const uint8_t subkey[kSubkeySize], uint64_t sequence, ByteView ad, ByteView sealed, OutBuffer& out) {
  if (overlaps(sealed.data(), sealed.size(), out.region(), out.region_size())) {
    return Error(Errc::invalid_argument, "the input may not live in the output buffer");
  }
  if (!available()) {
    out.clear();
    return unavailable_error();
  }
  if (sealed.size() >= kTagSize) {
    if (!out.take(sealed.size() - kTagSize)) {
      out.clear();
      return OutBuffer::too_small();
    }
    const Iv iv(sequence);
    unsigned long long written = 0;
    // On a mismatch libsodium zeroes what it wrote; clear() below wipes
    // caller memory again and empties a vector.
    if (crypto_aead_aes256gcm_decrypt(out.data(), &written, nullptr, sealed.data(), sealed.size(), ad.data(),
                                      ad.size(), iv.bytes, subkey) == 0) {
      return {};
    }
  }
  out.clear();
  return Errc::authentication_failed;
}

}  // namespace mqseal::internal::aes256gcm
