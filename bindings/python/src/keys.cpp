// Keys: PassphraseParams, Key, KeyInfo and Keyring (mqseal/key.h, mqseal/keyring.h).
#include <pybind11/stl.h>

#include <cstdio>

#include "binding.h"

namespace mqseal::python {

namespace {

py::object key_state(KeyState state) {
  PYBIND11_CONSTINIT static PythonName type;
  return python_layer(type, "_options", "KeyState")(static_cast<int>(state));
}

py::object key_kind(KeyKind kind) {
  PYBIND11_CONSTINIT static PythonName type;
  return python_layer(type, "_options", "KeyKind")(static_cast<int>(kind));
}

std::string key_info_repr(const KeyInfo& info) {
  char id[16];
  std::snprintf(id, sizeof id, "0x%08x", info.id);
  const std::string kind = info.kind == KeyKind::symmetric ? "" : std::string(", kind='") + name(info.kind) + "'";
  return "KeyInfo(name='" + info.name + "', id=" + id + ", state='" + name(info.state) + "'" + kind + ")";
}

py::object public_key_bytes(const std::optional<SignerPublicKey>& key) {
  return key ? py::object(to_bytes(key->data(), key->size())) : py::object(py::none());
}

}  // namespace

void bind_keys(py::module_& m) {
  Class<PassphraseParams>(m, "PassphraseParams")
      .def(py::init([](py::handle salt, Unsigned<uint64_t> opslimit, Unsigned<uint64_t> memlimit) {
             PassphraseParams p;
             copy_exact(salt, p.salt.data(), p.salt.size(), "the salt is 16 bytes");
             p.opslimit = opslimit;
             p.memlimit = memlimit;
             return p;
           }),
           py::arg("salt"), py::arg("opslimit"), py::arg("memlimit"))
      .def_static("generate", [] { return unwrap(PassphraseParams::generate()); },
                  "A random salt with libsodium's INTERACTIVE limits (64 MiB).")
      .def_property_readonly("salt", [](const PassphraseParams& p) { return to_bytes(p.salt.data(), p.salt.size()); })
      .def_readonly("opslimit", &PassphraseParams::opslimit)
      .def_readonly("memlimit", &PassphraseParams::memlimit)
      .def("__repr__", [](const PassphraseParams& p) {
        return "PassphraseParams(opslimit=" + std::to_string(p.opslimit) +
               ", memlimit=" + std::to_string(p.memlimit) + ")";
      });

  Class<Key>(m, "Key", "A 256-bit key in guarded memory. Its bytes are never shown.")
      .def_static("generate", [] { return unwrap(Key::generate()); }, "A fresh key from the OS CSPRNG.")
      .def_static("from_bytes",
                  [](py::handle data) {
                    return unwrap(Key::from_bytes(BytesLike(data, Holds::key_material).view()));
                  },
                  py::arg("data"), "Exactly 32 bytes; wipe your own copy afterwards.")
      .def_static("from_passphrase",
                  [](py::handle passphrase, const PassphraseParams& params) {
                    const SecretText text(passphrase);
                    // Argon2id takes a while
                    return unwrap(without_gil(true, [&] { return Key::from_passphrase(text.view(), params); }));
                  },
                  py::arg("passphrase"), py::arg("params"),
                  "Argon2id13 over the passphrase: a str (as UTF-8) or any bytes-like object. Python cannot wipe "
                  "a str or bytes: pass a bytearray and wipe it afterwards (mqseal leaves no copy of its own).")
      .def("same_bytes", &Key::same_bytes, py::arg("other"), "Constant-time comparison.")
      .def("__repr__", [](const Key&) { return std::string("<mqseal.Key: 32 bytes, not shown>"); });

  Class<KeyInfo>(m, "KeyInfo", "What a keyring says about a key: never its bytes.")
      .def_readonly("name", &KeyInfo::name)
      .def_readonly("id", &KeyInfo::id)
      .def_property_readonly("state", [](const KeyInfo& info) { return key_state(info.state); })
      .def_readonly("passphrase", &KeyInfo::passphrase)
      .def_property_readonly("kind", [](const KeyInfo& info) { return key_kind(info.kind); })
      .def_property_readonly("public_key", [](const KeyInfo& info) { return public_key_bytes(info.public_key); })
      .def("__repr__", &key_info_repr);

  Class<Keyring, std::shared_ptr<Keyring>>(m, "Keyring")
      .def(py::init<>())
      .def("generate", [](Keyring& k, const Text& name) { return unwrap(k.generate(name)); }, py::arg("name"))
      .def("add", [](Keyring& k, const Text& name, const Key& key) { return unwrap(k.add(name, unwrap(key.clone()))); },
           py::arg("name"), py::arg("key"))
      .def("add_with_id",
           [](Keyring& k, const Text& name, Unsigned<KeyId> id, const Key& key, std::optional<PassphraseParams> p) {
             check(k.add_with_id(name, id, unwrap(key.clone()), p));
           },
           py::arg("name"), py::arg("id"), py::arg("key"), py::arg("passphrase") = py::none())
      .def("generate_signing_key",
           [](Keyring& k, const Text& signer) { return unwrap(k.generate_signing_key(signer)); },
           py::arg("signer"))
      .def("add_signing_key_with_id",
           [](Keyring& k, const Text& signer, Unsigned<KeyId> id, const Key& seed) {
             check(k.add_signing_key_with_id(signer, id, seed));
           },
           py::arg("signer"), py::arg("id"), py::arg("seed"))
      .def("add_trusted_signer",
           [](Keyring& k, const Text& signer, Unsigned<KeyId> id, py::handle public_key) {
             check(k.add_trusted_signer(signer, id, BytesLike(public_key).view()));
           },
           py::arg("signer"), py::arg("id"), py::arg("public_key"))
      .def("generate_recipient_key",
           [](Keyring& k, const Text& recipient) { return unwrap(k.generate_recipient_key(recipient)); },
           py::arg("recipient"))
      .def("add_recipient_key_with_id",
           [](Keyring& k, const Text& recipient, Unsigned<KeyId> id, const Key& secret) {
             check(k.add_recipient_key_with_id(recipient, id, secret));
           },
           py::arg("recipient"), py::arg("id"), py::arg("secret"))
      .def("add_recipient_public",
           [](Keyring& k, const Text& recipient, Unsigned<KeyId> id, py::handle public_key) {
             check(k.add_recipient_public(recipient, id, BytesLike(public_key).view()));
           },
           py::arg("recipient"), py::arg("id"), py::arg("public_key"))
      .def("promote", [](Keyring& k, Unsigned<KeyId> id) { check(k.promote(id)); }, py::arg("id"))
      .def("retire", [](Keyring& k, Unsigned<KeyId> id) { check(k.retire(id)); }, py::arg("id"))
      .def("primary", [](const Keyring& k, const Text& name) { return unwrap(k.primary(name)); }, py::arg("name"))
      .def("primary_signing_key",
           [](const Keyring& k, const Text& signer) { return unwrap(k.primary_signing_key(signer)); },
           py::arg("signer"))
      .def("public_key",
           [](const Keyring& k, Unsigned<KeyId> id) {
             const SignerPublicKey key = unwrap(k.public_key(id));
             return to_bytes(key.data(), key.size());
           },
           py::arg("id"))
      .def("export_public", &Keyring::export_public)
      .def("info", [](const Keyring& k, Unsigned<KeyId> id) { return unwrap(k.info(id)); }, py::arg("id"))
      .def("list", &Keyring::list)
      .def("__len__", &Keyring::size)
      .def("clone", [](const Keyring& k) { return std::make_shared<Keyring>(unwrap(k.clone())); })
      .def("save", [](const Keyring& k, const FilePath& path) { check(k.save(path)); }, py::arg("path"))
      .def_static("load",
                  [](const FilePath& path, Flag allow_insecure_permissions) {
                    return std::make_shared<Keyring>(
                        unwrap(Keyring::load(path, LoadOptions{allow_insecure_permissions})));
                  },
                  py::arg("path"), py::kw_only(), py::arg("allow_insecure_permissions") = false)
      .def_static("parse",
                  [](py::handle text) {
                    // A keyring's text holds its secret keys: read as a
                    // password is (SecretText), never copied into a
                    // std::string that would be freed unwiped. Keyring::parse
                    // wipes the buffers it fills itself.
                    const SecretText secret(text);
                    return std::make_shared<Keyring>(unwrap(Keyring::parse(secret.view())));
                  },
                  py::arg("text"),
                  "A keyring from the file format's text: a str or any bytes-like object. mqseal leaves no copy "
                  "of it; Python cannot wipe a str or bytes: pass a bytearray and wipe it afterwards.")
      .def("__repr__", [](const Keyring& k) { return "<mqseal.Keyring: " + std::to_string(k.size()) + " keys>"; });
  // They take key bytes, a passphrase or a keyring's text: no value of theirs in a TypeError.
  keep_values_out_of_type_errors(m.attr("Key"), "from_bytes", Callable::static_method);
  keep_values_out_of_type_errors(m.attr("Key"), "from_passphrase", Callable::static_method);
  keep_values_out_of_type_errors(m.attr("Keyring"), "parse", Callable::static_method);
}

}  // namespace mqseal::python
