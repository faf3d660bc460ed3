// mqseal._mqseal: the C++ core for Python. The package mqseal (mqseal/__init__.py)
// re-exports it; the typed surface is described in _mqseal.pyi.
//
// Conventions at this boundary:
// - every mqseal error becomes an exception of the mqseal.Error family, with
//   the stable error name in `.code`; wrong Python types are TypeError;
// - bytes-like inputs (bytes, bytearray, memoryview, ...) are read through the
//   buffer protocol without a copy, except where another thread could change
//   them during a call that must read them twice (StableBytes) and passwords
//   (SecretText); outputs are bytes;
// - Sealer and Opener take a snapshot of the keyring they are given, so a
//   keyring changed later in Python never races with them: rotate with
//   set_keyring();
// - the GIL is released while large payloads are sealed or opened (for small
//   ones, releasing it would cost more than the work) and while Argon2id runs,
//   always through without_gil(): nothing Python may happen without the GIL,
//   raising an exception included (that crashes the interpreter), so errors
//   come back as values and are raised once the GIL is held again;
// - passwords and passphrases leave no copy behind (SecretText).
#include <Python.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <mqseal/credentials.h>
#include <mqseal/mqseal.h>
#include <mqseal/policy_file.h>
#include <sodium.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace py = pybind11;
using namespace mqseal;

namespace {

constexpr size_t kReleaseGilFrom = 16 * 1024;  // bytes of payload

// ---- the exception family ----

struct ExceptionClass {
  const char* name;
  const char* doc;
  int parent;  // index into kExceptionClasses, -1 for Error itself
};

constexpr ExceptionClass kExceptionClasses[] = {
    {"Error", "Base class of every mqseal error. `.code` is the stable error name.", -1},
    {"InvalidArgumentError", "A value is out of range: a bad topic, filter, key name or size.", 0},
    {"NoRuleError", "No policy rule covers the topic (mqseal fails closed).", 0},
    {"FormatError", "Malformed envelope or file, or a version or suite this build cannot read.", 0},
    {"KeyNotFoundError", "The key is unknown, retired, of another key name, or missing.", 0},
    {"AuthenticationError", "The envelope was altered, forged, or sealed for another topic.", 0},
    {"DuplicateError", "An exact repeat of an accepted message (QoS 1 redelivery): drop it quietly.", 0},
    {"ReplayError", "A replayed message, or one refused by the retained-message policy.", 0},
    {"ExpiredError", "Older than the maximum age, or too far in the future.", 7},
    {"FileError", "A key or policy file could not be read or written.", 0},
    {"PermissionsError", "A secret file is readable by group or others.", 9},
    {"CryptoError", "libsodium failed, or a sealer used up its sequence numbers.", 0},
    {"TransportError", "The MQTT client library refused the operation.", 0},
};
constexpr size_t kExceptionCount = sizeof kExceptionClasses / sizeof kExceptionClasses[0];
std::array<PyObject*, kExceptionCount> g_exceptions{};

int exception_index(Errc code) {
  switch (code) {
    case Errc::invalid_argument:
    case Errc::invalid_topic:
    case Errc::invalid_filter:
    case Errc::payload_too_large: return 1;
    case Errc::no_rule: return 2;
    case Errc::malformed:
    case Errc::unsupported_version:
    case Errc::unsupported_suite:
    case Errc::parse_error: return 3;
    case Errc::unknown_key:
    case Errc::key_retired:
    case Errc::wrong_key_for_topic:
    case Errc::no_primary_key: return 4;
    case Errc::authentication_failed: return 5;
    case Errc::duplicate: return 6;
    case Errc::replay:
    case Errc::retained_refused: return 7;
    case Errc::expired:
    case Errc::not_yet_valid: return 8;
    case Errc::io_error: return 9;
    case Errc::insecure_permissions: return 10;
    case Errc::crypto_failure:
    case Errc::nonce_exhausted: return 11;
    case Errc::transport_error: return 12;
    case Errc::unknown_user: return 4;
    case Errc::capacity_exceeded: return 0;
  }
  return 0;
}

[[noreturn]] void raise(const Error& error) {
  // Without the GIL this would crash somewhere inside Python; fail here, loudly.
  if (PyGILState_Check() == 0) {
    std::fputs("mqseal: internal error: an exception raised without the GIL\n", stderr);
    std::abort();
  }
  PyObject* type = g_exceptions[static_cast<size_t>(exception_index(error.code()))];
  py::object instance = py::reinterpret_borrow<py::object>(type)(error.message());
  instance.attr("code") = name(error.code());
  PyErr_SetObject(type, instance.ptr());
  throw py::error_already_set();
}

void check(const Status& status) {
  if (!status) raise(status.error());
}

template <typename T>
T unwrap(Result<T>&& result) {
  if (!result) raise(result.error());
  return std::move(*result);
}

// ---- the GIL ----

// Runs `work` without the GIL if `release`, and returns what it returns (a
// Status or Result<T>): check() or unwrap() it afterwards, with the GIL held.
// `work` must not touch a Python object, raise or build an exception, or read
// a caller's buffer that another thread may change (see StableBytes). This is
// the only place that releases the GIL.
template <typename Work>
auto without_gil(bool release, Work&& work) -> decltype(work()) {
  if (!release) return work();
  py::gil_scoped_release unlocked;
  return work();
}

// ---- bytes-like arguments ----

// A read-only view of any object with the buffer protocol, released on scope exit.
class BytesLike {
 public:
  explicit BytesLike(py::handle object) {
    if (PyUnicode_Check(object.ptr())) throw py::type_error("expected a bytes-like object, not str");
    if (PyObject_GetBuffer(object.ptr(), &view_, PyBUF_SIMPLE) != 0) throw py::error_already_set();
  }
  BytesLike(const BytesLike&) = delete;
  BytesLike& operator=(const BytesLike&) = delete;
  ~BytesLike() { PyBuffer_Release(&view_); }
  ByteView view() const { return ByteView(view_.buf, static_cast<size_t>(view_.len)); }

 private:
  Py_buffer view_{};
};

// The bytes of a caller's buffer, unchanging for the whole call, however many
// times the call reads them: Opener.open reads an envelope twice (libsodium
// checks the tag, then decrypts), and bytes changed in between would come out
// as a "successfully opened" payload that was never authenticated. An exact
// `bytes` object cannot change and is read in place. Any other buffer
// (bytearray, memoryview, array, mmap, numpy, ...) can: by a Python thread
// while the GIL is released, or by code that never holds the GIL
// (socket.recv_into, numpy), whatever the size. So it is copied once, here,
// while the GIL is held; afterwards only the copy is read.
//
// Buffers larger than `copy_limit` are read in place, not copied: the caller
// guarantees that the call refuses them by their size before reading their
// content more than once.
class StableBytes {
 public:
  StableBytes(py::handle object, size_t copy_limit) {
    if (PyBytes_CheckExact(object.ptr())) {
      view_ = ByteView(PyBytes_AS_STRING(object.ptr()), static_cast<size_t>(PyBytes_GET_SIZE(object.ptr())));
      return;
    }
    borrowed_.emplace(object);
    view_ = borrowed_->view();
    if (view_.size() > copy_limit) return;
    copy_.assign(view_.begin(), view_.end());
    view_ = ByteView(copy_);
    borrowed_.reset();
  }
  ByteView view() const { return view_; }

 private:
  std::optional<BytesLike> borrowed_;
  std::vector<uint8_t> copy_;
  ByteView view_;
};

// A password or passphrase (str, read as UTF-8, or any bytes-like object),
// readable without the GIL, and leaving no copy behind in C++: a str is read
// in place (the UTF-8 form Python keeps inside the str object), an exact bytes
// object in place; any other buffer may change (see StableBytes), so it is
// copied into guarded memory (sodium_malloc), wiped and freed when the call
// ends. Python's own str and bytes objects cannot be wiped: the docstrings
// recommend a bytearray, which the caller can wipe itself.
class SecretText {
 public:
  explicit SecretText(py::handle object) {
    if (PyUnicode_Check(object.ptr())) {
      Py_ssize_t size = 0;
      const char* utf8 = PyUnicode_AsUTF8AndSize(object.ptr(), &size);  // UnicodeEncodeError
      if (utf8 == nullptr) throw py::error_already_set();
      text_ = std::string_view(utf8, static_cast<size_t>(size));
      return;
    }
    if (PyBytes_CheckExact(object.ptr())) {
      text_ = std::string_view(PyBytes_AS_STRING(object.ptr()), static_cast<size_t>(PyBytes_GET_SIZE(object.ptr())));
      return;
    }
    const BytesLike bytes(object);  // TypeError for anything else
    const size_t size = bytes.view().size();
    copy_ = static_cast<char*>(sodium_malloc(size == 0 ? 1 : size));
    if (copy_ == nullptr) throw std::bad_alloc();  // MemoryError
    if (size != 0) std::memcpy(copy_, bytes.view().data(), size);
    text_ = std::string_view(copy_, size);
  }
  SecretText(const SecretText&) = delete;
  SecretText& operator=(const SecretText&) = delete;
  ~SecretText() {
    if (copy_ != nullptr) sodium_free(copy_);  // wipes, then frees
  }
  std::string_view view() const { return text_; }

 private:
  char* copy_ = nullptr;
  std::string_view text_;
};

// A CONNECT token (a password) as a str; the C++ string is wiped.
py::str token_str(Result<std::string>&& token) {
  std::string text = unwrap(std::move(token));
  struct Wipe {
    std::string& text;
    ~Wipe() { sodium_memzero(text.data(), text.size()); }
  } wipe{text};
  return py::str(text);
}

py::bytes to_bytes(const uint8_t* data, size_t size) {
  return py::bytes(reinterpret_cast<const char*>(data), size);
}

std::shared_ptr<const Keyring> snapshot(const Keyring& keys) {
  return std::make_shared<const Keyring>(unwrap(keys.clone()));
}

// ---- Python-side value types ----

struct PyOpened {
  py::bytes payload;
  bool sealed;
  KeyId key_id;
  uint64_t timestamp_ms;
  py::bytes sender;
  uint64_t sequence;
  bool retained;
};

struct PyHeader {
  int version;
  int suite;
  int flags;
  KeyId key_id;
  uint64_t timestamp_ms;
  py::bytes sender;
  uint64_t sequence;
};

RetainedPolicy retained_policy(const std::string& name) {
  if (name == "accept") return RetainedPolicy::accept_within_age;
  if (name == "refuse") return RetainedPolicy::refuse;
  raise(Error(Errc::invalid_argument, "retained is 'accept' or 'refuse'"));
}

ReplayOptions replay_options(uint64_t max_age_ms, uint64_t max_future_skew_ms, const std::string& retained,
                             uint64_t retained_max_age_ms, size_t max_streams) {
  ReplayOptions options;
  options.max_age_ms = max_age_ms;
  options.max_future_skew_ms = max_future_skew_ms;
  options.retained = retained_policy(retained);
  options.retained_max_age_ms = retained_max_age_ms;
  options.max_streams = max_streams;
  return options;
}

std::string key_info_repr(const KeyInfo& info) {
  char id[16];
  std::snprintf(id, sizeof id, "0x%08x", info.id);
  return "KeyInfo(name='" + info.name + "', id=" + id + ", state='" + name(info.state) + "')";
}

}  // namespace

PYBIND11_MODULE(_mqseal, m) {
  m.doc() = "The mqseal C++ core. Import mqseal, not this module.";
  // Before any sodium_malloc (SecretText); the core calls it too, when it needs it.
  if (sodium_init() < 0) throw py::import_error("mqseal: libsodium could not be initialised");

  for (size_t i = 0; i < kExceptionCount; ++i) {
    const ExceptionClass& c = kExceptionClasses[i];
    const std::string qualified = std::string("mqseal.") + c.name;
    PyObject* base = c.parent < 0 ? PyExc_Exception : g_exceptions[static_cast<size_t>(c.parent)];
    g_exceptions[i] = PyErr_NewExceptionWithDoc(qualified.c_str(), c.doc, base, nullptr);
    if (g_exceptions[i] == nullptr) throw py::error_already_set();
    m.attr(c.name) = py::handle(g_exceptions[i]);
  }

  m.attr("KEY_SIZE") = kKeySize;
  m.attr("ENVELOPE_OVERHEAD") = kEnvelopeOverhead;
  m.attr("HEADER_SIZE") = kHeaderSize;
  m.attr("MAX_PAYLOAD_SIZE") = kMaxPayloadSize;
  m.attr("REPLAY_WINDOW") = kReplayWindow;
  m.attr("__version__") = MQSEAL_VERSION_STRING;

  py::class_<PassphraseParams>(m, "PassphraseParams")
      .def(py::init([](py::handle salt, uint64_t opslimit, uint64_t memlimit) {
             BytesLike s(salt);
             PassphraseParams p;
             if (s.view().size() != p.salt.size()) raise(Error(Errc::invalid_argument, "the salt is 16 bytes"));
             std::memcpy(p.salt.data(), s.view().data(), p.salt.size());
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

  py::class_<Key>(m, "Key", "A 256-bit key in guarded memory. Its bytes are never shown.")
      .def_static("generate", [] { return unwrap(Key::generate()); }, "A fresh key from the OS CSPRNG.")
      .def_static("from_bytes", [](py::handle data) { return unwrap(Key::from_bytes(BytesLike(data).view())); },
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

  py::enum_<KeyState>(m, "KeyState")
      .value("PRIMARY", KeyState::primary)
      .value("ACTIVE", KeyState::active)
      .value("RETIRED", KeyState::retired);

  py::class_<KeyInfo>(m, "KeyInfo", "What a keyring says about a key: never its bytes.")
      .def_readonly("name", &KeyInfo::name)
      .def_readonly("id", &KeyInfo::id)
      .def_readonly("state", &KeyInfo::state)
      .def_readonly("passphrase", &KeyInfo::passphrase)
      .def("__repr__", &key_info_repr);

  py::class_<Keyring, std::shared_ptr<Keyring>>(m, "Keyring")
      .def(py::init<>())
      .def("generate", [](Keyring& k, const std::string& name) { return unwrap(k.generate(name)); }, py::arg("name"))
      .def("add", [](Keyring& k, const std::string& name, const Key& key) { return unwrap(k.add(name, unwrap(key.clone()))); },
           py::arg("name"), py::arg("key"))
      .def("add_with_id",
           [](Keyring& k, const std::string& name, KeyId id, const Key& key, std::optional<PassphraseParams> p) {
             check(k.add_with_id(name, id, unwrap(key.clone()), p));
           },
           py::arg("name"), py::arg("id"), py::arg("key"), py::arg("passphrase") = py::none())
      .def("promote", [](Keyring& k, KeyId id) { check(k.promote(id)); }, py::arg("id"))
      .def("retire", [](Keyring& k, KeyId id) { check(k.retire(id)); }, py::arg("id"))
      .def("primary", [](const Keyring& k, const std::string& name) { return unwrap(k.primary(name)); }, py::arg("name"))
      .def("info", [](const Keyring& k, KeyId id) { return unwrap(k.info(id)); }, py::arg("id"))
      .def("list", &Keyring::list)
      .def("__len__", &Keyring::size)
      .def("clone", [](const Keyring& k) { return std::make_shared<Keyring>(unwrap(k.clone())); })
      .def("save", [](const Keyring& k, const std::string& path) { check(k.save(path)); }, py::arg("path"))
      .def_static("load",
                  [](const std::string& path, bool allow_insecure_permissions) {
                    return std::make_shared<Keyring>(
                        unwrap(Keyring::load(path, LoadOptions{allow_insecure_permissions})));
                  },
                  py::arg("path"), py::kw_only(), py::arg("allow_insecure_permissions") = false)
      .def("__repr__", [](const Keyring& k) { return "<mqseal.Keyring: " + std::to_string(k.size()) + " keys>"; });

  py::class_<TopicRule>(m, "TopicRule")
      .def_readonly("filter", &TopicRule::filter)
      .def_readonly("key_name", &TopicRule::key_name)
      .def_readonly("plaintext", &TopicRule::plaintext)
      .def_property_readonly("retained",
                             [](const TopicRule& r) -> py::object {
                               if (!r.retained) return py::none();
                               return py::str(r.retained->policy == RetainedPolicy::refuse ? "refuse" : "accept");
                             })
      .def_property_readonly("retained_max_age_ms",
                             [](const TopicRule& r) -> py::object {
                               if (!r.retained || r.retained->policy == RetainedPolicy::refuse) return py::none();
                               return py::int_(r.retained->max_age_ms);
                             })
      .def("__repr__", [](const TopicRule& r) {
        std::string retained;
        if (r.retained) {
          retained = r.retained->policy == RetainedPolicy::refuse
                         ? ", retained='refuse'"
                         : ", retained='accept', retained_max_age_ms=" + std::to_string(r.retained->max_age_ms);
        }
        return "TopicRule(filter='" + r.filter + "', " +
               (r.plaintext ? std::string("plaintext=True") : "key_name='" + r.key_name + "'") + retained + ")";
      });

  py::class_<TopicPolicy>(m, "TopicPolicy")
      .def(py::init<>())
      .def("add_rule",
           [](TopicPolicy& p, const std::string& filter, const std::string& key, std::optional<std::string> retained,
              std::optional<uint64_t> retained_max_age_ms) {
             if (!retained) {
               if (retained_max_age_ms) raise(Error(Errc::invalid_argument, "retained_max_age_ms needs retained='accept'"));
               check(p.add_rule(filter, key));
               return;
             }
             RetainedRule rule;
             rule.policy = retained_policy(*retained);
             if (retained_max_age_ms) {
               if (rule.policy == RetainedPolicy::refuse || *retained_max_age_ms == 0) {
                 raise(Error(Errc::invalid_argument, "retained_max_age_ms is a positive age, with retained='accept'"));
               }
               rule.max_age_ms = *retained_max_age_ms;
             }
             check(p.add_rule(filter, key, rule));
           },
           py::arg("filter"), py::arg("key_name"), py::kw_only(), py::arg("retained") = py::none(),
           py::arg("retained_max_age_ms") = py::none())
      .def("add_plaintext_rule", [](TopicPolicy& p, const std::string& filter) { check(p.add_plaintext_rule(filter)); },
           py::arg("filter"))
      .def("resolve", [](const TopicPolicy& p, const std::string& topic) { return *unwrap(p.resolve(topic)); },
           py::arg("topic"))
      .def_property_readonly("rules", &TopicPolicy::rules)
      .def_static("load", [](const std::string& path) { return unwrap(load_policy(path)); }, py::arg("path"))
      .def_static("parse", [](const std::string& text) { return unwrap(parse_policy(text)); }, py::arg("text"));

  py::class_<Sealer>(m, "Sealer")
      .def(py::init([](const TopicPolicy& policy, const Keyring& keys, size_t topic_cache_capacity) {
             SealerOptions options;
             options.topic_cache_capacity = topic_cache_capacity;
             return unwrap(Sealer::create(policy, snapshot(keys), options));
           }),
           py::arg("policy"), py::arg("keyring"), py::kw_only(),
           py::arg("topic_cache_capacity") = kDefaultTopicCacheCapacity)
      .def("seal",
           [](Sealer& s, const std::string& topic, py::handle payload, bool retain) {
             thread_local std::vector<uint8_t> out;
             // Read in place, even a buffer another thread may change: sealing
             // reads each payload byte once (libsodium XORs the key stream
             // into `out`, then computes the tag over `out`, never over the
             // payload; a plaintext rule copies it once). So the tag always
             // covers exactly the ciphertext written, and the envelope opens
             // to the bytes as they were read: a copy could not do better,
             // since copying reads them once too.
             const BytesLike in(payload);
             const Publish publish = retain ? Publish::retained : Publish::live;
             check(without_gil(in.view().size() >= kReleaseGilFrom,
                               [&] { return s.seal(topic, in.view(), out, publish); }));
             return to_bytes(out.data(), out.size());
           },
           py::arg("topic"), py::arg("payload"), py::kw_only(), py::arg("retain") = false)
      .def("set_keyring", [](Sealer& s, const Keyring& keys) { s.set_keyring(snapshot(keys)); }, py::arg("keyring"))
      .def_property_readonly("sender", [](const Sealer& s) {
        const SenderId id = s.sender();
        return to_bytes(id.data(), id.size());
      });

  py::class_<PyOpened>(m, "Opened")
      .def_readonly("payload", &PyOpened::payload)
      .def_readonly("sealed", &PyOpened::sealed)
      .def_readonly("key_id", &PyOpened::key_id)
      .def_readonly("timestamp_ms", &PyOpened::timestamp_ms)
      .def_readonly("sender", &PyOpened::sender)
      .def_readonly("sequence", &PyOpened::sequence)
      .def_readonly("retained", &PyOpened::retained)
      .def("__repr__", [](const PyOpened& o) {
        return "<mqseal.Opened: " + std::to_string(py::len(o.payload)) + " bytes" +
               (o.sealed ? ", sealed, sequence " + std::to_string(o.sequence) : std::string(", plaintext by policy")) +
               ">";
      });

  py::class_<Opener>(m, "Opener")
      .def(py::init([](const TopicPolicy& policy, const Keyring& keys, uint64_t max_age_ms,
                       uint64_t max_future_skew_ms, const std::string& retained, uint64_t retained_max_age_ms,
                       size_t max_streams, size_t topic_cache_capacity) {
             OpenerOptions options;
             options.replay =
                 replay_options(max_age_ms, max_future_skew_ms, retained, retained_max_age_ms, max_streams);
             options.topic_cache_capacity = topic_cache_capacity;
             return unwrap(Opener::create(policy, snapshot(keys), options));
           }),
           py::arg("policy"), py::arg("keyring"), py::kw_only(),
           py::arg("max_age_ms") = ReplayOptions{}.max_age_ms,
           py::arg("max_future_skew_ms") = ReplayOptions{}.max_future_skew_ms,
           py::arg("retained") = "accept",
           py::arg("retained_max_age_ms") = ReplayOptions{}.retained_max_age_ms,
           py::arg("max_streams") = ReplayOptions{}.max_streams,
           py::arg("topic_cache_capacity") = kDefaultTopicCacheCapacity)
      .def("open",
           [](Opener& o, const std::string& topic, py::handle envelope, bool retained, uint64_t now_ms) {
             thread_local Opened out;
             // Read twice (tag, then decryption): a mutable buffer is copied.
             // Envelopes above kMaxEnvelopeSize are refused by their size after
             // only the header was read, once: not worth copying.
             const StableBytes in(envelope, kMaxEnvelopeSize);
             check(without_gil(in.view().size() >= kReleaseGilFrom,
                               [&] { return o.open(topic, in.view(), Delivery{retained, now_ms}, out); }));
             return PyOpened{to_bytes(out.payload.data(), out.payload.size()), out.sealed, out.key_id,
                             out.timestamp_ms, to_bytes(out.sender.data(), out.sender.size()), out.sequence,
                             out.retained};
           },
           py::arg("topic"), py::arg("envelope"), py::kw_only(), py::arg("retained") = false,
           py::arg("now_ms") = 0)
      .def("set_keyring", [](Opener& o, const Keyring& keys) { o.set_keyring(snapshot(keys)); }, py::arg("keyring"));

  py::class_<ReplayGuard>(m, "ReplayGuard")
      .def(py::init([](uint64_t max_age_ms, uint64_t max_future_skew_ms, const std::string& retained,
                       uint64_t retained_max_age_ms, size_t max_streams) {
             return unwrap(ReplayGuard::create(
                 replay_options(max_age_ms, max_future_skew_ms, retained, retained_max_age_ms, max_streams)));
           }),
           py::kw_only(), py::arg("max_age_ms") = ReplayOptions{}.max_age_ms,
           py::arg("max_future_skew_ms") = ReplayOptions{}.max_future_skew_ms, py::arg("retained") = "accept",
           py::arg("retained_max_age_ms") = ReplayOptions{}.retained_max_age_ms,
           py::arg("max_streams") = ReplayOptions{}.max_streams)
      .def("check",
           [](ReplayGuard& g, const std::string& topic, py::handle sender, uint64_t sequence, uint64_t timestamp_ms,
              bool retained, uint64_t now_ms, const std::string& key_name) {
             BytesLike id(sender);
             if (id.view().size() != kSenderIdSize) raise(Error(Errc::invalid_argument, "a sender ID is 16 bytes"));
             MessageFacts facts;
             facts.topic = topic;
             facts.key_name = key_name;
             std::memcpy(facts.sender.data(), id.view().data(), kSenderIdSize);
             facts.sequence = sequence;
             facts.timestamp_ms = timestamp_ms;
             facts.retained = retained;
             check(g.check(facts, now_ms != 0 ? now_ms : system_time_ms()));
           },
           py::arg("topic"), py::arg("sender"), py::arg("sequence"), py::arg("timestamp_ms"), py::kw_only(),
           py::arg("retained") = false, py::arg("now_ms") = 0, py::arg("key_name") = "")
      .def_property_readonly("tracked_streams", &ReplayGuard::tracked_streams)
      .def("watermark_ms", [](const ReplayGuard& g, const std::string& key_name) { return g.watermark_ms(key_name); },
           py::arg("key_name") = "");

  py::class_<CredentialRecord>(m, "CredentialRecord", "A broker's record of one device: no password, no device secret.")
      .def_readonly("username", &CredentialRecord::username)
      .def_readonly("passphrase", &CredentialRecord::passphrase)
      .def("__repr__", [](const CredentialRecord& r) { return "<mqseal.CredentialRecord for '" + r.username + "'>"; });

  py::class_<Provisioned>(m, "Provisioned")
      .def_property_readonly("device_secret", [](const Provisioned& p) { return unwrap(p.device_secret.clone()); })
      .def_readonly("record", &Provisioned::record);

  m.def("provision",
        [](const std::string& username, py::handle password, const PassphraseParams& params) {
          const SecretText text(password);
          // Argon2id
          return unwrap(without_gil(true, [&] { return provision(username, text.view(), params); }));
        },
        py::arg("username"), py::arg("password"), py::arg("params"),
        "The device secret (for the device) and the broker's record, from a password: a str (as UTF-8) or any "
        "bytes-like object. Python cannot wipe a str or bytes: pass a bytearray and wipe it afterwards (mqseal "
        "leaves no copy of its own).");
  m.def("make_connect_token",
        [](const Key& secret, const std::string& username, const std::string& client_id, uint64_t lifetime_s,
           uint64_t now_s) { return token_str(make_connect_token(secret, username, client_id, lifetime_s, now_s)); },
        py::arg("device_secret"), py::arg("username"), py::arg("client_id"), py::kw_only(),
        py::arg("lifetime_s") = kDefaultTokenLifetimeS, py::arg("now_s") = 0,
        "A fresh single-use token for the CONNECT password field.");
  m.def("make_connect_token",
        [](const Keyring& keys, const std::string& key_name, const std::string& username,
           const std::string& client_id, uint64_t lifetime_s, uint64_t now_s) {
          return token_str(make_connect_token(keys, key_name, username, client_id, lifetime_s, now_s));
        },
        py::arg("keyring"), py::arg("key_name"), py::arg("username"), py::arg("client_id"), py::kw_only(),
        py::arg("lifetime_s") = kDefaultTokenLifetimeS, py::arg("now_s") = 0,
        "The same, with the device secret kept in a keyring (the primary key of key_name).");
  m.def("_make_connect_token_with_nonce", [](const Key& secret, const std::string& username,
                                             const std::string& client_id, uint64_t expiry_s, py::handle nonce) {
    BytesLike n(nonce);
    std::array<uint8_t, kTokenNonceSize> bytes{};
    if (n.view().size() != bytes.size()) raise(Error(Errc::invalid_argument, "a nonce is 16 bytes"));
    std::memcpy(bytes.data(), n.view().data(), bytes.size());
    return token_str(make_connect_token_with_nonce(secret, username, client_id, expiry_s, bytes));
  });

  py::class_<Credentials>(m, "Credentials", "The broker's credentials file: one record per device.")
      .def(py::init<>())
      .def("add", [](Credentials& c, const CredentialRecord& r) { check(c.add(r)); }, py::arg("record"))
      .def("__len__", &Credentials::size)
      .def("__contains__", [](const Credentials& c, const std::string& u) { return c.find(u) != nullptr; })
      .def("save", [](const Credentials& c, const std::string& path) { check(c.save(path)); }, py::arg("path"))
      .def_static("load",
                  [](const std::string& path, bool allow_insecure_permissions) {
                    return unwrap(Credentials::load(path, LoadOptions{allow_insecure_permissions}));
                  },
                  py::arg("path"), py::kw_only(), py::arg("allow_insecure_permissions") = false);

  py::class_<TokenVerifier>(m, "TokenVerifier", "Checks CONNECT tokens; each is accepted once.")
      .def(py::init([](const Credentials& credentials, uint64_t max_clock_skew_s, uint64_t max_lifetime_s,
                       size_t max_tokens_per_user) {
             // A snapshot: the Python object stays usable.
             return unwrap(TokenVerifier::create(unwrap(credentials.clone()),
                                                 VerifierOptions{max_clock_skew_s, max_lifetime_s, max_tokens_per_user}));
           }),
           py::arg("credentials"), py::kw_only(), py::arg("max_clock_skew_s") = VerifierOptions{}.max_clock_skew_s,
           py::arg("max_lifetime_s") = VerifierOptions{}.max_lifetime_s,
           py::arg("max_tokens_per_user") = VerifierOptions{}.max_tokens_per_user)
      .def("verify",
           [](TokenVerifier& v, const std::string& username, const std::string& client_id, std::string_view token,
              uint64_t now_s) { check(v.verify(username, client_id, token, now_s)); },  // token: read in place
           py::arg("username"), py::arg("client_id"), py::arg("token"), py::kw_only(), py::arg("now_s") = 0,
           "Returns if the token is good; raises an mqseal.Error saying which check failed.")
      .def_property_readonly("remembered_tokens", &TokenVerifier::remembered_tokens);

  py::class_<PyHeader>(m, "EnvelopeHeader")
      .def_readonly("version", &PyHeader::version)
      .def_readonly("suite", &PyHeader::suite)
      .def_readonly("flags", &PyHeader::flags)
      .def_readonly("key_id", &PyHeader::key_id)
      .def_readonly("timestamp_ms", &PyHeader::timestamp_ms)
      .def_readonly("sender", &PyHeader::sender)
      .def_readonly("sequence", &PyHeader::sequence);

  m.def("parse_header",
        [](py::handle envelope) {
          EnvelopeHeader h = unwrap(parse_header(BytesLike(envelope).view()));
          return PyHeader{h.version, h.suite, h.flags, h.key_id, h.timestamp_ms,
                          to_bytes(h.sender.data(), h.sender.size()), h.sequence};
        },
        py::arg("envelope"), "The header of an envelope, read without a key. Proves nothing until opened.");

  // Known-answer tests only (tests/vectors): these take and return raw key
  // bytes and a caller-chosen nonce. Never use them to seal real traffic.
  m.def("_derive_topic_key", [](const Key& key, const std::string& topic) {
    std::array<uint8_t, kKeySize> out{};
    check(derive_topic_key(key, topic, out.data()));
    return to_bytes(out.data(), out.size());
  });
  m.def("_seal_with_header", [](py::handle topic_key, const std::string& topic, KeyId key_id, uint64_t timestamp_ms,
                                py::handle sender, uint64_t sequence, py::handle payload, uint8_t version,
                                uint8_t flags) {
    BytesLike key(topic_key);
    BytesLike sender_bytes(sender);
    if (key.view().size() != kKeySize || sender_bytes.view().size() != kSenderIdSize) {
      raise(Error(Errc::invalid_argument, "a 32-byte topic key and a 16-byte sender"));
    }
    EnvelopeHeader h;
    h.version = version;
    h.flags = flags;
    h.key_id = key_id;
    h.timestamp_ms = timestamp_ms;
    std::memcpy(h.sender.data(), sender_bytes.view().data(), kSenderIdSize);
    h.sequence = sequence;
    std::vector<uint8_t> out;
    check(seal_with_header(key.view().data(), topic, h, BytesLike(payload).view(), out));
    return to_bytes(out.data(), out.size());
  }, py::arg("topic_key"), py::arg("topic"), py::arg("key_id"), py::arg("timestamp_ms"), py::arg("sender"),
     py::arg("sequence"), py::arg("payload"), py::kw_only(), py::arg("version") = kEnvelopeVersion,
     py::arg("flags") = 0);
}
