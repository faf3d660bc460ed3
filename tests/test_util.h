// Shared helpers for the C++ tests.
#ifndef MQSEAL_TESTS_TEST_UTIL_H_
#define MQSEAL_TESTS_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <mqseal/mqseal.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mqseal::testing {

inline std::vector<uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

// Unwraps a Result in a test, failing loudly with the error's message.
template <typename T>
T take(Result<T> r) {
  if (!r) {
    ADD_FAILURE() << "unexpected error: " << r.error().message();
    std::abort();
  }
  return std::move(*r);
}

inline void expect_ok(const Status& s) {
  EXPECT_TRUE(s.ok()) << (s ? "" : s.error().message());
}

// "telemetry" for plant/+/telemetry, "commands" for plant/+/cmd/#, plaintext for public/#.
inline TopicPolicy plant_policy() {
  TopicPolicy policy;
  expect_ok(policy.add_rule("plant/+/telemetry", "telemetry"));
  expect_ok(policy.add_rule("plant/+/cmd/#", "commands"));
  expect_ok(policy.add_plaintext_rule("public/#"));
  return policy;
}

inline std::shared_ptr<Keyring> plant_keys() {
  auto keys = std::make_shared<Keyring>();
  (void)take(keys->generate("telemetry"));
  (void)take(keys->generate("commands"));
  return keys;
}

// The smallest Argon2id limits libsodium allows, with a fixed salt: fast tests.
// Real keys and devices use PassphraseParams::generate() (INTERACTIVE).
inline PassphraseParams cheap_passphrase_params(uint8_t salt_byte = 7) {
  PassphraseParams p;
  p.salt.fill(salt_byte);
  p.opslimit = 1;
  p.memlimit = 8192;
  return p;
}

// A fresh temporary directory, removed with its files on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_file(const std::string& path);
void write_file(const std::string& path, std::string_view content, int mode);

}  // namespace mqseal::testing

#endif  // MQSEAL_TESTS_TEST_UTIL_H_
