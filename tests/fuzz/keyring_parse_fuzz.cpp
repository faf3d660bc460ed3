// Fuzz target: Keyring::parse, the keyring file format (docs/SPEC.md,
// "Keyring file"), on arbitrary text.
//
// Crashes on: a keyring that parses but does not survive serialize() and
// parse() unchanged (same text the second time, same keys), or that breaks
// the documented limits.
#include <string>
#include <utility>

#include "fuzz_support.h"
#include "mqseal/keyring.h"

namespace {

using mqseal::fuzz::check;

mqseal::Key fixed_key(uint8_t fill) {
  uint8_t bytes[mqseal::kKeySize];
  for (size_t i = 0; i < sizeof bytes; ++i) bytes[i] = static_cast<uint8_t>(fill ^ i);
  mqseal::Result<mqseal::Key> key = mqseal::Key::from_bytes(mqseal::ByteView(bytes, sizeof bytes));
  check(key.ok(), "Key::from_bytes");
  return std::move(*key);
}

std::string serialized(const mqseal::Keyring& keyring) {
  mqseal::Result<std::string> text = keyring.serialize();
  check(text.ok(), "serialize() failed on a parsed keyring");
  return std::move(*text);
}

}  // namespace

std::vector<mqseal::fuzz::Seed> mqseal::fuzz::fuzz_seeds() {
  mqseal::Keyring keyring;
  check(keyring.add_with_id("telemetry", 0x1001, fixed_key(0x10)).ok(), "add");
  check(keyring.add_with_id("telemetry", 0x1002, fixed_key(0x20)).ok(), "add");
  check(keyring.add_with_id("commands", 0x2001, fixed_key(0x30)).ok(), "add");
  mqseal::PassphraseParams params;
  params.salt.fill(0x42);
  params.opslimit = 2;
  params.memlimit = 64u << 20;
  check(keyring.add_with_id("connect", 0x3001, fixed_key(0x40), params).ok(), "add");
  check(keyring.add_with_id("old", 0x4001, fixed_key(0x50)).ok(), "add");
  check(keyring.add_with_id("old", 0x4002, fixed_key(0x60)).ok(), "add");
  check(keyring.promote(0x4002).ok(), "promote");
  check(keyring.retire(0x4001).ok(), "retire");
  mqseal::Keyring one;
  check(one.add_with_id("a", 1, fixed_key(0)).ok(), "add");
  return {{"keyring", bytes_of(serialized(keyring))}, {"one-key", bytes_of(serialized(one))}};
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  mqseal::Result<mqseal::Keyring> parsed = mqseal::Keyring::parse(text);
  if (!parsed) return 0;
  check(parsed->size() <= mqseal::kMaxKeyringKeys, "more keys than kMaxKeyringKeys");
  const std::string first = serialized(*parsed);
  mqseal::Result<mqseal::Keyring> again = mqseal::Keyring::parse(first);
  check(again.ok(), "a serialized keyring does not parse");
  check(serialized(*again) == first, "serialize(parse(serialize(k))) differs");
  const std::vector<mqseal::KeyInfo> a = parsed->list();
  const std::vector<mqseal::KeyInfo> b = again->list();
  check(a.size() == b.size(), "key count changed in a round trip");
  for (size_t i = 0; i < a.size(); ++i) {
    check(a[i].name == b[i].name && a[i].id == b[i].id && a[i].state == b[i].state,
          "a key changed in a round trip");
  }
  return 0;
}
