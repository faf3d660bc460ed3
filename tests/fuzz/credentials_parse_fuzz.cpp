// Fuzz target: Credentials::parse, the broker's credentials file
// (docs/SPEC.md, "Credentials file"), on arbitrary text.
//
// Crashes on: credentials that parse but do not survive serialize() and
// parse() unchanged, or a parsed record a TokenVerifier cannot be made from.
#include <string>
#include <utility>

#include "fuzz_support.h"
#include "mqseal/credentials.h"

namespace {

using mqseal::fuzz::check;

std::string serialized(const mqseal::Credentials& credentials) {
  mqseal::Result<std::string> text = credentials.serialize();
  check(text.ok(), "serialize() failed on parsed credentials");
  return std::move(*text);
}

}  // namespace

std::vector<mqseal::fuzz::Seed> mqseal::fuzz::fuzz_seeds() {
  mqseal::Credentials credentials;
  const char* const users[] = {"device-1", "device-2", "sensor.7@plant:a"};
  for (size_t u = 0; u < 3; ++u) {
    uint8_t bytes[mqseal::kKeySize];
    for (size_t i = 0; i < sizeof bytes; ++i) bytes[i] = static_cast<uint8_t>(0xa0 + 16 * u + i);
    mqseal::Result<mqseal::Key> secret = mqseal::Key::from_bytes(mqseal::ByteView(bytes, sizeof bytes));
    check(secret.ok(), "Key::from_bytes");
    mqseal::PassphraseParams params;
    params.salt.fill(static_cast<uint8_t>(u));
    params.opslimit = 2 + u;
    params.memlimit = 64u << 20;
    mqseal::Result<mqseal::CredentialRecord> record = mqseal::credential_record(users[u], *secret, params);
    check(record.ok(), "credential_record");
    check(credentials.add(std::move(*record)).ok(), "add");
  }
  std::string text = serialized(credentials);
  return {{"credentials", bytes_of(text)},
          {"comments", bytes_of("# provisioned 2026-12-01\n\n" + text + "# end\n")},
          {"header-only", bytes_of("mqseal-credentials v1\n")}};
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  mqseal::Result<mqseal::Credentials> parsed = mqseal::Credentials::parse(text);
  if (!parsed) return 0;
  const std::string first = serialized(*parsed);
  mqseal::Result<mqseal::Credentials> again = mqseal::Credentials::parse(first);
  check(again.ok(), "serialized credentials do not parse");
  check(again->size() == parsed->size(), "record count changed in a round trip");
  check(serialized(*again) == first, "serialize(parse(serialize(c))) differs");
  check(mqseal::TokenVerifier::create(std::move(*parsed)).ok(), "no TokenVerifier from parsed credentials");
  return 0;
}
