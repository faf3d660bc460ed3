#include "mqseal/error.h"

#include <cstdio>

namespace mqseal {

namespace {
struct ErrcText {
  Errc code;
  const char* name;
  const char* message;
};

constexpr ErrcText kErrcTexts[] = {
    {Errc::invalid_argument, "invalid_argument", "invalid argument"},
    {Errc::invalid_topic, "invalid_topic", "not a valid MQTT topic name"},
    {Errc::invalid_filter, "invalid_filter", "not a valid MQTT topic filter"},
    {Errc::no_rule, "no_rule", "no policy rule covers this topic"},
    {Errc::malformed, "malformed", "malformed envelope"},
    {Errc::unsupported_version, "unsupported_version", "unsupported envelope version"},
    {Errc::unsupported_suite, "unsupported_suite", "unsupported cipher suite"},
    {Errc::unknown_key, "unknown_key", "key ID not in the keyring"},
    {Errc::key_retired, "key_retired", "key has been retired"},
    {Errc::wrong_key_for_topic, "wrong_key_for_topic",
     "key does not belong to this topic's rule"},
    {Errc::authentication_failed, "authentication_failed",
     "authentication failed: altered, forged, or sealed for another topic"},
    {Errc::duplicate, "duplicate", "duplicate of a message already accepted"},
    {Errc::replay, "replay", "replayed message"},
    {Errc::expired, "expired", "message is older than the maximum age"},
    {Errc::not_yet_valid, "not_yet_valid", "message timestamp is too far in the future"},
    {Errc::retained_refused, "retained_refused", "retained message refused by policy"},
    {Errc::payload_too_large, "payload_too_large", "payload too large"},
    {Errc::io_error, "io_error", "input/output failed"},
    {Errc::insecure_permissions, "insecure_permissions",
     "unsafe file permissions or owner"},
    {Errc::parse_error, "parse_error", "file is not in the expected format"},
    {Errc::crypto_failure, "crypto_failure", "cryptographic library failure"},
    {Errc::nonce_exhausted, "nonce_exhausted", "sealer has used all its sequence numbers"},
    {Errc::no_primary_key, "no_primary_key", "key name has no primary key"},
    {Errc::transport_error, "transport_error", "the MQTT client library refused the operation"},
    {Errc::unknown_user, "unknown_user", "no credentials for this username"},
    {Errc::capacity_exceeded, "capacity_exceeded", "a bounded table is full"},
    {Errc::unknown_signer, "unknown_signer", "signer key ID not in the keyring"},
    {Errc::unauthorized_signer, "unauthorized_signer",
     "the signer is not authorised to publish on this topic"},
    {Errc::wrong_suite_for_topic, "wrong_suite_for_topic",
     "envelope suite is not the one this topic's rule requires"},
};

const ErrcText* find(Errc code) noexcept {
  for (const ErrcText& t : kErrcTexts) {
    if (t.code == code) return &t;
  }
  return nullptr;
}
}  // namespace

const char* message(Errc code) noexcept {
  const ErrcText* t = find(code);
  return t != nullptr ? t->message : "unknown error";
}

const char* name(Errc code) noexcept {
  const ErrcText* t = find(code);
  return t != nullptr ? t->name : "unknown";
}

Error::Error(Errc code, std::string detail) : bits_(inline_bits(code)) {
  if (!detail.empty()) bits_ = reinterpret_cast<uintptr_t>(new detail::ErrorRep{code, std::move(detail)});
}

uintptr_t Error::copy_rep(const detail::ErrorRep* rep) {
  return reinterpret_cast<uintptr_t>(new detail::ErrorRep(*rep));
}

std::string Error::message() const {
  std::string text = mqseal::message(code());
  if (is_rep()) {
    text += ": ";
    text += rep()->detail;
  }
  return text;
}

namespace detail {
const std::string& empty_detail() noexcept {
  static const std::string empty;
  return empty;
}

void bad_result_access() noexcept {
  std::fputs("mqseal: value() of a failed Result, or error() of a good one\n", stderr);
  std::abort();
}
}  // namespace detail

}  // namespace mqseal
