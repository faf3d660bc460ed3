// mqseal._mqseal: the module itself, the error crossing and the argument
// helpers every concern shares (binding.h says what crosses how).
#include "binding.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace mqseal::python {

py::handle python_layer(PythonName& stored, const char* module, const char* name) {
  return stored
      .call_once_and_store_result(
          [&] { return py::module_::import((std::string("mqseal.") + module).c_str()).attr(name); })
      .get_stored();
}

void raise(const Error& error, std::string_view signer) {
  // Without the GIL this would crash somewhere inside Python; fail here, loudly.
  if (PyGILState_Check() == 0) {
    std::fputs("mqseal: internal error: an exception raised without the GIL\n", stderr);
    std::abort();
  }
  PYBIND11_CONSTINIT static PythonName error_for;
  py::object instance = python_layer(error_for, "_errors", "error_for")(
      name(error.code()), error.message(), signer.empty() ? py::none() : py::object(py::str(signer.data(), signer.size())));
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(instance.ptr())), instance.ptr());
  throw py::error_already_set();
}

void copy_exact(py::handle object, uint8_t* out, size_t size, const char* what) {
  const BytesLike bytes(object);
  if (bytes.view().size() != size) raise(Error(Errc::invalid_argument, what));
  std::memcpy(out, bytes.view().data(), size);
}

const std::string& file_path(const std::string& path) {
  if (path.find('\0') != std::string::npos) raise(Error(Errc::invalid_argument, "a file path holds no NUL character"));
  return path;
}

py::str token_str(Result<std::string>&& token) {
  std::string text = unwrap(std::move(token));
  struct Wipe {
    std::string& text;
    ~Wipe() { sodium_memzero(text.data(), text.size()); }
  } wipe{text};
  return py::str(text);
}

std::shared_ptr<const Keyring> snapshot(const Keyring& keys) {
  return std::make_shared<const Keyring>(unwrap(keys.clone()));
}

RetainedPolicy retained_policy(std::string_view word) {
  if (word == "accept") return RetainedPolicy::accept_within_age;
  if (word == "refuse") return RetainedPolicy::refuse;
  raise(Error(Errc::invalid_argument, "retained is 'accept' or 'refuse'"));
}

py::object retained_policy(RetainedPolicy policy) {
  PYBIND11_CONSTINIT static PythonName type;
  return python_layer(type, "_options", "RetainedPolicy")(policy == RetainedPolicy::refuse ? "refuse" : "accept");
}

}  // namespace mqseal::python

using namespace mqseal;
using namespace mqseal::python;

PYBIND11_MODULE(_mqseal, m) {
  m.doc() = "The mqseal C++ core for Python: thin shims. Import mqseal, not this module.";
  // Before any sodium_malloc (SecretText); the core calls it too, when it needs it.
  if (sodium_init() < 0) throw py::import_error("mqseal: libsodium could not be initialised");

  m.attr("KEY_SIZE") = kKeySize;
  m.attr("ENVELOPE_OVERHEAD") = kEnvelopeOverhead;
  m.attr("HEADER_SIZE") = kHeaderSize;
  m.attr("MAX_PAYLOAD_SIZE") = kMaxPayloadSize;
  m.attr("REPLAY_WINDOW") = kReplayWindow;
  m.attr("RECORD_OVERHEAD") = kRecordOverhead;
  m.attr("__version__") = MQSEAL_VERSION_STRING;

  // Every stable error name, so that the Python layer can check it maps each.
  py::list names;
  for (int code = 1; code < 256; ++code) {
    const char* n = name(static_cast<Errc>(code));
    if (std::strcmp(n, "unknown") == 0) break;
    names.append(n);
  }
  m.attr("ERROR_NAMES") = py::tuple(names);

  // The C++ defaults of every option, the one source of the dataclasses' defaults.
  const ReplayOptions replay;
  const VerifierOptions verifier;
  py::dict defaults;
  defaults["max_age_ms"] = replay.max_age_ms;
  defaults["max_future_skew_ms"] = replay.max_future_skew_ms;
  defaults["retained_max_age_ms"] = replay.retained_max_age_ms;
  defaults["max_streams"] = replay.max_streams;
  defaults["max_evicted_streams"] = replay.max_evicted_streams;
  defaults["topic_cache_capacity"] = kDefaultTopicCacheCapacity;
  defaults["max_claims_per_key_name"] = kDefaultMaxClaimsPerKeyName;
  defaults["recipient_session_max_age_ms"] = kDefaultRecipientSessionMaxAgeMs;
  defaults["recipient_session_capacity"] = kDefaultRecipientSessionCapacity;
  defaults["max_clock_skew_s"] = verifier.max_clock_skew_s;
  defaults["max_lifetime_s"] = verifier.max_lifetime_s;
  defaults["max_tokens_per_user"] = verifier.max_tokens_per_user;
  defaults["token_lifetime_s"] = kDefaultTokenLifetimeS;
  m.attr("DEFAULTS") = defaults;

  bind_keys(m);
  bind_policy(m);
  bind_sealing(m);
  bind_replay_stores(m);
  bind_credentials(m);
  bind_hazmat(m);
}
