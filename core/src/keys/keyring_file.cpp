// The keyring file format (docs/SPEC.md, "Keyring file"), and loading and
// saving it with safe permissions.
#include <string>
#include <vector>

#include "base/hex.h"
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

Result<Keyring> Keyring::parse(std::string_view text) {
  if (Status s = internal::ensure_sodium(); !s) return s.error();
  if (text.size() > kMaxKeyringFileSize) return Error(Errc::parse_error, "keyring file too large");
  Keyring keyring;
  std::vector<std::string_view> tokens;
  const Status parsed = internal::parse_lines(text, kHeaderLine, "keyring", [&](const internal::Line& line) -> Status {
    if (!internal::split_fields(line.text, kMaxTokensPerLine, tokens) || tokens[0] != "key") {
      return line.error("expected 'key NAME ID STATE MATERIAL [argon2id SALT OPS MEM]'");
    }
    if (tokens.size() != 5 && tokens.size() != 9) return line.error("wrong number of fields");
    Impl::Entry entry;
    if (!internal::valid_key_name(tokens[1])) return line.error("invalid key name");
    entry.name = std::string(tokens[1]);
    if (!parse_key_id(tokens[2], entry.id) || entry.id == 0) {
      return line.error("key ID must be 8 hex digits, not 00000000");
    }
    if (keyring.impl_->find(entry.id) != nullptr) return line.error("duplicate key ID");
    if (!parse_state(tokens[3], entry.state)) return line.error("unknown key state");
    if (entry.state == KeyState::primary && keyring.impl_->primary_of(entry.name) != nullptr) {
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
    keyring.impl_->entries.push_back(std::move(entry));
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

Result<Keyring> Keyring::load(const std::string& path, LoadOptions options) {
  return internal::load_line_file<Keyring>(path, options.allow_insecure_permissions, kMaxKeyringFileSize, parse);
}

Status Keyring::save(const std::string& path) const { return internal::save_line_file(path, serialize()); }

}  // namespace mqseal
