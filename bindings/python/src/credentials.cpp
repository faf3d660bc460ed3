// CONNECT credentials: provision, make_connect_token, Credentials and
// TokenVerifier (mqseal/credentials.h). VerifierOptions arrive as the
// dataclass of mqseal/_options.py.
#include <string_view>

#include "binding.h"

namespace mqseal::python {

namespace {

VerifierOptions verifier_options(py::handle o) {
  VerifierOptions options;
  options.max_clock_skew_s = field<uint64_t>(o, "max_clock_skew_s");
  options.max_lifetime_s = field<uint64_t>(o, "max_lifetime_s");
  options.max_tokens_per_user = field<size_t>(o, "max_tokens_per_user");
  options.replay_store = replay_store_field(o);  // null: the verifier makes a memory store
  return options;
}

}  // namespace

void bind_credentials(py::module_& m) {
  Class<CredentialRecord>(m, "CredentialRecord", "A broker's record of one device: no password, no device secret.")
      .def_readonly("username", &CredentialRecord::username)
      .def_readonly("passphrase", &CredentialRecord::passphrase)
      .def("__repr__", [](const CredentialRecord& r) { return "<mqseal.CredentialRecord for '" + r.username + "'>"; });

  Class<Provisioned>(m, "Provisioned", "What provision() returns: the device's secret and the broker's record.")
      .def_property_readonly("device_secret", [](const Provisioned& p) { return unwrap(p.device_secret.clone()); })
      .def_readonly("record", &Provisioned::record);

  m.def("provision",
        [](const Text& username, py::handle password, const PassphraseParams& params) {
          const SecretText text(password);
          // Argon2id
          return unwrap(without_gil(true, [&] { return provision(username, text.view(), params); }));
        },
        py::arg("username"), py::arg("password"), py::arg("params"),
        "The device secret (for the device) and the broker's record, from a password: a str (as UTF-8) or any "
        "bytes-like object. Python cannot wipe a str or bytes: pass a bytearray and wipe it afterwards (mqseal "
        "leaves no copy of its own).");
  m.def("make_connect_token",
        [](const Key& secret, const Text& username, const Text& client_id, Unsigned<uint64_t> lifetime_s,
           Unsigned<uint64_t> now_s) {
          return token_str(make_connect_token(secret, username, client_id, lifetime_s, now_s));
        },
        py::arg("device_secret"), py::arg("username"), py::arg("client_id"), py::kw_only(),
        py::arg("lifetime_s") = kDefaultTokenLifetimeS, py::arg("now_s") = 0,
        "A fresh single-use token for the CONNECT password field. InvalidArgumentError for names no token "
        "could verify for: a username no credentials file can hold, a client ID no MQTT broker delivers (a NUL, "
        "more than 65535 bytes of UTF-8) or mosquitto closes the connection for (a control character or a "
        "Unicode noncharacter).");
  m.def("make_connect_token",
        [](const Keyring& keys, const Text& key_name, const Text& username,
           const Text& client_id, Unsigned<uint64_t> lifetime_s, Unsigned<uint64_t> now_s) {
          return token_str(make_connect_token(keys, key_name, username, client_id, lifetime_s, now_s));
        },
        py::arg("keyring"), py::arg("key_name"), py::arg("username"), py::arg("client_id"), py::kw_only(),
        py::arg("lifetime_s") = kDefaultTokenLifetimeS, py::arg("now_s") = 0,
        "The same, with the device secret kept in a keyring (the primary key of key_name).");

  Class<Credentials>(m, "Credentials", "The broker's credentials file: one record per device.")
      .def(py::init<>())
      .def("add", [](Credentials& c, const CredentialRecord& r) { check(c.add(r)); }, py::arg("record"))
      .def("__len__", &Credentials::size)
      .def("__contains__", [](const Credentials& c, const Text& u) { return c.find(u) != nullptr; },
           py::arg("username"))
      .def("save", [](const Credentials& c, const FilePath& path) { check(c.save(path)); }, py::arg("path"))
      .def_static("load",
                  [](const FilePath& path, Flag allow_insecure_permissions) {
                    return unwrap(Credentials::load(path, LoadOptions{allow_insecure_permissions}));
                  },
                  py::arg("path"), py::kw_only(), py::arg("allow_insecure_permissions") = false);

  Class<TokenVerifier>(m, "TokenVerifier")
      .def(py::init([](const Credentials& credentials, py::handle options) {
             // A snapshot: the Python object stays usable.
             return unwrap(TokenVerifier::create(unwrap(credentials.clone()), verifier_options(options)));
           }),
           py::arg("credentials"), py::arg("options"))
      .def("verify",
           [](TokenVerifier& v, const Text& username, const Text& client_id, py::handle token,
              Unsigned<uint64_t> now_s) {
             // A token is a password: a str or exact bytes read in place (they
             // cannot change), any other buffer copied into guarded memory
             // first (SecretText). verify() reads the token more than once
             // (its alphabet, then base64), and without the GIL, since the
             // claim may wait for a file write or a round trip: a bytearray
             // read in place could change, or move, in between.
             const SecretText text(token);
             check(without_gil(true, [&] { return v.verify(username, client_id, text.view(), now_s); }));
           },
           py::arg("username"), py::arg("client_id"), py::arg("token"), py::kw_only(), py::arg("now_s") = 0,
           "Returns if the token is good; raises an mqseal.Error saying which check failed. The token: a str "
           "or any bytes-like object.")
      // A shared store may answer over the network (Redis: up to its two
      // timeouts): other threads run meanwhile.
      .def_property_readonly("remembered_tokens", [](const TokenVerifier& v) {
        return without_gil(true, [&] { return v.remembered_tokens(); });
      });
  // They take a password or a token: no value of theirs in a TypeError.
  keep_values_out_of_type_errors(m, "provision", Callable::function);
  keep_values_out_of_type_errors(m.attr("TokenVerifier"), "verify", Callable::method);
}

}  // namespace mqseal::python
