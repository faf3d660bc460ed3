// mqseal/keyring.h: named sets of keys with one primary each (rotation).
//
// Policies name keys ("telemetry", "commands"); a Keyring holds, for each
// name, the keys that go by it. Each key has a KeyId, unique in the keyring,
// that is written into every envelope it seals, so a receiver knows which key
// to open with. Each key is in one of three states:
//
//   primary  seals new messages and opens; exactly one per name (if any)
//   active   opens only (a new key being rolled out, or an old one kept
//            for a grace period so messages in flight and retained
//            messages stay readable)
//   retired  opens nothing; its bytes are wiped and only its ID is kept, so
//            that an envelope naming it gets `key_retired`, not `unknown_key`
//
// Rotation without downtime (the Tink model):
//   1. add    a new key as active on every receiver's keyring;
//   2. roll out: wait until every receiver has it;
//   3. promote it on the senders (the old primary becomes active);
//   4. retire the old key once nothing sealed with it needs opening.
//
// File format: docs/SPEC.md, "Keyring file". Key bytes are written only by
// save(), to a file created with mode 0600; load() refuses a file that group
// or others can read unless LoadOptions::allow_insecure_permissions is set,
// and always a file owned by neither the effective user nor root (another
// user could have put keys of their choosing in it; root is accepted because
// it can replace any file anyway) or one group or others may write (for the
// same reason). The checks use fstat on the opened file.
//
// Thread safety: const methods may run concurrently; mutation needs exclusive
// access. Sealer and Opener take a std::shared_ptr<const Keyring>: to rotate,
// change a copy (clone()) and hand it to them with set_keyring().
#ifndef MQSEAL_KEYRING_H_
#define MQSEAL_KEYRING_H_

#include <cstddef>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mqseal/bytes.h"
#include "mqseal/error.h"
#include "mqseal/key.h"

namespace mqseal {

namespace internal {
struct KeyringAccess;  // core/src/keys/keyring_access.h: key lookup for Sealer and Opener
struct Line;           // core/src/files/line_file.h: one line of a keyring file
}  // namespace internal

enum class KeyState : uint8_t { primary = 1, active = 2, retired = 3 };
const char* name(KeyState state) noexcept;

// What a keyring entry is. IDs are unique across all kinds; names are per
// kind (a key name "plant7" and a signer name "plant7" are unrelated).
enum class KeyKind : uint8_t {
  symmetric = 1,       // a 32-byte key under a key name: seals and opens suite 1 and 2 payloads
  signing = 2,         // an Ed25519 key pair under a signer name: this device signs suite 2 as it
  trusted_signer = 3,  // another party's Ed25519 public key under its signer name: verifies only
  // Suite 3 (docs/SPEC.md, sections 1 and 4b), under a recipient name:
  recipient = 4,         // an X25519 key pair: opens what is sealed to its public half
  recipient_public = 5,  // a recipient's X25519 public key: seals to it, opens nothing
};
const char* name(KeyKind kind) noexcept;

inline constexpr size_t kSignerPublicKeySize = 32;  // Ed25519
inline constexpr size_t kSigningSeedSize = 32;      // Ed25519 seed (RFC 8032's private key)
using SignerPublicKey = std::array<uint8_t, kSignerPublicKeySize>;
inline constexpr size_t kRecipientPublicKeySize = 32;  // X25519
inline constexpr size_t kRecipientSecretKeySize = 32;  // X25519 scalar
// KeyInfo::public_key holds either kind of public key: both are 32 bytes.
static_assert(kRecipientPublicKeySize == kSignerPublicKeySize, "one public key type");

inline constexpr size_t kMaxKeyNameSize = 64;  // names: [A-Za-z0-9_.-]{1,64}
inline constexpr size_t kMaxKeyringKeys = 4096;
inline constexpr uint64_t kMaxKeyringFileSize = 1 << 20;

// How Keyring::load and Credentials::load treat the file's permissions.
struct LoadOptions {
  // Also read a file that group or others may read (0640 for a service's
  // group, say). A file owned by neither the effective user nor root, or one
  // group or others may write, is refused all the same.
  bool allow_insecure_permissions = false;
};

// What list() reports about a key: never its bytes.
struct KeyInfo {
  std::string name;
  KeyId id = 0;
  KeyState state = KeyState::active;
  std::optional<PassphraseParams> passphrase;  // set when derived from one
  KeyKind kind = KeyKind::symmetric;
  // signing and trusted_signer (not retired): the Ed25519 public key;
  // recipient and recipient_public (not retired): the X25519 public key.
  std::optional<SignerPublicKey> public_key;
};

class Keyring {
 public:
  Keyring();
  Keyring(Keyring&&) noexcept;
  Keyring& operator=(Keyring&&) noexcept;
  Keyring(const Keyring&) = delete;
  Keyring& operator=(const Keyring&) = delete;
  ~Keyring();

  // Adds `key` under `name` with a fresh random ID and returns the ID. The
  // first key of a name becomes primary; later ones are active until
  // promoted. invalid_argument for a bad name or a full keyring.
  [[nodiscard]] Result<KeyId> add(std::string_view name, Key key);
  // As add(), with an ID chosen by the caller (import, test vectors).
  // invalid_argument if the ID is 0 or taken.
  [[nodiscard]] Status add_with_id(std::string_view name, KeyId id, Key key,
                                   std::optional<PassphraseParams> passphrase = std::nullopt);
  // Generates a key from the CSPRNG and adds it.
  [[nodiscard]] Result<KeyId> generate(std::string_view name);

  // Signing key pairs (suite 2; docs/SPEC.md, sections 1 and 4a): Ed25519,
  // grouped by signer name (the same syntax as key names), with the same
  // states and rotation as symmetric keys: the first key pair of a signer is
  // primary (it signs), later ones active until promoted; a retired one is
  // wiped. The secret half lives in guarded memory and is written only by
  // save()/serialize(); export_public() gives the public halves.
  // invalid_argument for a bad name, a taken or 0 ID, a full keyring.
  [[nodiscard]] Result<KeyId> generate_signing_key(std::string_view signer);
  // The key pair of a 32-byte seed, with an ID chosen by the caller (import,
  // test vectors). The caller wipes its copy of the seed.
  [[nodiscard]] Status add_signing_key_with_id(std::string_view signer, KeyId id, const Key& seed);

  // Another party's public key, trusted to sign as `signer` (active; retire
  // it to revoke: envelopes naming it are then key_retired). invalid_argument
  // for a public key that is not 32 bytes or not a valid Ed25519 point of
  // the prime-order subgroup (a truncated or corrupted key), a bad name, a
  // taken or 0 ID, a full keyring.
  [[nodiscard]] Status add_trusted_signer(std::string_view signer, KeyId id, ByteView public_key);
  // A trusted signer's key known only as revoked: its name and ID, retired,
  // with no public key (what `trusted-ed25519 NAME ID retired -` in an
  // export says). Envelopes naming the ID are then key_retired, not
  // unknown_key, and the ID can never be given to another key of this
  // keyring. invalid_argument for a bad name, a taken or 0 ID, a full keyring.
  [[nodiscard]] Status add_retired_trusted_signer(std::string_view signer, KeyId id);

  // Recipient key pairs (suite 3; docs/SPEC.md, sections 1 and 4b): X25519,
  // grouped by recipient name (its own namespace), with the states of
  // symmetric keys (a recipient's primary is what a keyring holding it seals
  // to, when it holds no recipient public key of that name). The secret half
  // lives in guarded memory, wiped when retired or destroyed. The pair of a
  // 32-byte secret scalar with an ID chosen by the caller (import, vectors);
  // the caller wipes its copy. invalid_argument as for signing keys.
  [[nodiscard]] Result<KeyId> generate_recipient_key(std::string_view recipient);
  [[nodiscard]] Status add_recipient_key_with_id(std::string_view recipient, KeyId id, const Key& secret);
  // A recipient's public key (what a device holds): it seals to the primary
  // one of a name (the first added is primary, later ones active until
  // promoted: rotation as for symmetric keys) and opens nothing.
  // invalid_argument for a key that is not 32 bytes or is a low-order point
  // (crypto_scalarmult refuses it), a bad name, a taken or 0 ID, a full keyring.
  [[nodiscard]] Status add_recipient_public(std::string_view recipient, KeyId id, ByteView public_key);

  // Makes `id` the primary of its name; the previous primary becomes active.
  // unknown_key, or key_retired; invalid_argument for a trusted signer's key
  // (it only verifies: there is nothing to make primary).
  [[nodiscard]] Status promote(KeyId id);
  // Wipes the key and keeps its ID as retired. invalid_argument for the
  // primary (promote another key first); unknown_key.
  [[nodiscard]] Status retire(KeyId id);

  // The primary symmetric key ID of a key name: no_primary_key if there is none.
  [[nodiscard]] Result<KeyId> primary(std::string_view name) const;
  // The primary signing key ID of a signer name: no_primary_key if there is none.
  [[nodiscard]] Result<KeyId> primary_signing_key(std::string_view signer) const;
  // The public key of a signing key pair, a trusted signer's key, a
  // recipient key pair or a recipient public key: unknown_key (also for a
  // symmetric key's ID), key_retired.
  [[nodiscard]] Result<SignerPublicKey> public_key(KeyId id) const;
  // A keyring file (section 8) holding only public keys: a trusted-ed25519
  // line for every signing key pair and every trusted signer's key, in this
  // keyring's order, same IDs and names, states active or retired; and a
  // recipient-public-x25519 line for every recipient key pair and recipient
  // public key, state kept (a primary stays the one devices seal to). No
  // symmetric key, no secret half: safe to hand to receivers, who
  // Keyring::parse() it (and may merge it into theirs).
  std::string export_public() const;
  // The name and state of a key ID, or unknown_key.
  [[nodiscard]] Result<KeyInfo> info(KeyId id) const;
  // Every key, in the order added. No secret bytes (public keys, yes).
  std::vector<KeyInfo> list() const;
  size_t size() const noexcept;

  // A deep copy with the same IDs and states, key bytes in new guarded memory.
  [[nodiscard]] Result<Keyring> clone() const;

  // parse(), on the file's text: a parse_error says "PATH: line N: why".
  [[nodiscard]] static Result<Keyring> load(const std::string& path, LoadOptions options = {});
  // Writes atomically (temporary file, fsync, rename, fsync of the directory)
  // with mode 0600: once it returns success, the file survives a power loss.
  // io_error if `path` is a symbolic link (the rename would replace the link,
  // not the file it names), and if only the directory's fsync failed: the new
  // file is then in place, but a power loss may still undo it.
  [[nodiscard]] Status save(const std::string& path) const;

  // The file format in memory. Parsing reads only the given bytes; the
  // buffers that held key text are wiped before return.
  [[nodiscard]] static Result<Keyring> parse(std::string_view text);
  [[nodiscard]] Result<std::string> serialize() const;  // caller wipes it

 private:
  friend struct internal::KeyringAccess;
  // A signing, trusted-signer, recipient or recipient-public line.
  static Status parse_asymmetric_line(Keyring& keyring, const internal::Line& line,
                                      const std::vector<std::string_view>& tokens);
  struct Impl;
  std::unique_ptr<Impl> impl_;  // null only after a move
};

}  // namespace mqseal

#endif  // MQSEAL_KEYRING_H_
