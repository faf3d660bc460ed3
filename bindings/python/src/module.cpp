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

std::optional<uint64_t> unsigned_integer(py::handle object, uint64_t max, const char* what) {
  if (!PyIndex_Check(object.ptr())) return std::nullopt;  // float, str, None, ...: a wrong type
  const py::object integer = py::reinterpret_steal<py::object>(PyNumber_Index(object.ptr()));
  if (!integer) throw py::error_already_set();  // its __index__ raised
  int overflow = 0;  // -1, +1: beyond long long
  const long long small = PyLong_AsLongLongAndOverflow(integer.ptr(), &overflow);
  if (small == -1 && PyErr_Occurred() != nullptr) throw py::error_already_set();
  if (overflow == 0 && small >= 0 && static_cast<unsigned long long>(small) <= max) return small;
  if (overflow > 0) {
    const unsigned long long large = PyLong_AsUnsignedLongLong(integer.ptr());
    if (PyErr_Occurred() == nullptr && large <= max) return large;
    PyErr_Clear();  // beyond 2**64 - 1
  }
  // Never the repr of a large int: str() refuses ints of more than 4300 digits.
  const std::string shown = overflow == 0 ? std::to_string(small) : overflow < 0 ? "a number below -2**63"
                                                                                  : "a number above 2**63";
  raise(Error(Errc::invalid_argument,
              std::string(what) + " is out of range: " + shown + " is not in 0.." + std::to_string(max)));
}

std::optional<std::string_view> utf8_of(py::handle object, const char* what) {
  if (!PyUnicode_Check(object.ptr())) return std::nullopt;
  Py_ssize_t size = 0;
  const char* utf8 = PyUnicode_AsUTF8AndSize(object.ptr(), &size);
  if (utf8 != nullptr) return std::string_view(utf8, static_cast<size_t>(size));
  if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError) == 0) throw py::error_already_set();  // MemoryError
  PyErr_Clear();
  // Where, not what: the text may be a password.
  raise(Error(Errc::invalid_argument, std::string(what) +
                                          " holds a lone surrogate (U+D800 to U+DFFF), which UTF-8 cannot encode"));
}

void place_arguments(const char* method, const char* const* names, size_t count, size_t positional,
                     size_t required, PyObject* const* args, size_t nargs, PyObject* kwnames, PyObject** out) {
  // As CPython words its own, naming parameters, never values. Made only
  // for an error: this runs for every seal and open.
  const auto called = [method] { return std::string(method) + "()"; };
  if (nargs > positional) {
    throw py::type_error(called() + " takes at most " + std::to_string(positional) + " positional arguments (" +
                         std::to_string(nargs) + " given)");
  }
  for (size_t i = 0; i < nargs; ++i) out[i] = args[i];
  const size_t keywords = kwnames == nullptr ? 0 : static_cast<size_t>(PyTuple_GET_SIZE(kwnames));
  for (size_t k = 0; k < keywords; ++k) {
    PyObject* keyword = PyTuple_GET_ITEM(kwnames, k);
    size_t i = 0;
    while (i < count && PyUnicode_CompareWithASCIIString(keyword, names[i]) != 0) ++i;
    if (i == count) {
      // repr(): a keyword that UTF-8 cannot hold is shown escaped, not an error of its own
      throw py::type_error(called() + " got an unexpected keyword argument " + std::string(py::repr(keyword)));
    }
    if (out[i] != nullptr) throw py::type_error(called() + " got multiple values for argument '" + names[i] + "'");
    out[i] = args[nargs + k];
  }
  for (size_t i = 0; i < required; ++i) {
    if (out[i] == nullptr) throw py::type_error(called() + " missing required argument '" + names[i] + "'");
  }
}

void wrong_type(const char* method, const char* name, const char* expected, py::handle object) {
  throw py::type_error(std::string(method) + "(): argument '" + name + "' must be " + expected + ", not " +
                       Py_TYPE(object.ptr())->tp_name);
}

void not_initialised(const char* method, py::handle self) {
  throw py::type_error(std::string(method) + "(): called on a " + Py_TYPE(self.ptr())->tp_name +
                       " whose __init__ never ran");
}

void never_initialised(py::handle instance) {
  throw py::type_error(std::string("a ") + Py_TYPE(instance.ptr())->tp_name +
                       " whose __init__ never ran (it holds no C++ object) cannot be used");
}

namespace {

// Calls `function` with `args` and `kwargs`; a TypeError of pybind11's that
// shows the arguments' values is raised again showing only their types.
py::object without_values_in_type_errors(const py::object& function, const py::tuple& args, const py::dict& kwargs) {
  PyObject* result = PyObject_Call(function.ptr(), args.ptr(), kwargs.empty() ? nullptr : kwargs.ptr());
  if (result != nullptr) return py::reinterpret_steal<py::object>(result);
  py::error_already_set error;
  if (!error.matches(PyExc_TypeError)) throw error;
  const std::string message = py::str(error.value());
  const size_t values = message.find("\nInvoked with: ");
  if (values == std::string::npos) throw error;
  std::string types;
  for (const py::handle arg : args) {
    types += (types.empty() ? "" : ", ") + std::string(py::str(py::type::of(arg).attr("__name__")));
  }
  for (const auto& [key, value] : kwargs) {
    types += (types.empty() ? "" : ", ") + std::string(py::str(key)) + "=" +
             std::string(py::str(py::type::of(value).attr("__name__")));
  }
  throw py::type_error(message.substr(0, values) + "\nInvoked with arguments of types: " + types +
                       " (mqseal shows no values: they may be secrets)");
}

}  // namespace

void keep_values_out_of_type_errors(py::handle scope, const char* name, Callable kind) {
  const py::object original = scope.attr(name);  // a method as its function
  const std::string doc = py::str(original.attr("__doc__"));
  py::options options;
  options.disable_function_signatures();  // the docstring copied starts with them
  auto call = [original](const py::args& args, const py::kwargs& kwargs) {
    return without_values_in_type_errors(original, args, kwargs);
  };
  switch (kind) {
    case Callable::function:
      scope.attr(name) = py::cpp_function(call, py::name(name), py::scope(scope), py::doc(doc.c_str()));
      break;
    case Callable::static_method:
      scope.attr(name) =
          py::staticmethod(py::cpp_function(call, py::name(name), py::scope(scope), py::doc(doc.c_str())));
      break;
    case Callable::method:
      // The instance goes first; pybind11 checks its type when `original` is called.
      scope.attr(name) = py::cpp_function(
          [original](py::handle self, const py::args& args, const py::kwargs& kwargs) {
            const size_t n = args.size();
            py::tuple all(n + 1);
            all[0] = self;
            for (size_t i = 0; i < n; ++i) all[i + 1] = args[i];
            return without_values_in_type_errors(original, all, kwargs);
          },
          py::name(name), py::is_method(scope), py::doc(doc.c_str()));
      break;
  }
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

namespace PYBIND11_NAMESPACE {
namespace detail {

bool type_caster<mqseal::python::FilePath>::load(handle src, bool /*convert*/) {
  std::string path;
  if (PyUnicode_Check(src.ptr())) {
    // os.fsencode(): UTF-8 with surrogateescape here (the file system encoding of Python 3.7+ on Linux)
    const object encoded = reinterpret_steal<object>(PyUnicode_EncodeFSDefault(src.ptr()));
    if (!encoded) {
      if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError) == 0) throw error_already_set();
      PyErr_Clear();
      mqseal::python::raise(mqseal::Error(mqseal::Errc::invalid_argument,
                                          "a file path holds a surrogate (U+D800 to U+DFFF) that is not an "
                                          "undecodable byte's (U+DC80 to U+DCFF): the file system cannot name it"));
    }
    path.assign(PyBytes_AS_STRING(encoded.ptr()), static_cast<size_t>(PyBytes_GET_SIZE(encoded.ptr())));
  } else if (PyBytes_Check(src.ptr())) {
    path.assign(PyBytes_AS_STRING(src.ptr()), static_cast<size_t>(PyBytes_GET_SIZE(src.ptr())));
  } else {
    return false;
  }
  if (path.find('\0') != std::string::npos) {
    mqseal::python::raise(mqseal::Error(mqseal::Errc::invalid_argument, "a file path holds no NUL character"));
  }
  value = mqseal::python::FilePath(std::move(path));
  return true;
}

}  // namespace detail
}  // namespace PYBIND11_NAMESPACE

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
