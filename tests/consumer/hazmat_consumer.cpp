// Built against mqseal::hazmat (tests/install_test.cmake: the installed
// package; tests/subproject_test.cmake: mqseal inside another project): the
// known-answer calls come only with their own include and their own target.
#include <mqseal/hazmat/envelope.h>
#include <mqseal/mqseal.h>

#include <cstdint>
#include <cstdio>
#include <string_view>
#include <vector>

int main() {
  auto key = mqseal::Key::generate();
  if (!key) return 1;
  uint8_t topic_key[mqseal::kKeySize];
  if (!mqseal::hazmat::derive_topic_key(*key, "a/b", topic_key)) return 1;
  mqseal::EnvelopeHeader header;
  header.key_id = 7;
  std::vector<uint8_t> envelope;
  std::vector<uint8_t> opened;
  if (!mqseal::hazmat::seal_with_header(topic_key, "a/b", header, std::string_view("hazmat"), envelope) ||
      !mqseal::hazmat::open_with_key(topic_key, "a/b", envelope, opened) ||
      std::string_view(reinterpret_cast<const char*>(opened.data()), opened.size()) != "hazmat") {
    return 1;
  }
  std::printf("hazmat consumer of mqseal %s: ok\n", MQSEAL_VERSION_STRING);
  return 0;
}
