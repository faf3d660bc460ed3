// Sealing and opening: Sealer, Opener, ReplayGuard, parse_header (mqseal/sealer.h,
// mqseal/opener.h, mqseal/replay_guard.h, mqseal/envelope.h) and RecordCipher
// (mqseal/record_cipher.h). Options arrive as the dataclasses of mqseal/_options.py.
#include <cstdint>

#include "binding.h"

namespace mqseal::python {

namespace {

// ---- options (mqseal/_options.py) ----

ReplayOptions replay_options(py::handle o) {
  ReplayOptions options;
  options.max_age_ms = field<uint64_t>(o, "max_age_ms");
  options.max_future_skew_ms = field<uint64_t>(o, "max_future_skew_ms");
  options.retained = retained_policy(field<std::string>(o, "retained"));
  options.retained_max_age_ms = field<uint64_t>(o, "retained_max_age_ms");
  options.max_streams = field<size_t>(o, "max_streams");
  options.max_evicted_streams = field<size_t>(o, "max_evicted_streams");
  return options;
}

SealerOptions sealer_options(py::handle o) {
  SealerOptions options;
  options.topic_cache_capacity = field<size_t>(o, "topic_cache_capacity");
  options.signer = field<std::string>(o, "signer");
  options.recipient_session_max_age_ms = field<uint64_t>(o, "recipient_session_max_age_ms");
  return options;
}

OpenerOptions opener_options(py::handle o) {
  OpenerOptions options;
  options.replay = replay_options(o.attr("replay"));
  options.topic_cache_capacity = field<size_t>(o, "topic_cache_capacity");
  options.replay_store = replay_store_field(o);
  options.max_claims_per_key_name = field<size_t>(o, "max_claims_per_key_name");
  options.replay_group = field<std::string>(o, "replay_group");
  options.recipient_session_capacity = field<size_t>(o, "recipient_session_capacity");
  return options;
}

// ---- value types ----

struct PyOpened {
  py::bytes payload;
  bool sealed;
  KeyId key_id;
  uint64_t timestamp_ms;
  py::bytes sender;
  uint64_t sequence;
  bool retained;
  std::string signer;  // suites 2 and 4: the verified signer's name; empty otherwise
  KeyId signer_key_id;
};

struct PyHeader {
  int version;
  int suite;
  int flags;
  KeyId key_id;
  uint64_t timestamp_ms;
  py::bytes sender;
  uint64_t sequence;
  KeyId signer_key_id;
  py::bytes ephemeral;  // suites 3 and 4: the sealing session's X25519 public key; empty otherwise
};

}  // namespace
}  // namespace mqseal::python

namespace PYBIND11_NAMESPACE {
namespace detail {
MQSEAL_BOUND_CLASS(mqseal::python::PyOpened);
MQSEAL_BOUND_CLASS(mqseal::python::PyHeader);
}  // namespace detail
}  // namespace PYBIND11_NAMESPACE

namespace mqseal::python {
namespace {

// ---- the methods called for every message (binding.h, bind_method()) ----

struct Seal {
  using Class = Sealer;
  static constexpr const char* name = "seal";
  static constexpr Parameters<3> parameters{"Sealer.seal", {{"topic", "payload", "retain"}}, 2, 2};
  static constexpr const char* doc =
      "seal(self: mqseal._mqseal.Sealer, topic: str, payload: collections.abc.Buffer, *, retain: bool = False) "
      "-> bytes\n\n"
      "The envelope for `payload` on `topic` (unchanged for plaintext-rule topics). retain=True seals the intent "
      "to publish it with MQTT's retain flag. A TypeError names the argument and its type, never its value.";

  static py::object call(Sealer& s, const Arguments<3>& a) {
    const Text topic = a.get<Text>(0);
    const bool retain = a.get<Flag>(2);
    // Read in place, even a buffer another thread may change: sealing
    // reads each payload byte once (libsodium, and OpenSSL for bulk
    // payloads, XOR the key stream into the output, then compute the
    // tag over the output, never over the payload; a plaintext rule
    // copies it once). So the tag always covers exactly the
    // ciphertext written, and the envelope opens to the bytes as
    // they were read: a copy could not do better, since copying
    // reads them once too.
    const BytesLike in(a.bytes_like(1));
    const size_t n = in.view().size();
    // The envelope is sealed straight into the bytes object returned
    // (no copy out of a C++ buffer), allocated once at the size the
    // topic's rule gives: sealed_size() reads neither key nor payload
    // and uses no sequence number, and refuses (before anything is
    // allocated) a payload too large for the rule, or a topic without
    // one, as seal() would. It resolves the topic as seal() does again
    // (about 220 instructions of some 6900 per 64-byte seal). Allocating
    // for the largest overhead instead, sealing once and cutting the
    // object to size was measured (2026-12-01): as many instructions at
    // 64 B (pymalloc copies a small object cut by a quarter or more),
    // about 250 more at 1 KiB, times within noise; so not done.
    const size_t capacity = unwrap(s.sealed_size(topic, n));
    py::bytes envelope = new_bytes(capacity);
    uint8_t* to = bytes_data(envelope);
    size_t size = 0;
    const Publish publish = retain ? Publish::retained : Publish::live;
    check(without_gil(n >= kReleaseGilFrom, [&] { return s.seal(topic, in.view(), to, capacity, size, publish); }));
    return shrink(std::move(envelope), size);  // a no-op: the size was exact
  }
};

struct Open {
  using Class = Opener;
  static constexpr const char* name = "open";
  static constexpr Parameters<4> parameters{"Opener.open", {{"topic", "envelope", "retained", "now_ms"}}, 2, 2};
  static constexpr const char* doc =
      "open(self: mqseal._mqseal.Opener, topic: str, envelope: collections.abc.Buffer, *, retained: bool = False, "
      "now_ms: int = 0) -> mqseal._mqseal.Opened\n\n"
      "Authenticates and decrypts; raises an mqseal.Error on any refusal. A TypeError names the argument and its "
      "type, never its value (on a plaintext rule, the envelope is the payload).";

  static py::object call(Opener& o, const Arguments<4>& a) {
    const Text topic = a.get<Text>(0);
    const bool retained = a.get<Flag>(2);
    const uint64_t now_ms = a.get<Unsigned<uint64_t>>(3);
    // Read twice (tag, then decryption): a mutable buffer is copied.
    // Envelopes above kMaxEnvelopeSize are refused by their size after
    // only the header was read, once: not worth copying.
    const py::handle envelope = a.bytes_like(1);
    std::optional<StableBytes> read(std::in_place, envelope, kMaxEnvelopeSize);
    if (read->unread()) {
      // Above kMaxEnvelopeSize and not contiguous: not copied into one
      // piece before the topic's rule is known. Only a plaintext topic
      // takes it (as its payload, copied then); on any other the core
      // refuses it by its size, after the rule: asked with no envelope,
      // it gives the rule's answer (no_rule, ...) or says malformed, and a
      // plaintext topic passes the empty envelope through.
      size_t none = 0;
      Opened probe;
      const Status rule = o.open(topic, ByteView(), Delivery{retained, now_ms}, nullptr, 0, none, probe);
      if (!rule && rule.error().code() == Errc::malformed) {
        raise(Error(Errc::malformed, "larger than MQTT allows"));
      }
      if (!rule) raise(rule.error());
      read.emplace(envelope, SIZE_MAX);
    }
    const StableBytes& in = *read;
    // The payload is opened straight into the bytes object returned:
    // no copy of it is made or left in C++ memory. A sealed topic's
    // payload is the envelope less its overhead, the size allocated;
    // a plaintext topic's is the whole envelope: the core then says
    // so, having done nothing else, and it is opened again into that
    // much. A failed open leaves the object zeroed, and it is dropped.
    // An envelope above kMaxEnvelopeSize opens on no sealed topic (the
    // core refuses it by its size): nothing is allocated for it (it was
    // its whole size, zeroed and dropped, or a MemoryError where the
    // core says malformed), and on a plaintext topic the core gives the
    // size needed. With a replay store, each message waits for a claim
    // (a file write, a round trip): other Python threads run meanwhile.
    const ByteView sealed = in.view();
    const size_t overhead = sealed.empty() ? 0 : envelope_overhead(sealed[0]);
    size_t capacity = sealed.size() > kMaxEnvelopeSize ? 0
                      : sealed.size() >= overhead     ? sealed.size() - overhead
                                                      : sealed.size();
    py::bytes payload = new_bytes(capacity);
    size_t size = 0;
    Opened out;  // all but the payload
    auto open = [&] {
      uint8_t* to = bytes_data(payload);
      return without_gil(sealed.size() >= kReleaseGilFrom || o.shares_replay_state(), [&] {
        return o.open(topic, sealed, Delivery{retained, now_ms}, to, capacity, size, out);
      });
    };
    Status s = open();
    if (!s && size > capacity) {
      capacity = size;
      payload = new_bytes(capacity);
      s = open();
    }
    if (!s) raise(s.error(), out.signer);  // a signer only if it verified (opener.h)
    return py::cast(PyOpened{shrink(std::move(payload), size), out.sealed, out.key_id, out.timestamp_ms,
                             to_bytes(out.sender.data(), out.sender.size()), out.sequence, out.retained,
                             std::move(out.signer), out.signer_key_id});
  }
};

}  // namespace

void bind_sealing(py::module_& m) {
  Class<Sealer>(m, "Sealer")
      .def(py::init([](const TopicPolicy& policy, const Keyring& keys, py::handle options) {
             return unwrap(Sealer::create(policy, snapshot(keys), sealer_options(options)));
           }),
           py::arg("policy"), py::arg("keyring"), py::arg("options"))
      .def("set_keyring", [](Sealer& s, const Keyring& keys) { s.set_keyring(snapshot(keys)); }, py::arg("keyring"))
      .def_property_readonly("sender", [](const Sealer& s) {
        const SenderId id = s.sender();
        return to_bytes(id.data(), id.size());
      });
  bind_method<Seal>(m.attr("Sealer"));

  Class<PyOpened>(m, "Opened", "An opened payload and what its envelope said.")
      .def_readonly("payload", &PyOpened::payload)
      .def_readonly("sealed", &PyOpened::sealed)
      .def_readonly("key_id", &PyOpened::key_id)
      .def_readonly("timestamp_ms", &PyOpened::timestamp_ms)
      .def_readonly("sender", &PyOpened::sender)
      .def_readonly("sequence", &PyOpened::sequence)
      .def_readonly("retained", &PyOpened::retained)
      .def_readonly("signer", &PyOpened::signer)
      .def_readonly("signer_key_id", &PyOpened::signer_key_id)
      .def("__repr__", [](const PyOpened& o) {
        return "<mqseal.Opened: " + std::to_string(py::len(o.payload)) + " bytes" +
               (o.sealed ? ", sealed, sequence " + std::to_string(o.sequence) : std::string(", plaintext by policy")) +
               (o.signer.empty() ? std::string() : ", signed by " + o.signer) + ">";
      });

  Class<Opener>(m, "Opener")
      .def(py::init([](const TopicPolicy& policy, const Keyring& keys, py::handle options) {
             return unwrap(Opener::create(policy, snapshot(keys), opener_options(options)));
           }),
           py::arg("policy"), py::arg("keyring"), py::arg("options"))
      .def("set_keyring", [](Opener& o, const Keyring& keys) { o.set_keyring(snapshot(keys)); }, py::arg("keyring"))
      .def_property_readonly("shares_replay_state", &Opener::shares_replay_state)
      .def_property_readonly("recipient_sessions", &Opener::recipient_sessions);
  bind_method<Open>(m.attr("Opener"));

  Class<ReplayGuard>(m, "ReplayGuard")
      .def(py::init([](py::handle options) { return unwrap(ReplayGuard::create(replay_options(options))); }),
           py::arg("options"))
      .def("check",
           [](ReplayGuard& g, const Text& topic, py::handle sender, Unsigned<uint64_t> sequence,
              Unsigned<uint64_t> timestamp_ms, Flag retained, Unsigned<uint64_t> now_ms, const Text& key_name) {
             MessageFacts facts;
             copy_exact(sender, facts.sender.data(), facts.sender.size(), "a sender ID is 16 bytes");
             facts.topic = topic;
             facts.key_name = key_name;
             facts.sequence = sequence;
             facts.timestamp_ms = timestamp_ms;
             facts.retained = retained;
             check(g.check(facts, now_ms != 0 ? now_ms : system_time_ms()));
           },
           py::arg("topic"), py::arg("sender"), py::arg("sequence"), py::arg("timestamp_ms"), py::kw_only(),
           py::arg("retained") = false, py::arg("now_ms") = 0, py::arg("key_name") = "")
      .def_property_readonly("tracked_streams", &ReplayGuard::tracked_streams)
      .def("watermark_ms", [](const ReplayGuard& g, const Text& key_name) { return g.watermark_ms(key_name); },
           py::arg("key_name") = "");

  Class<PyHeader>(m, "EnvelopeHeader", "An envelope's header, read without a key.")
      .def_readonly("version", &PyHeader::version)
      .def_readonly("suite", &PyHeader::suite)
      .def_readonly("flags", &PyHeader::flags)
      .def_readonly("key_id", &PyHeader::key_id)
      .def_readonly("timestamp_ms", &PyHeader::timestamp_ms)
      .def_readonly("sender", &PyHeader::sender)
      .def_readonly("sequence", &PyHeader::sequence)
      .def_readonly("signer_key_id", &PyHeader::signer_key_id)
      .def_readonly("ephemeral", &PyHeader::ephemeral);

  m.def("parse_header",
        [](py::handle envelope) {
          EnvelopeHeader h = unwrap(parse_header(BytesLike(envelope).view()));
          const bool recipient = h.suite == kSuiteSealedToRecipient || h.suite == kSuiteSignedSealed;
          return PyHeader{h.version, h.suite, h.flags, h.key_id, h.timestamp_ms,
                          to_bytes(h.sender.data(), h.sender.size()), h.sequence, h.signer_key_id,
                          to_bytes(h.ephemeral.data(), recipient ? h.ephemeral.size() : 0)};
        },
        py::arg("envelope"), "The header of an envelope, read without a key. Proves nothing until opened.");

  // Records at rest. They are rare (a disk write each) and small: the GIL is
  // kept, and opening copies its inputs first (it reads the record twice).
  constexpr size_t kCopyAlways = SIZE_MAX;
  Class<RecordCipher>(m, "RecordCipher",
                           "Authenticated encryption of records at rest, under the primary key of one key name. "
                           "Keeps a snapshot of the keyring.")
      .def(py::init([](const Keyring& keys, const Text& key_name, const Text& purpose) {
             return unwrap(RecordCipher::create(snapshot(keys), key_name, purpose));
           }),
           py::arg("keyring"), py::arg("key_name"), py::arg("purpose"))
      .def("seal",
           [](const RecordCipher& c, py::handle associated, py::handle plaintext) {
             std::vector<uint8_t> out;
             check(c.seal(BytesLike(associated).view(), BytesLike(plaintext).view(), out));
             return to_bytes(out.data(), out.size());
           },
           py::arg("associated"), py::arg("plaintext"),
           "The record (version, key ID, random nonce, ciphertext, tag); `associated` is authenticated, not stored.")
      .def("open",
           [](const RecordCipher& c, py::handle associated, py::handle record) {
             std::vector<uint8_t> out;
             const StableBytes ad(associated, kCopyAlways);
             const StableBytes in(record, kCopyAlways);
             check(c.open(ad.view(), in.view(), out));
             return to_bytes(out.data(), out.size());
           },
           py::arg("associated"), py::arg("record"),
           "The plaintext, if the record was sealed with this key name, purpose and associated data.");
  // Records and their plaintexts: no value of theirs in a TypeError.
  keep_values_out_of_type_errors(m.attr("RecordCipher"), "seal", Callable::method);
  keep_values_out_of_type_errors(m.attr("RecordCipher"), "open", Callable::method);
}

}  // namespace mqseal::python
