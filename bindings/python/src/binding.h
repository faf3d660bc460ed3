// What every file of the extension module mqseal._mqseal shares: how errors
// cross into Python, how the GIL is released, how bytes-like arguments are
// read. Each other file binds one concern (keys, policy, sealing,
// credentials, hazmat); the Pythonic layer (errors, enums, option
// dataclasses) is in mqseal/*.py, and _mqseal.pyi describes these shims.
//
// Conventions at this boundary:
// - an mqseal error crosses as its stable name (mqseal::name(Errc), e.g.
//   "authentication_failed") and its message, and a refused open's verified
//   signer (Opened::signer on failure) as .signer: mqseal/_errors.py maps
//   them to the mqseal.Error family; wrong Python types are TypeError;
// - integers, text, file paths and bools arrive through one conversion each
//   (Unsigned, Text, FilePath, Flag; field() for the options' fields): a
//   value of the right type that the C++ parameter cannot hold (an int out of
//   range, a str with a lone surrogate) is invalid_argument, never pybind11's
//   own TypeError or a UnicodeEncodeError; a bool is True or False, nothing
//   else that has a truth value;
// - no TypeError shows an argument's value where it may be a secret or a
//   plaintext: Sealer.seal and Opener.open are bound without pybind11's
//   dispatcher (bind_method()), other calls taking secrets are wrapped
//   (keep_values_out_of_type_errors());
// - enums cross as the C++ numeric values (KeyState) or the policy file's
//   words (RetainedPolicy: "accept", "refuse"); mqseal/_options.py defines
//   the Python enums with the C++ member names;
// - bytes-like inputs (bytes, bytearray, memoryview, ...) are read through the
//   buffer protocol without a copy, except where another thread could change
//   them during a call that must read them twice (StableBytes), passwords
//   and keyring text (SecretText), and buffers that are not contiguous
//   (memoryview(b)[::2]), copied once in C order (BytesLike: into guarded
//   memory where they are key material; an envelope above kMaxEnvelopeSize
//   is refused uncopied on a sealed topic); outputs are bytes;
// - Sealer, Opener and RecordCipher take a snapshot of the keyring they are
//   given (snapshot()), so a keyring changed later in Python never races with
//   them: rotate with set_keyring();
// - the GIL is released while large payloads are sealed or opened (for small
//   ones, releasing it would cost more than the work) and while Argon2id runs,
//   always through without_gil(): nothing Python may happen without the GIL,
//   raising an exception included (that crashes the interpreter), so errors
//   come back as values and are raised once the GIL is held again;
// - passwords, passphrases and keyring text leave no copy behind (SecretText);
// - an instance whose __init__ never ran (Sealer.__new__(Sealer), or one whose
//   __init__ raised) holds no C++ object: used as self or as an argument of
//   any call, it is a TypeError (Class<T>, InitialisedCaster), where pybind11
//   would hand out raw, unconstructed memory for it (a crash or a hang).
#ifndef MQSEAL_PYTHON_BINDING_H_
#define MQSEAL_PYTHON_BINDING_H_

#include <Python.h>
#include <sodium.h>
#include <pybind11/gil_safe_call_once.h>
#include <pybind11/pybind11.h>

#include <mqseal/mqseal.h>

#include "base/secret.h"  // core/src (mqseal_internal): the one secret type

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>
#ifdef __GLIBCXX__  // (defined by the headers above)
#include <cxxabi.h>  // abi::__forced_unwind
#endif

namespace mqseal::python {

namespace py = pybind11;

// Payloads from this size on are sealed and opened without the GIL.
inline constexpr size_t kReleaseGilFrom = 16 * 1024;

// ---- the Python layer ----

// `name` from the pure-Python module mqseal.`module` (mqseal/_errors.py,
// mqseal/_options.py), looked up when first needed (the package has been
// imported by then) and kept in `stored` (a function-local static) for the
// life of the process. GIL held.
using PythonName = py::gil_safe_call_once_and_store<py::object>;
py::handle python_layer(PythonName& stored, const char* module, const char* name);

// ---- errors ----

// Raises the mqseal.Error subclass that mqseal._errors.error_for() maps the
// error's stable name to, with its message and `signer` (its .signer; None
// when empty). Aborts without the GIL.
[[noreturn]] void raise(const Error& error, std::string_view signer = {});

inline void check(const Status& status) {
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

// ---- integers, text and file paths ----

// `object` as an unsigned integer of at most `max`: an int, or any object
// with __index__ (bool, numpy's integers). nullopt if it is none of these (a
// float, a str: the caller raises TypeError); invalid_argument, naming `what`
// ("option max_age_ms"), if it is out of 0..max. GIL held.
std::optional<uint64_t> unsigned_integer(py::handle object, uint64_t max, const char* what);

// The UTF-8 form of `object` if it is a str (kept inside the str object:
// valid while it lives); nullopt if it is not a str; invalid_argument, naming
// `what`, if UTF-8 cannot hold it (a lone surrogate, U+D800 to U+DFFF). GIL held.
std::optional<std::string_view> utf8_of(py::handle object, const char* what);

// Parameter types whose casters (below) convert with the two functions above;
// each converts back to the C++ type it stands for.
//
// An unsigned integer parameter (a time, a size, a KeyId): an int out of the
// range of T is invalid_argument (pybind11's own caster refused -1 or 2**64
// as "incompatible function arguments", a TypeError).
template <typename T>
struct Unsigned {
  static_assert(std::is_unsigned_v<T>);
  T value{};
  operator T() const { return value; }
};
// A text parameter (topic, filter, key name, username, URL, ...): a str as
// UTF-8 (invalid_argument for a lone surrogate, where pybind11 raised
// TypeError), or bytes as they are (the core checks them, as for a str).
struct Text : std::string {
  Text() = default;
  explicit Text(std::string text) : std::string(std::move(text)) {}
};
// A bool parameter (retain, retained, allow_insecure_permissions): True or
// False, nothing else. pybind11's own caster took any object with a truth
// value (None, 0, 2, 1.5, numpy's bools), so that retain=None meant False and
// allow_insecure_permissions=1 True; here anything but a bool is a wrong type
// (TypeError). An option field that is a bool is read as a Flag (field()).
struct Flag {
  bool value = false;
  operator bool() const { return value; }
};
// A file path: a str encoded as os.fsencode() does, so a file whose name is
// not UTF-8 (os.listdir() gives its bytes as surrogates U+DC80 to U+DCFF)
// is the file Python's open() opens; or bytes as they are. invalid_argument
// if it cannot be encoded, or holds a NUL: the core opens files by C string,
// and would open the path cut at the NUL (Keyring.load("a.keys\0x") read
// a.keys), where Python's open() refuses.
struct FilePath : std::string {
  FilePath() = default;
  explicit FilePath(std::string path) : std::string(std::move(path)) {}
};

// ---- bytes-like arguments ----

// What a copy of a caller's buffer holds, when one is made (BytesLike).
enum class Holds { data, key_material };

// A read-only, contiguous view of any object with the buffer protocol,
// released on scope exit. An exact bytes object is read in place without
// asking for its buffer. A buffer that is not contiguous (a strided
// memoryview, a numpy slice) is copied once, here, in C order, with the GIL
// held: into guarded memory (wiped when freed) if it `Holds::key_material`;
// unless it is larger than `copy_limit`: then it is left unread (unread():
// view() is empty, size() its size), for a caller that refuses it by its size.
class BytesLike {
 public:
  explicit BytesLike(py::handle object, Holds holds = Holds::data, size_t copy_limit = SIZE_MAX) {
    if (PyBytes_CheckExact(object.ptr())) {
      bytes_ = ByteView(PyBytes_AS_STRING(object.ptr()), static_cast<size_t>(PyBytes_GET_SIZE(object.ptr())));
      return;
    }
    if (PyUnicode_Check(object.ptr())) throw py::type_error("expected a bytes-like object, not str");
    Py_buffer& view = exported_.view;
    if (PyObject_GetBuffer(object.ptr(), &view, PyBUF_RECORDS_RO) != 0) throw py::error_already_set();
    const size_t size = static_cast<size_t>(view.len);
    if (size == 0 || PyBuffer_IsContiguous(&view, 'C')) {
      bytes_ = ByteView(view.buf, size);
      return;
    }
    if (size > copy_limit) {
      unread_size_ = size;
      return;
    }
    uint8_t* to = nullptr;
    if (holds == Holds::key_material) {
      Result<internal::Secret> secret = internal::Secret::allocate(size);
      if (!secret) throw std::bad_alloc();  // MemoryError
      secret_ = std::move(*secret);
      to = secret_.data();
    } else {
      copy_.resize(size);
      to = copy_.data();
    }
    if (PyBuffer_ToContiguous(to, &view, view.len, 'C') != 0) throw py::error_already_set();
    bytes_ = ByteView(to, size);
    copied_ = true;
  }
  BytesLike(const BytesLike&) = delete;
  BytesLike& operator=(const BytesLike&) = delete;
  ByteView view() const { return bytes_; }
  // Whether view() is a copy made here (then no other thread can change it).
  bool copied() const { return copied_; }
  // Whether the buffer was left unread: not contiguous, above copy_limit.
  bool unread() const { return unread_size_ != 0; }
  // The buffer's size in bytes, read or not.
  size_t size() const { return unread() ? unread_size_ : bytes_.size(); }

 private:
  // The caller's buffer, released when this object ends, or when its
  // constructor throws after asking for it.
  struct Exported {
    Py_buffer view{};
    Exported() = default;
    Exported(const Exported&) = delete;
    Exported& operator=(const Exported&) = delete;
    ~Exported() {
      if (view.obj != nullptr) PyBuffer_Release(&view);
    }
  };
  Exported exported_;
  ByteView bytes_;
  bool copied_ = false;
  size_t unread_size_ = 0;
  std::vector<uint8_t> copy_;
  internal::Secret secret_;  // wiped and freed with this object
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
// Buffers larger than `copy_limit` are not copied: the caller guarantees
// that the call refuses them by their size before reading their content more
// than once. A contiguous one is read in place; one that is not is left
// unread (unread(): view() is empty, size() its size).
class StableBytes {
 public:
  StableBytes(py::handle object, size_t copy_limit) {
    if (PyBytes_CheckExact(object.ptr())) {
      view_ = ByteView(PyBytes_AS_STRING(object.ptr()), static_cast<size_t>(PyBytes_GET_SIZE(object.ptr())));
      return;
    }
    borrowed_.emplace(object, Holds::data, copy_limit);
    view_ = borrowed_->view();
    if (borrowed_->copied() || borrowed_->size() > copy_limit) return;
    copy_.assign(view_.begin(), view_.end());
    view_ = ByteView(copy_);
    borrowed_.reset();
  }
  StableBytes(const StableBytes&) = delete;
  StableBytes& operator=(const StableBytes&) = delete;
  ByteView view() const { return view_; }
  bool unread() const { return borrowed_ && borrowed_->unread(); }
  size_t size() const { return unread() ? borrowed_->size() : view_.size(); }

 private:
  std::optional<BytesLike> borrowed_;
  std::vector<uint8_t> copy_;
  ByteView view_;
};

// A password, passphrase or keyring text (str, read as UTF-8, or any bytes-like object),
// readable without the GIL, and leaving no copy behind in C++: a str is read
// in place (the UTF-8 form Python keeps inside the str object), an exact bytes
// object in place; any other buffer may change (see StableBytes), so it is
// copied into guarded memory (sodium_malloc), wiped and freed when the call
// ends. Python's own str and bytes objects cannot be wiped: the docstrings
// recommend a bytearray, which the caller can wipe itself.
class SecretText {
 public:
  explicit SecretText(py::handle object) {
    const char* what = "secret text (a password, passphrase, token or keyring)";
    if (const std::optional<std::string_view> utf8 = utf8_of(object, what)) {
      text_ = *utf8;
      return;
    }
    if (PyBytes_CheckExact(object.ptr())) {
      text_ = std::string_view(PyBytes_AS_STRING(object.ptr()), static_cast<size_t>(PyBytes_GET_SIZE(object.ptr())));
      return;
    }
    const BytesLike bytes(object, Holds::key_material);  // TypeError for anything else
    Result<internal::Secret> copy = internal::Secret::copy_of(bytes.view());
    if (!copy) throw std::bad_alloc();  // MemoryError
    copy_ = std::move(*copy);
    text_ = copy_.text();
  }
  SecretText(const SecretText&) = delete;
  SecretText& operator=(const SecretText&) = delete;
  std::string_view view() const { return text_; }

 private:
  internal::Secret copy_;  // the one secret type: wiped and freed with this object
  std::string_view text_;
};

// Exactly `size` bytes from a bytes-like object into `out`, or invalid_argument
// saying `what` ("a sender ID is 16 bytes").
void copy_exact(py::handle object, uint8_t* out, size_t size, const char* what);

inline py::bytes to_bytes(const uint8_t* data, size_t size) {
  return py::bytes(reinterpret_cast<const char*>(data), size);
}

// A new bytes object of `size` bytes, for a call to write its result into
// (MemoryError if there is no memory). Until it is returned, nothing else
// holds it: its bytes may be written without the GIL (bytes_data()).
inline py::bytes new_bytes(size_t size) {
  PyObject* bytes = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(size));
  if (bytes == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::bytes>(bytes);
}
inline uint8_t* bytes_data(const py::bytes& bytes) {
  return reinterpret_cast<uint8_t*>(PyBytes_AS_STRING(bytes.ptr()));
}
// `bytes`, from new_bytes() and held by nothing else, cut to its first `size`
// bytes (a no-op when it has that size).
inline py::bytes shrink(py::bytes bytes, size_t size) {
  if (size == static_cast<size_t>(PyBytes_GET_SIZE(bytes.ptr()))) return bytes;
  PyObject* raw = bytes.release().ptr();
  if (_PyBytes_Resize(&raw, static_cast<Py_ssize_t>(size)) != 0) throw py::error_already_set();
  return py::reinterpret_steal<py::bytes>(raw);
}

// A CONNECT token (a password) as a str; the C++ string is wiped.
py::str token_str(Result<std::string>&& token);

// A private copy of the caller's keyring, so that Python changing its own
// keyring later never races with a Sealer, an Opener or a RecordCipher.
std::shared_ptr<const Keyring> snapshot(const Keyring& keys);

// ---- secrets in TypeErrors ----

// pybind11 writes the repr of every argument into the TypeError of a call
// that matches no signature ("Invoked with: 'device-7', bytearray(b'pw'),
// None"): a password, a token, key bytes or a plaintext given next to a wrong
// argument, with one argument too many or with a misspelt keyword, would end
// up in a log. Two ways keep them out: calls made for every message are bound
// without pybind11's dispatcher (bind_method()), the others that take a
// secret are wrapped (keep_values_out_of_type_errors()).

// ---- methods called for every message ----
//
// Sealer.seal and Opener.open take and return plaintext, for every message.
// They are plain CPython methods (METH_FASTCALL | METH_KEYWORDS), so no
// overload resolution can fail and show the arguments: they take whatever
// they are given, place it by name (place_arguments()), and convert each
// argument through the caster of its parameter type (Text, Unsigned<T>, Flag)
// or as a buffer; a wrong type is a TypeError naming the method, the
// parameter and the type given, never a value. This costs less than
// pybind11's dispatch (no overload resolution; no bound method object made
// per call), where a wrapper would add a second dispatch.

// A method's parameters: their names in order; the first `positional` may be
// given by position or by name, the rest by name only; the first `required`
// must be given.
template <size_t N>
struct Parameters {
  const char* method;  // as errors name it: "Sealer.seal"
  std::array<const char*, N> names;
  size_t positional;
  size_t required;
};

// Places the arguments of a call (`nargs` positional ones in `args`, then one
// for each name in `kwnames`, CPython's vectorcall convention) at their
// parameters' places in `out` (`count` of them; those not given stay null).
// TypeError, naming the method and its parameters, for too many positional
// arguments, an unknown keyword, a parameter given twice, or a required one
// not given.
void place_arguments(const char* method, const char* const* names, size_t count, size_t positional,
                     size_t required, PyObject* const* args, size_t nargs, PyObject* kwnames, PyObject** out);

// The TypeError for `method`'s parameter `name` given `object`: names its
// type, never its value.
[[noreturn]] void wrong_type(const char* method, const char* name, const char* expected, py::handle object);

// The TypeError for `method` called on `self`, an instance whose __init__
// never ran (it holds no C++ object).
[[noreturn]] void not_initialised(const char* method, py::handle self);

// The arguments of one call of a method with these Parameters.
template <size_t N>
class Arguments {
 public:
  Arguments(const Parameters<N>& parameters, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames)
      : parameters_(parameters) {
    place_arguments(parameters.method, parameters.names.data(), N, parameters.positional, parameters.required,
                    args, static_cast<size_t>(nargs), kwnames, given_.data());
  }
  Arguments(const Arguments&) = delete;
  Arguments& operator=(const Arguments&) = delete;

  // Argument i as T (Text, Unsigned<U>, Flag), converted by T's caster as
  // every pybind11 call converts it (invalid_argument for a value out of
  // range); `fallback` if it was not given.
  template <typename T>
  T get(size_t i, T fallback = T()) const {
    if (given_[i] == nullptr) return fallback;
    py::detail::make_caster<T> caster;
    if (!caster.load(given_[i], true)) {
      wrong_type(parameters_.method, parameters_.names[i], py::detail::make_caster<T>::name.text, given_[i]);
    }
    return py::detail::cast_op<T&&>(std::move(caster));
  }
  // Argument i (a required one), if it is bytes-like: bytes or an object with
  // the buffer protocol (for BytesLike, StableBytes).
  py::handle bytes_like(size_t i) const {
    const py::handle object = given_[i];
    if (!PyBytes_CheckExact(object.ptr()) && PyObject_CheckBuffer(object.ptr()) == 0) {
      wrong_type(parameters_.method, parameters_.names[i], "a bytes-like object", object);
    }
    return object;
  }

 private:
  const Parameters<N>& parameters_;
  std::array<PyObject*, N> given_{};  // borrowed from the call; null: not given
};

// The C function of a Method bound by bind_method(): places and converts the
// arguments, calls Method::call, and turns a C++ exception into a Python one
// as pybind11's dispatcher does.
template <typename Method>
PyObject* call_method(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  try {
    const Arguments<Method::parameters.names.size()> given(Method::parameters, args, nargs, kwnames);
    // The method descriptor let only instances of the class (or subclasses)
    // through: the C++ object is the instance's value for the class, found
    // as pybind11's cast finds it, without the cast's type checks. One whose
    // __init__ never ran (Sealer.__new__(Sealer)) holds none: a TypeError
    // naming the method (InitialisedCaster's, for any other call).
    using Class = typename Method::Class;
    const py::detail::value_and_holder value = reinterpret_cast<py::detail::instance*>(self)->get_value_and_holder(
        py::detail::get_type_info(typeid(Class), /*throw_if_missing=*/true));
    if (value.value_ptr() == nullptr) not_initialised(Method::parameters.method, self);
    return Method::call(*value.value_ptr<Class>(), given).release().ptr();
  } catch (py::error_already_set& error) {
    error.restore();
#ifdef __GLIBCXX__
  } catch (abi::__forced_unwind&) {
    throw;  // a thread being cancelled: never swallowed
#endif
  } catch (...) {
    py::detail::try_translate_exceptions();
  }
  return nullptr;
}

// Makes `Method` the method Method::name of the class `cls`. Method says:
// its Class; its name; its parameters (Parameters<N>); its doc (whose first
// line is its signature, written as pybind11 writes the others': help() and
// tests/python/test_stubs.py read it); and
// `static py::object call(Class&, const Arguments<N>&)`.
template <typename Method>
void bind_method(py::handle cls) {
  static PyMethodDef definition{Method::name,
                                reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&call_method<Method>)),
                                METH_FASTCALL | METH_KEYWORDS, Method::doc};
  PyObject* method = PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(cls.ptr()), &definition);
  if (method == nullptr) throw py::error_already_set();
  py::setattr(cls, Method::name, py::reinterpret_steal<py::object>(method));
}

// ---- other calls that take a secret ----

// What `scope.name` is: a module's function, a method, a static method.
enum class Callable { function, method, static_method };

// Replaces the function `name` of `scope` (a module or a class) with one that
// calls it and, on pybind11's TypeError of a call that matches no signature,
// raises it again with the same signatures but only the types of the
// arguments. The docstring stays. It costs a second call's dispatch: for calls
// that take a secret and are not made for every message (those are bound with
// bind_method()).
void keep_values_out_of_type_errors(py::handle scope, const char* name, Callable kind);

// ---- options ----

// The attribute `name` of an options object (a mqseal/_options.py dataclass)
// as a T, converted as arguments are (an unsigned integer as Unsigned<T>, a
// std::string as Text, a bool as Flag): invalid_argument naming the option for
// a value out of range, TypeError naming it for a value of a wrong type.
template <typename T>
T field(py::handle options, const char* name) {
  static_assert(!std::is_same_v<T, bool>, "a bool option is read as a Flag: True or False only");
  py::object value = options.attr(name);
  const std::string what = std::string("option ") + name;
  if constexpr (std::is_integral_v<T>) {
    if (const std::optional<uint64_t> number = unsigned_integer(value, std::numeric_limits<T>::max(), what.c_str())) {
      return static_cast<T>(*number);
    }
  } else {
    if constexpr (std::is_same_v<T, std::string>) {
      if (const std::optional<std::string_view> text = utf8_of(value, what.c_str())) return std::string(*text);
    }
    try {
      return value.cast<T>();
    } catch (const py::cast_error&) {
    }
  }
  throw py::type_error(what + ": " + std::string(py::str(py::type::of(value))) + " is not a valid value");
}

// The attribute "replay_store" of an options object: None (null), or a
// ReplayStore made by memory_replay_store() and the like; TypeError otherwise.
std::shared_ptr<ReplayStore> replay_store_field(py::handle options);

// ---- enums ----

// RetainedPolicy from its word in policy files and in mqseal.RetainedPolicy's
// values: "accept" or "refuse"; invalid_argument otherwise.
RetainedPolicy retained_policy(std::string_view word);
// mqseal.RetainedPolicy for a C++ value.
py::object retained_policy(RetainedPolicy policy);

// ---- instances whose __init__ never ran ----

// The TypeError for `instance`, used as self or as an argument: its __init__
// never ran (Cls.__new__(Cls)), or raised, so it holds no C++ object.
[[noreturn]] void never_initialised(py::handle instance);

// ---- the concerns, one file each ----

void bind_keys(py::module_& m);         // keys.cpp: PassphraseParams, Key, KeyInfo, Keyring
void bind_policy(py::module_& m);       // policy.cpp: TopicRule, TopicPolicy
void bind_sealing(py::module_& m);      // sealing.cpp: Sealer, Opener, ReplayGuard, RecordCipher, parse_header
void bind_credentials(py::module_& m);  // credentials.cpp: provision, tokens, Credentials, TokenVerifier
void bind_replay_stores(py::module_& m);  // replay_store.cpp: ReplayStore and the functions that open one
void bind_hazmat(py::module_& m);       // hazmat.cpp: known-answer calls, for mqseal.hazmat only

}  // namespace mqseal::python

// The casters of the parameter types above: pybind11 tries the next overload
// when load() returns false (a wrong type: TypeError if none fits); a value of
// the right type out of range raises invalid_argument from load() at once.
namespace PYBIND11_NAMESPACE {
namespace detail {

template <typename T>
struct type_caster<mqseal::python::Unsigned<T>> {
  PYBIND11_TYPE_CASTER(mqseal::python::Unsigned<T>, const_name("int"));
  bool load(handle src, bool /*convert*/) {
    const std::optional<uint64_t> number =
        mqseal::python::unsigned_integer(src, std::numeric_limits<T>::max(), "an integer argument");
    if (!number) return false;
    value.value = static_cast<T>(*number);
    return true;
  }
  static handle cast(mqseal::python::Unsigned<T> src, return_value_policy, handle) {
    return PyLong_FromUnsignedLongLong(src.value);
  }
};

template <>
struct type_caster<mqseal::python::Text> {
  PYBIND11_TYPE_CASTER(mqseal::python::Text, const_name("str"));
  bool load(handle src, bool convert) {
    if (const std::optional<std::string_view> text = mqseal::python::utf8_of(src, "a str argument")) {
      value = mqseal::python::Text(std::string(*text));
      return true;
    }
    make_caster<std::string> bytes;  // not a str: bytes are taken as they are, as pybind11 does
    if (!bytes.load(src, convert)) return false;
    value = mqseal::python::Text(cast_op<std::string&&>(std::move(bytes)));
    return true;
  }
  static handle cast(const mqseal::python::Text& src, return_value_policy policy, handle parent) {
    return make_caster<std::string>::cast(src, policy, parent);
  }
};

template <>
struct type_caster<mqseal::python::Flag> {
  PYBIND11_TYPE_CASTER(mqseal::python::Flag, const_name("bool"));
  bool load(handle src, bool /*convert*/) {
    if (src.ptr() != Py_True && src.ptr() != Py_False) return false;
    value.value = src.ptr() == Py_True;
    return true;
  }
  static handle cast(mqseal::python::Flag src, return_value_policy, handle) {
    return handle(src.value ? Py_True : Py_False).inc_ref();
  }
};

template <>
struct type_caster<mqseal::python::FilePath> {
  PYBIND11_TYPE_CASTER(mqseal::python::FilePath, const_name("str"));
  bool load(handle src, bool convert);  // module.cpp
  static handle cast(const mqseal::python::FilePath& src, return_value_policy policy, handle parent) {
    return make_caster<std::string>::cast(src, policy, parent);
  }
};

// The caster of every class bound here (MQSEAL_BOUND_CLASS). pybind11's own
// (type_caster_base) hands out, for an instance that holds no C++ object,
// memory it allocates then and never constructs (type_caster_generic::
// load_value, "lazy allocation"): a method reads garbage (a crash, a hang on a
// garbage mutex). This one raises TypeError for it instead (never_initialised),
// before anything is allocated, whether the instance is self or an argument.
// The value pointer is null until __init__ has constructed the C++ object; an
// instance pybind11 made for a reference (def_readonly) has one, and no holder.
// A check of a pointer per argument: nothing measurable.
template <typename T>
class InitialisedCaster : public type_caster_base<T> {
 public:
  bool load(handle src, bool convert) { return this->template load_impl<InitialisedCaster<T>>(src, convert); }
  // Called by load_impl (type_caster_generic) with the instance found.
  void load_value(value_and_holder&& v_h) {
    if (v_h.value_ptr() == nullptr) mqseal::python::never_initialised(handle(reinterpret_cast<PyObject*>(v_h.inst)));
    type_caster_base<T>::load_value(std::move(v_h));
  }
};

// Declares that T is bound with mqseal::python::Class<T> (which checks that
// this was done): in namespace PYBIND11_NAMESPACE::detail, before any use of
// T's caster in the file (below, for the core's classes; sealing.cpp for its
// own).
#define MQSEAL_BOUND_CLASS(T) \
  template <>                 \
  class type_caster<T> : public InitialisedCaster<T> {}

MQSEAL_BOUND_CLASS(mqseal::PassphraseParams);
MQSEAL_BOUND_CLASS(mqseal::Key);
MQSEAL_BOUND_CLASS(mqseal::KeyInfo);
MQSEAL_BOUND_CLASS(mqseal::Keyring);
MQSEAL_BOUND_CLASS(mqseal::TopicRule);
MQSEAL_BOUND_CLASS(mqseal::TopicPolicy);
MQSEAL_BOUND_CLASS(mqseal::Sealer);
MQSEAL_BOUND_CLASS(mqseal::Opener);
MQSEAL_BOUND_CLASS(mqseal::ReplayGuard);
MQSEAL_BOUND_CLASS(mqseal::RecordCipher);
MQSEAL_BOUND_CLASS(mqseal::ReplayStore);
MQSEAL_BOUND_CLASS(mqseal::CredentialRecord);
MQSEAL_BOUND_CLASS(mqseal::Provisioned);
MQSEAL_BOUND_CLASS(mqseal::Credentials);
MQSEAL_BOUND_CLASS(mqseal::TokenVerifier);

// class_<T, Options...> for a T whose caster is an InitialisedCaster (here,
// where the namespace gives it the visibility of its base).
template <typename T, typename... Options>
class bound_class : public class_<T, Options...> {
  static_assert(std::is_base_of_v<InitialisedCaster<T>, make_caster<T>>,
                "declare the class with MQSEAL_BOUND_CLASS (binding.h): an instance whose __init__ never ran "
                "must be a TypeError");

 public:
  using class_<T, Options...>::class_;
};

}  // namespace detail
}  // namespace PYBIND11_NAMESPACE

namespace mqseal::python {

// py::class_, for every class of the module: it refuses an instance whose
// __init__ never ran (InitialisedCaster).
template <typename T, typename... Options>
using Class = py::detail::bound_class<T, Options...>;

}  // namespace mqseal::python

#endif  // MQSEAL_PYTHON_BINDING_H_
