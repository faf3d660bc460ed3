// The keyring file format (docs/SPEC.md, "Keyring file"), and loading and
// saving it with safe permissions.
#include <sodium.h>

#include <string>
#include <vector>

#include "base/hex.h"
#include "crypto/signature.h"
#include "crypto/x25519.h"
#include "files/line_file.h"
#include "keys/key_access.h"
#include "keys/keyring_impl.h"
#include "keys/key_name.h"
#include "mqseal/keyring.h"
#include "base/sodium_util.h"

namespace mqseal {

namespace {

constexpr std::string_view kHeaderLine = "mqseal-keyring v1";
constexpr std::string_view kRetiredMaterial = "-";
constexpr std::string_view kArgon2idTag = "argon2id";
constexpr size_t kKeyIdHexSize = 8;
constexpr std::string_view kSymmetricTag = "key";
// Line types of the signature keys: the algorithm is in the type, so that
// another algorithm is another line type that older readers refuse.
constexpr std::string_view kSigningTag = "signing-ed25519";  // NAME ID STATE SEED PUBLIC
constexpr std::string_view kTrustedTag = "trusted-ed25519";  // NAME ID STATE PUBLIC
// Suite 3's recipient keys (X25519), the same way.
constexpr std::string_view kRecipientTag = "recipient-x25519";               // NAME ID STATE SECRET PUBLIC
constexpr std::string_view kRecipientPublicTag = "recipient-public-x25519";  // NAME ID STATE PUBLIC
constexpr size_t kSigningFields = 6;
constexpr size_t kTrustedFields = 5;
constexpr size_t kMaxTokensPerLine = 9;  // key NAME ID STATE MATERIAL argon2id SALT OPS MEM
// Longest line serialize() writes, rounded up: reserving this much per key
// means the output never reallocates, so no copy of key text is left behind
// unwiped in freed memory.
constexpr size_t kMaxLineSize = 256;

bool parse_key_id(std::string_view hex, KeyId& id) {
  uint8_t bytes[kKeyIdHexSize / 2];
  if (!internal::hex_decode(hex, bytes, sizeof bytes)) return false;
  id = internal::load_be32(bytes);
  return true;
}

bool parse_state(std::string_view text, KeyState& state) {
  for (KeyState s : {KeyState::primary, KeyState::active, KeyState::retired}) {
    if (text == name(s)) {
      state = s;
      return true;
    }
  }
  return false;
}

}  // namespace

namespace {

// What tells the two asymmetric algorithms' lines apart (section 8 of
// docs/SPEC.md): NAME ID STATE [SECRET] PUBLIC, a key pair's line with its
// secret (an Ed25519 seed, an X25519 scalar), a public key's line without.
struct AsymmetricLine {
  std::string_view pair_tag;
  KeyKind pair_kind;
  KeyKind public_kind;
  bool public_may_be_primary;      // a trusted signer may not: receivers never seal with it
  const char* invalid_name;        // the messages its errors give
  const char* second_primary;
  const char* secret_hex;
  const char* mismatch;
  bool (*valid_public)(const uint8_t*);
  const char* invalid_public;
  const char* unusable_secret;     // null: the entry maker's own error
};

constexpr AsymmetricLine kSignatureLine{kSigningTag,
                                        KeyKind::signing,
                                        KeyKind::trusted_signer,
                                        false,
                                        "invalid signer name",
                                        "second primary key for one signer",
                                        "seed must be 64 hex digits",
                                        "public key does not match the seed",
                                        internal::ed25519::valid_public_key,
                                        "not a valid Ed25519 public key",
                                        nullptr};
constexpr AsymmetricLine kRecipientLine{kRecipientTag,
                                        KeyKind::recipient,
                                        KeyKind::recipient_public,
                                        true,
                                        "invalid recipient name",
                                        "second primary key for one recipient",
                                        "secret must be 64 hex digits",
                                        "public key does not match the secret",
                                        internal::x25519::valid_public_key,
                                        "a low-order X25519 public key",
                                        "unusable X25519 secret"};

}  // namespace

Status Keyring::parse_asymmetric_line(Keyring& keyring, const internal::Line& line,
                                      const std::vector<std::string_view>& tokens) {
  const bool recipient = tokens[0] == kRecipientTag || tokens[0] == kRecipientPublicTag;
  const AsymmetricLine& as = recipient ? kRecipientLine : kSignatureLine;
  const bool pair = tokens[0] == as.pair_tag;
  if (tokens.size() != (pair ? kSigningFields : kTrustedFields)) return line.error("wrong number of fields");
  if (!internal::valid_key_name(tokens[1])) return line.error(as.invalid_name);
  KeyId id = 0;
  if (!parse_key_id(tokens[2], id) || id == 0) return line.error("key ID must be 8 hex digits, not 00000000");
  if (keyring.impl_->find(id) != nullptr) return line.error("duplicate key ID");
  KeyState state = KeyState::active;
  if (!parse_state(tokens[3], state)) return line.error("unknown key state");
  const KeyKind kind = pair ? as.pair_kind : as.public_kind;
  if (!pair && !as.public_may_be_primary && state == KeyState::primary) {
    return line.error("a trusted signer's key is active or retired");
  }
  if (state == KeyState::primary && keyring.impl_->primary_of(tokens[1], kind) != nullptr) {
    return line.error(as.second_primary);
  }
  const std::string_view public_hex = tokens[pair ? 5 : 4];
  Impl::Entry entry;
  if (state == KeyState::retired) {
    if (public_hex != kRetiredMaterial || (pair && tokens[4] != kRetiredMaterial)) {
      return line.error("retired key with key material");
    }
  } else {
    SignerPublicKey pk{};
    if (!internal::hex_decode(public_hex, pk.data(), pk.size())) {
      return line.error("public key must be 64 hex digits");
    }
    if (!as.valid_public(pk.data())) return line.error(as.invalid_public);
    if (pair) {
      Result<Key> secret = internal::KeyAccess::from_hex(tokens[4]);
      if (!secret && secret.error() == Errc::invalid_argument) return line.error(as.secret_hex);
      if (!secret) return std::move(secret).error();
      const uint8_t* bytes = internal::KeyAccess::bytes(*secret);
      Result<Impl::Entry> made = recipient ? Impl::recipient_entry(bytes) : Impl::signing_entry(bytes);
      if (!made && as.unusable_secret != nullptr) return line.error(as.unusable_secret);
      if (!made) return std::move(made).error();
      // The public key written next to the secret must be the secret's: an
      // edited line is refused instead of signing as nobody or sealing to
      // nobody (devices seal to the exported public key).
      if (sodium_memcmp(made->public_key->data(), pk.data(), pk.size()) != 0) return line.error(as.mismatch);
      entry = std::move(*made);
    } else {
      entry.public_key = pk;
    }
  }
  entry.kind = kind;
  entry.name = std::string(tokens[1]);
  entry.id = id;
  entry.state = state;
  if (keyring.size() >= kMaxKeyringKeys) return line.error("too many keys");
  keyring.impl_->append(std::move(entry));
  return {};
}

void Keyring::Impl::append_recipient_line(const Entry& e, bool with_secret, std::string& out) {
  uint8_t id_bytes[4];
  internal::store_be32(id_bytes, e.id);
  out += with_secret ? kRecipientTag : kRecipientPublicTag;
  out += " " + e.name + " " + internal::hex_encode(ByteView(id_bytes, sizeof id_bytes)) + " ";
  out += name(e.state);
  out += " ";
  if (with_secret) {
    if (e.signing.data() == nullptr) {
      out += kRetiredMaterial;
    } else {
      internal::hex_append(out, ByteView(e.signing.data(), kRecipientSecretKeySize));
    }
    out += " ";
  }
  if (e.public_key) {
    out += internal::hex_encode(ByteView(*e.public_key));
  } else {
    out += kRetiredMaterial;
  }
  out += "\n";
}

Result<Keyring> Keyring::parse(std::string_view text) {
  if (Status s = internal::ensure_sodium(); !s) return s.error();
  if (text.size() > kMaxKeyringFileSize) return Error(Errc::parse_error, "keyring file too large");
  Keyring keyring;
  std::vector<std::string_view> tokens;
  const Status parsed = internal::parse_lines(text, kHeaderLine, "keyring", [&](const internal::Line& line) -> Status {
    if (!internal::split_fields(line.text, kMaxTokensPerLine, tokens) ||
        (tokens[0] != kSymmetricTag && tokens[0] != kSigningTag && tokens[0] != kTrustedTag &&
         tokens[0] != kRecipientTag && tokens[0] != kRecipientPublicTag)) {
      return line.error("expected 'key NAME ID STATE MATERIAL [argon2id SALT OPS MEM]', "
                        "'signing-ed25519 NAME ID STATE SEED PUBLIC', 'trusted-ed25519 NAME ID STATE PUBLIC', "
                        "'recipient-x25519 NAME ID STATE SECRET PUBLIC' or 'recipient-public-x25519 NAME ID STATE PUBLIC'");
    }
    if (tokens[0] != kSymmetricTag) return parse_asymmetric_line(keyring, line, tokens);
    if (tokens.size() != 5 && tokens.size() != 9) return line.error("wrong number of fields");
    Impl::Entry entry;
    if (!internal::valid_key_name(tokens[1])) return line.error("invalid key name");
    entry.name = std::string(tokens[1]);
    if (!parse_key_id(tokens[2], entry.id) || entry.id == 0) {
      return line.error("key ID must be 8 hex digits, not 00000000");
    }
    if (keyring.impl_->find(entry.id) != nullptr) return line.error("duplicate key ID");
    if (!parse_state(tokens[3], entry.state)) return line.error("unknown key state");
    if (entry.state == KeyState::primary && keyring.impl_->primary_of(entry.name, KeyKind::symmetric) != nullptr) {
      return line.error("second primary key for one name");
    }
    if (entry.state == KeyState::retired) {
      if (tokens[4] != kRetiredMaterial) return line.error("retired key with key material");
    } else {
      Result<Key> key = internal::KeyAccess::from_hex(tokens[4]);
      if (!key && key.error() == Errc::invalid_argument) return line.error("key material must be 64 hex digits");
      if (!key) return std::move(key).error();
      entry.key = std::move(*key);
    }
    if (tokens.size() == 9) {
      PassphraseParams params;
      if (tokens[5] != kArgon2idTag || !internal::hex_decode(tokens[6], params.salt.data(), params.salt.size()) ||
          !internal::parse_u64(tokens[7], params.opslimit) || !internal::parse_u64(tokens[8], params.memlimit) ||
          !params.valid()) {
        return line.error("bad passphrase parameters");
      }
      entry.passphrase = params;
    }
    if (keyring.impl_->entries.size() >= kMaxKeyringKeys) return line.error("too many keys");
    keyring.impl_->append(std::move(entry));
    return {};
  });
  if (!parsed) return parsed.error();
  return keyring;
}

Result<std::string> Keyring::serialize() const {
  std::string out;
  out.reserve(kHeaderLine.size() + 1 + impl_->entries.size() * kMaxLineSize);
  out += kHeaderLine;
  out += "\n";
  for (const Impl::Entry& e : impl_->entries) {
    if (e.kind == KeyKind::recipient || e.kind == KeyKind::recipient_public) {
      Impl::append_recipient_line(e, e.kind == KeyKind::recipient, out);
      continue;
    }
    if (e.kind != KeyKind::symmetric) {
      impl_->append_signature_line(e, e.kind, out);
      continue;
    }
    uint8_t id_bytes[4];
    internal::store_be32(id_bytes, e.id);
    out += "key " + e.name + " " + internal::hex_encode(ByteView(id_bytes, sizeof id_bytes)) + " " + name(e.state) + " ";
    if (e.key) {
      internal::KeyAccess::append_hex(*e.key, out);
    } else {
      out += kRetiredMaterial;
    }
    if (e.passphrase) {
      out += " ";
      out += kArgon2idTag;
      out += " " + internal::hex_encode(ByteView(e.passphrase->salt)) + " " +
             std::to_string(e.passphrase->opslimit) + " " + std::to_string(e.passphrase->memlimit);
    }
    out += "\n";
  }
  return out;
}

void Keyring::Impl::append_signature_line(const Entry& e, KeyKind as, std::string& out) {
  uint8_t id_bytes[4];
  internal::store_be32(id_bytes, e.id);
  out += as == KeyKind::signing ? kSigningTag : kTrustedTag;
  out += " " + e.name + " " + internal::hex_encode(ByteView(id_bytes, sizeof id_bytes)) + " ";
  // A trusted copy of a signing key pair (export) is active, whatever its state as a signing key.
  out += name(as == KeyKind::trusted_signer && e.state == KeyState::primary ? KeyState::active : e.state);
  out += " ";
  if (as == KeyKind::signing) {
    if (e.state == KeyState::retired) {
      out += kRetiredMaterial;
    } else {
      internal::hex_append(out, ByteView(e.signing.data(), kSigningSeedSize));  // the seed: first half
    }
    out += " ";
  }
  if (e.public_key) {
    out += internal::hex_encode(ByteView(*e.public_key));
  } else {
    out += kRetiredMaterial;
  }
  out += "\n";
}

std::string Keyring::export_public() const {
  std::string out;
  out += kHeaderLine;
  out += "\n";
  for (const Impl::Entry& e : impl_->entries) {
    if (e.kind == KeyKind::recipient || e.kind == KeyKind::recipient_public) {
      Impl::append_recipient_line(e, false, out);
    } else if (e.kind != KeyKind::symmetric) {
      Impl::append_signature_line(e, KeyKind::trusted_signer, out);
    }
  }
  return out;
}

Result<Keyring> Keyring::load(const std::string& path, LoadOptions options) {
  return internal::load_line_file<Keyring>(path, options.allow_insecure_permissions, kMaxKeyringFileSize, parse);
}

Status Keyring::save(const std::string& path) const { return internal::save_line_file(path, serialize()); }

}  // namespace mqseal
