// mqseal/key.h: a 256-bit secret key held in guarded memory.
//
// A Key's bytes live in memory from libsodium's sodium_malloc (guard pages,
// locked against swapping where the system allows) and are wiped when the Key
// is destroyed. A Key made alone has a guarded allocation of its own; the
// many token keys of a Credentials share a few guarded regions
// (mqseal/credentials.h), which are freed, wiped, with their last key. There is no accessor that hands the bytes out: they reach
// disk only through Keyring::save, and never reach a log, an error or a repr.
//
//   auto key = mqseal::Key::generate();                       // CSPRNG
//   auto params = mqseal::PassphraseParams::generate();       // random salt
//   auto key2 = mqseal::Key::from_passphrase("correct horse", *params);
//
// Thread safety: a Key is immutable after creation; const use from many
// threads is safe.
#ifndef MQSEAL_KEY_H_
#define MQSEAL_KEY_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "mqseal/bytes.h"
#include "mqseal/error.h"

namespace mqseal {

namespace internal {
class Secret;      // core/src/base/secret.h: guarded memory, wiped when freed
struct KeyAccess;  // core/src/keys/key_access.h: how core code reaches key bytes
}  // namespace internal

inline constexpr size_t kKeySize = 32;           // XChaCha20-Poly1305 / BLAKE2b key
inline constexpr size_t kPassphraseSaltSize = 16;  // Argon2id salt

// How a key was stretched from a passphrase. Store these next to the key (the
// keyring file does) so the same passphrase gives the same key elsewhere.
struct PassphraseParams {
  std::array<uint8_t, kPassphraseSaltSize> salt{};
  uint64_t opslimit = 0;  // Argon2id passes
  uint64_t memlimit = 0;  // memory in bytes, not KiB (RFC 9106's m = memlimit / 1024)

  // A fresh random salt with libsodium's INTERACTIVE limits (64 MiB).
  [[nodiscard]] static Result<PassphraseParams> generate();
  // The limits Argon2id accepts in libsodium; anything else is refused.
  bool valid() const noexcept;
};

class Key {
 public:
  // A fresh key from the operating system's CSPRNG.
  [[nodiscard]] static Result<Key> generate();
  // Exactly kKeySize bytes, copied into guarded memory. invalid_argument
  // otherwise. The caller should wipe its own copy.
  [[nodiscard]] static Result<Key> from_bytes(ByteView bytes);
  // Argon2id13 over the passphrase. invalid_argument for params that are not
  // valid(); crypto_failure if the memory limit cannot be allocated.
  [[nodiscard]] static Result<Key> from_passphrase(std::string_view passphrase,
                                                   const PassphraseParams& params);

  Key(Key&&) noexcept;
  Key& operator=(Key&&) noexcept;
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  ~Key();

  // A second Key with the same bytes in its own guarded memory
  // (crypto_failure if there is none; invalid_argument for a moved-from key).
  [[nodiscard]] Result<Key> clone() const;
  // Constant-time comparison of the key bytes.
  bool same_bytes(const Key& other) const noexcept;

 private:
  friend struct internal::KeyAccess;
  Key(std::shared_ptr<internal::Secret> region, uint8_t* bytes) noexcept;
  void wipe() noexcept;  // zeroes the key's own bytes, then lets go of its region
  // The guarded memory the bytes are in: the key's own, or a region shared
  // with other keys (core/src/base/secret_arena.h). Null after a move.
  std::shared_ptr<internal::Secret> region_;
  uint8_t* bytes_ = nullptr;  // kKeySize bytes inside *region_, or null after a move
};

}  // namespace mqseal

#endif  // MQSEAL_KEY_H_
