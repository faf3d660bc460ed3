// Known-answer calls (tests/vectors), for mqseal.hazmat only: they take and
// return raw key bytes and a caller-chosen nonce. Never use them to seal real
// traffic or make real tokens: a nonce used twice destroys confidentiality
// (envelopes) or makes the second token a replay.
#include <sodium.h>

#include <array>
#include <vector>

#include <mqseal/hazmat/credentials.h>
#include <mqseal/hazmat/envelope.h>

#include "binding.h"

namespace mqseal::python {

void bind_hazmat(py::module_& m) {
  m.def("derive_topic_key",
        [](const Key& key, const Text& topic) {
          std::array<uint8_t, kKeySize> out{};
          const Status derived = hazmat::derive_topic_key(key, topic, out.data());
          py::bytes bytes = to_bytes(out.data(), out.size());
          sodium_memzero(out.data(), out.size());
          check(derived);
          return bytes;
        },
        py::arg("key"), py::arg("topic"));
  m.def("seal_with_header",
        [](py::handle topic_key, const Text& topic, Unsigned<KeyId> key_id, Unsigned<uint64_t> timestamp_ms,
           py::handle sender, Unsigned<uint64_t> sequence, py::handle payload, Unsigned<uint8_t> version,
           Unsigned<uint8_t> flags) {
          const BytesLike key(topic_key, Holds::key_material);
          if (key.view().size() != kKeySize) raise(Error(Errc::invalid_argument, "a topic key is 32 bytes"));
          EnvelopeHeader h;
          h.version = version;
          h.flags = flags;
          h.key_id = key_id;
          h.timestamp_ms = timestamp_ms;
          copy_exact(sender, h.sender.data(), h.sender.size(), "a sender ID is 16 bytes");
          h.sequence = sequence;
          std::vector<uint8_t> out;
          check(hazmat::seal_with_header(key.view().data(), topic, h, BytesLike(payload).view(), out));
          return to_bytes(out.data(), out.size());
        },
        py::arg("topic_key"), py::arg("topic"), py::arg("key_id"), py::arg("timestamp_ms"), py::arg("sender"),
        py::arg("sequence"), py::arg("payload"), py::kw_only(), py::arg("version") = kEnvelopeVersion,
        py::arg("flags") = 0);
  m.def("make_connect_token_with_nonce",
        [](const Key& secret, const Text& username, const Text& client_id, Unsigned<uint64_t> expiry_s,
           py::handle nonce) {
          std::array<uint8_t, kTokenNonceSize> bytes{};
          copy_exact(nonce, bytes.data(), bytes.size(), "a nonce is 16 bytes");
          return token_str(hazmat::make_connect_token_with_nonce(secret, username, client_id, expiry_s, bytes));
        },
        py::arg("device_secret"), py::arg("username"), py::arg("client_id"), py::arg("expiry_s"), py::arg("nonce"));
  // It takes a topic key's bytes: no value of them in a TypeError.
  keep_values_out_of_type_errors(m, "seal_with_header", Callable::function);
}

}  // namespace mqseal::python
