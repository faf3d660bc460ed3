// Replay stores (mqseal/replay_store.h): where "single use" is remembered, for
// a TokenVerifier (VerifierOptions.replay_store) and for Openers sharing their
// replay state (OpenerOptions.replay_store). Opening a memory or file store
// keeps the GIL (rare, local); connecting to Redis does not; the claims are
// made by the verifier and the Opener, without it.
#include "binding.h"

namespace mqseal::python {

std::shared_ptr<ReplayStore> replay_store_field(py::handle options) {
  py::object value = options.attr("replay_store");
  if (value.is_none()) return nullptr;
  // One whose __init__ never ran: the TypeError that says so (its caster),
  // not pybind11's "non-held to held instance" (a TypeError from field()).
  if (py::isinstance<ReplayStore>(value)) static_cast<void>(py::cast<const ReplayStore&>(value));
  return field<std::shared_ptr<ReplayStore>>(options, "replay_store");
}

void bind_replay_stores(py::module_& m) {
  Class<ReplayStore, std::shared_ptr<ReplayStore>>(
      m, "ReplayStore",
      "Where claims of single use are remembered; made by memory_replay_store() or file_replay_store(), "
      "and shared by every verifier and Opener given it.")
      .def_property_readonly("capacity", &ReplayStore::capacity, "The most live claims it holds of each kind (tokens; each consumer group's messages).")
      // Redis answers over the network (up to its two timeouts): without the GIL.
      .def_property_readonly(
          "remembered", [](const ReplayStore& s) { return without_gil(true, [&] { return s.remembered(); }); },
          "Claims remembered now (a Redis store asks the server: 0 if it cannot answer). Other threads run "
          "meanwhile.");

  m.def("memory_replay_store", [] { return unwrap(memory_replay_store()); },
        "A store in this process's memory: shared by the verifiers and Openers of this process; a restart "
        "forgets every claim.");
  m.def("file_replay_store",
        [](const FilePath& path, Unsigned<size_t> capacity) {
          return unwrap(open_file_replay_store(path, FileReplayStoreOptions{capacity}));
        },
        py::arg("path"), py::kw_only(), py::arg("capacity"),
        "A store in a local file that survives restarts, locked by this process while it lives; holds at "
        "most `capacity` live claims of each kind (1..2^26): tokens, each consumer group's messages. "
        "PermissionsError if the file or its directory is not this user's own (a directory others may write, "
        "/tmp too): keep it in a 0700 directory.");
  m.def("redis_replay_store",
        [](const Text& url, Unsigned<size_t> capacity, const Text& key_namespace,
           Unsigned<uint32_t> connect_timeout_ms, Unsigned<uint32_t> command_timeout_ms,
           Unsigned<uint32_t> retry_interval_ms, Unsigned<uint32_t> max_clock_difference_s) {
          RedisReplayStoreOptions options;
          options.capacity = capacity;
          options.key_namespace = key_namespace;
          options.connect_timeout_ms = connect_timeout_ms;
          options.command_timeout_ms = command_timeout_ms;
          options.retry_interval_ms = retry_interval_ms;
          options.max_clock_difference_s = max_clock_difference_s;
          // Connecting waits up to the timeouts: without the GIL.
          return unwrap(without_gil(true, [&] { return open_redis_replay_store(url, options); }));
        },
        py::arg("url"), py::kw_only(), py::arg("capacity"), py::arg("key_namespace") = "mqseal",
        py::arg("connect_timeout_ms") = kDefaultRedisTimeoutMs, py::arg("command_timeout_ms") = kDefaultRedisTimeoutMs,
        py::arg("retry_interval_ms") = kDefaultRedisRetryIntervalMs,
        py::arg("max_clock_difference_s") = kDefaultRedisClockDifferenceS,
        "A store in a Redis server (redis://[[user]:password@]host[:port][/db]) that every process reaching it "
        "shares: at most `capacity` live claims in `key_namespace`; fails closed (io_error) while Redis does. "
        "Single use holds while the clocks of the processes sharing it differ by at most "
        "`max_clock_difference_s` (0..3600).");
}

}  // namespace mqseal::python
