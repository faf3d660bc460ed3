// The keyring file format (docs/SPEC.md, "Keyring file"), and loading and
// saving it with safe permissions.
#include <sodium.h>

#include <charconv>
#include <cstring>
#include <string>
#include <vector>

#include "keyring_impl.h"
#include "key_access.h"
#include "mqseal/keyring.h"
#include "secret_file.h"
#include "sodium_util.h"

namespace mqseal {

namespace {

constexpr std::string_view kHeaderLine = "mqseal-keyring v1";
constexpr std::string_view kRetiredMaterial = "-";
constexpr std::string_view kArgon2idTag = "argon2id";
constexpr size_t kKeyIdHexSize = 8;
constexpr size_t kMaxTokensPerLine = 9;
// Longest line serialize() writes, rounded up: reserving this much per key
// means the output never reallocates, so no copy of key text is left behind
// unwiped in freed memory.
constexpr size_t kMaxLineSize = 256;


Error line_error(size_t line, const char* what) {
  return Error(Errc::parse_error, "line " + std::to_string(line) + ": " + what);
}

bool parse_hex(std::string_view hex, uint8_t* out, size_t out_size) {
  if (hex.size() != out_size * 2) return false;
  size_t written = 0;
  const char* end = nullptr;
  return sodium_hex2bin(out, out_size, hex.data(), hex.size(), nullptr, &written, &end) == 0 &&
         written == out_size && end == hex.data() + hex.size();
}

bool parse_key_id(std::string_view hex, KeyId& id) {
  uint8_t bytes[kKeyIdHexSize / 2];
  if (!parse_hex(hex, bytes, sizeof bytes)) return false;
  id = internal::load_be32(bytes);
  return true;
}

bool parse_u64(std::string_view text, uint64_t& value) {
  if (text.empty() || text.size() > 20) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && ptr == text.data() + text.size();
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

// Splits on single spaces; returns false if there are too many tokens or an
// empty one (two spaces in a row, leading or trailing space).
bool split_tokens(std::string_view line, std::vector<std::string_view>& tokens) {
  tokens.clear();
  size_t start = 0;
  while (true) {
    size_t space = line.find(' ', start);
    std::string_view token = line.substr(start, space == std::string_view::npos ? space : space - start);
    if (token.empty() || tokens.size() == kMaxTokensPerLine) return false;
    tokens.push_back(token);
    if (space == std::string_view::npos) return true;
    start = space + 1;
  }
}

std::string hex(const uint8_t* data, size_t size) {
  std::string out(size * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, size);
  out.pop_back();
  return out;
}

}  // namespace

Result<Keyring> Keyring::parse(std::string_view text) {
  if (Status s = internal::ensure_sodium(); !s) return s.error();
  if (text.size() > kMaxKeyringFileSize) return Error(Errc::parse_error, "keyring file too large");
  Keyring keyring;
  std::vector<std::string_view> tokens;
  bool seen_header = false;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t newline = text.find('\n', pos);
    if (newline == std::string_view::npos) newline = text.size();
    std::string_view line = text.substr(pos, newline - pos);
    pos = newline + 1;
    ++line_no;
    // Checked before comments are skipped: a \r or NUL anywhere is an error
    // (docs/SPEC.md, section 8), so a file edited into CRLF line ends fails
    // the same way whichever line comes first.
    if (line.find('\0') != std::string_view::npos || line.find('\r') != std::string_view::npos) {
      return line_error(line_no, "control character (CR or NUL) in line");
    }
    if (line.empty() || line.front() == '#') continue;
    if (!seen_header) {
      if (line != kHeaderLine) return line_error(line_no, "expected 'mqseal-keyring v1'");
      seen_header = true;
      continue;
    }
    if (!split_tokens(line, tokens) || tokens[0] != "key") {
      return line_error(line_no, "expected 'key NAME ID STATE MATERIAL [argon2id SALT OPS MEM]'");
    }
    if (tokens.size() != 5 && tokens.size() != 9) return line_error(line_no, "wrong number of fields");
    Impl::Entry entry;
    if (!valid_key_name(tokens[1])) return line_error(line_no, "invalid key name");
    entry.name = std::string(tokens[1]);
    if (!parse_key_id(tokens[2], entry.id) || entry.id == 0) {
      return line_error(line_no, "key ID must be 8 hex digits, not 00000000");
    }
    if (keyring.impl_->find(entry.id) != nullptr) return line_error(line_no, "duplicate key ID");
    if (!parse_state(tokens[3], entry.state)) return line_error(line_no, "unknown key state");
    if (entry.state == KeyState::primary && keyring.impl_->primary_of(entry.name) != nullptr) {
      return line_error(line_no, "second primary key for one name");
    }
    if (entry.state == KeyState::retired) {
      if (tokens[4] != kRetiredMaterial) return line_error(line_no, "retired key with key material");
    } else {
      uint8_t material[kKeySize];
      internal::ScopedWipe wipe(material, sizeof material);
      if (!parse_hex(tokens[4], material, sizeof material)) {
        return line_error(line_no, "key material must be 64 hex digits");
      }
      Result<Key> key = Key::from_bytes(ByteView(material, sizeof material));
      if (!key) return std::move(key).error();
      entry.key = std::move(*key);
    }
    if (tokens.size() == 9) {
      PassphraseParams params;
      if (tokens[5] != kArgon2idTag || !parse_hex(tokens[6], params.salt.data(), params.salt.size()) ||
          !parse_u64(tokens[7], params.opslimit) || !parse_u64(tokens[8], params.memlimit) ||
          !params.valid()) {
        return line_error(line_no, "bad passphrase parameters");
      }
      entry.passphrase = params;
    }
    if (keyring.impl_->entries.size() >= kMaxKeyringKeys) return line_error(line_no, "too many keys");
    keyring.impl_->entries.push_back(std::move(entry));
  }
  if (!seen_header) return Error(Errc::parse_error, "empty keyring file");
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
    out += "key " + e.name + " " + hex(id_bytes, sizeof id_bytes) + " " + name(e.state) + " ";
    if (e.key) {
      internal::WipedString material;
      material.text = hex(KeyAccess::bytes(*e.key), kKeySize);
      out += material.text;
    } else {
      out += kRetiredMaterial;
    }
    if (e.passphrase) {
      out += " ";
      out += kArgon2idTag;
      out += " " + hex(e.passphrase->salt.data(), e.passphrase->salt.size()) + " " +
             std::to_string(e.passphrase->opslimit) + " " + std::to_string(e.passphrase->memlimit);
    }
    out += "\n";
  }
  return out;
}

Result<Keyring> Keyring::load(const std::string& path, LoadOptions options) {
  internal::WipedString content;
  if (Status s = internal::read_secret_file(path, options.allow_insecure_permissions,
                                            kMaxKeyringFileSize, content);
      !s) {
    return s.error();
  }
  return parse(content.text);
}

Status Keyring::save(const std::string& path) const {
  Result<std::string> text = serialize();
  if (!text) return text.error();
  internal::WipedString content;
  content.text = std::move(*text);
  return internal::write_secret_file(path, content.text);
}

}  // namespace mqseal
