// paho_bench: what sealing costs through a real broker, measured, not assumed.
// scripts/bench starts mosquitto (plain and TLS listeners) and runs:
//
//   paho_bench throughput URI MESSAGES SIZE ROUNDS
//     QoS 0 messages from a Paho MQTTAsync publisher to a subscriber through
//     the broker, after a warm-up. Each round runs three variants, plaintext,
//     sealed (send_message) and sealed through a send queue (queue_sends),
//     each with publisher and subscriber in one process and in two, in an
//     order that rotates; prints messages per second and client CPU per
//     message for each, and per mode the ratios of medians and the medians
//     of the rounds' ratios. With MQSEAL_BENCH_BROKER_PID, the broker's CPU
//     per message too.
//
//     Switches for finding where time goes (docs/PERFORMANCE.md):
//     MQSEAL_BENCH_PLAIN_SUBSCRIBER=1 makes the sealed rounds' subscriber
//     count without opening (the publisher's share alone);
//     MQSEAL_BENCH_PLAIN_EXTRA_NS=N makes the plaintext publisher busy-wait N
//     ns per message (what any per-message work costs through Paho);
//     MQSEAL_BENCH_BATCH=K prepares K messages (sealed, or as they are) and
//     then submits the K back to back, what a batch API would do;
//     MQSEAL_BENCH_SEAL_THREAD=1 prepares them on a second thread that never
//     calls Paho, and the publishing thread submits what is ready in one go;
//     MQSEAL_BENCH_VERBOSE=1 prints the publish loop's duration and context
//     switches. The last three apply to plaintext and sealed rounds alike
//     (the queued variant always sends one message per call).
//     MQSEAL_BENCH_SUITE=5 seals the sealed variants under a suite 5 rule
//     (AES-256-GCM; refused, with the reason, on a CPU without AES-NI and
//     PCLMULQDQ) instead of suite 1 (MQSEAL_BENCH_SUITE unset or 1); any
//     other value is refused. Nothing else changes: the plaintext variant
//     runs the same code, and the output has the same lines (bench/runs.py
//     --throughput reads it), its first line naming the suite.
//
//   paho_bench cost URI MESSAGES SIZE sealed|plain [CA CERT KEY]
//     connect, publish MESSAGES QoS 0 messages, disconnect, through a TCP relay
//     on 127.0.0.1 that counts the bytes each way; with CA CERT KEY, over TLS
//     with that client certificate. Prints bytes up, bytes down, client CPU.
//
//   paho_bench persist URI MESSAGES ROUNDS DIRECTORY
//     what Paho's persistence costs per QoS 1 publish: MESSAGES 64-byte QoS 1
//     messages, each waited for (PUBACK) before the next, with no
//     persistence, Paho's own file store, and EncryptedStore, in DIRECTORY
//     (created, emptied, on the filesystem to measure), in an order that
//     rotates each round; prints the mean, median and 90th percentile.
#include <MQTTAsync.h>
#include <mqseal/mqseal.h>
#include <mqseal/paho/async.h>
#include <mqseal/paho/persistence.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "paho_wait.h"
#include "tcp_relay.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kDeliveryTimeout = std::chrono::seconds(120);
constexpr const char* kTopic = "bench/sensor/1";

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "paho_bench: %s\n", what);
  std::exit(1);
}

// The suite of the rule the sealed variants seal under (MQSEAL_BENCH_SUITE):
// suite 1 (XChaCha20-Poly1305, the default) or suite 5 (AES-256-GCM).
mqseal::Suite bench_suite() {
  const char* value = std::getenv("MQSEAL_BENCH_SUITE");
  if (value == nullptr || std::strcmp(value, "1") == 0) return mqseal::Suite::symmetric;
  if (std::strcmp(value, "5") == 0) return mqseal::Suite::aes256gcm;
  std::fprintf(stderr, "paho_bench: MQSEAL_BENCH_SUITE=%s: must be 1 (XChaCha20-Poly1305) or 5 (AES-256-GCM)\n",
               value);
  std::exit(2);
}

const char* suite_name(mqseal::Suite suite) {
  return suite == mqseal::Suite::aes256gcm ? "suite 5 (AES-256-GCM)" : "suite 1 (XChaCha20-Poly1305)";
}

struct Keys {
  std::shared_ptr<mqseal::Keyring> ring = std::make_shared<mqseal::Keyring>();
  mqseal::TopicPolicy policy;
  explicit Keys(mqseal::Suite suite = mqseal::Suite::symmetric) {
    if (!ring->generate("bench")) std::abort();
    const bool added = suite == mqseal::Suite::aes256gcm ? policy.add_aes256gcm_rule("bench/#", "bench").ok()
                                                         : policy.add_rule("bench/#", "bench").ok();
    if (!added) std::abort();
  }
};

MQTTAsync create_client(const std::string& uri, const std::string& id) {
  MQTTAsync client = nullptr;
  if (MQTTAsync_create(&client, uri.c_str(), id.c_str(), MQTTCLIENT_PERSISTENCE_NONE, nullptr) !=
      MQTTASYNC_SUCCESS) {
    die("MQTTAsync_create");
  }
  return client;
}

bool connect(MQTTAsync client, MQTTAsync_SSLOptions* ssl) {
  MQTTAsync_connectOptions options = MQTTAsync_connectOptions_initializer;
  options.ssl = ssl;
  return example::wait_for(options, [&](auto& o) { return MQTTAsync_connect(client, &o); });
}

void disconnect(MQTTAsync& client) {
  MQTTAsync_disconnectOptions options = MQTTAsync_disconnectOptions_initializer;
  example::wait_for(options, [&](auto& o) { return MQTTAsync_disconnect(client, &o); });
  MQTTAsync_destroy(&client);
}

double cpu_ms() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
}

// CPU time (ms) used so far by the broker whose pid MQSEAL_BENCH_BROKER_PID
// names, from /proc (clock ticks); 0 without it.
double broker_cpu_ms() {
  const char* pid = std::getenv("MQSEAL_BENCH_BROKER_PID");
  if (pid == nullptr) return 0;
  FILE* f = std::fopen(("/proc/" + std::string(pid) + "/stat").c_str(), "r");
  if (f == nullptr) die("MQSEAL_BENCH_BROKER_PID: no such process");
  char line[1024] = {};
  const size_t n = std::fread(line, 1, sizeof line - 1, f);
  std::fclose(f);
  const char* after_name = std::strrchr(line, ')');  // the name may hold spaces
  if (n == 0 || after_name == nullptr) die("cannot read the broker's /proc stat");
  unsigned long long utime = 0, stime = 0;
  // Fields 3..13 after the name, then utime (14) and stime (15).
  if (std::sscanf(after_name + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) {
    die("cannot parse the broker's /proc stat");
  }
  return static_cast<double>(utime + stime) * 1e3 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// ---- throughput ----
//
// Every round runs in processes forked from this one, which never calls Paho
// itself (a fork of a process with Paho's threads would copy its locks in
// whatever state they were): "one process" rounds fork one child that holds
// the publisher and the subscriber; "two processes" rounds fork a subscriber
// child and, once it has subscribed, a publisher child. Plaintext and sealed
// rounds run the same code; only the send call and the attachment differ.

std::atomic<int> g_received{0};
std::atomic<int64_t> g_last_received_ns{0};

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

int count_message(void*, char* topic, int, MQTTAsync_message* message) {
  g_last_received_ns.store(now_ns(), std::memory_order_relaxed);
  g_received.fetch_add(1, std::memory_order_relaxed);
  MQTTAsync_freeMessage(&message);
  MQTTAsync_free(topic);
  return 1;
}

struct Round {
  double rate = 0;        // messages delivered per second, first send to last arrival
  double cpu_us = 0;      // client CPU per message: publisher and subscriber
  double pub_cpu_us = 0;  // of which the publisher's process (two-process rounds only)
  double sub_cpu_us = 0;  // and the subscriber's
  double broker_cpu_us = 0;  // the broker's, with MQSEAL_BENCH_BROKER_PID
};

// The subscriber of a round: connected and subscribed when this returns.
struct Subscriber {
  MQTTAsync client = nullptr;
  std::unique_ptr<mqseal::paho::AsyncAttachment> attached;
};

void start_subscriber(Subscriber& sub, const std::string& uri, bool sealed, Keys& keys) {
  g_received = 0;
  sub.client = create_client(uri, sealed ? "bench-sub-sealed" : "bench-sub-plain");
  if (sealed && std::getenv("MQSEAL_BENCH_PLAIN_SUBSCRIBER") == nullptr) {
    auto opener = mqseal::Opener::create(keys.policy, keys.ring);
    if (!opener) die("opener");
    mqseal::paho::AsyncCallbacks callbacks;
    callbacks.message_arrived = count_message;
    auto a = mqseal::paho::attach(sub.client, std::make_shared<mqseal::Opener>(std::move(*opener)), callbacks);
    if (!a) die("attach");
    sub.attached = std::move(*a);
  } else {
    MQTTAsync_setCallbacks(sub.client, nullptr, nullptr, count_message, nullptr);
  }
  MQTTAsync_responseOptions subscribe = MQTTAsync_responseOptions_initializer;
  if (!connect(sub.client, nullptr) ||
      !example::wait_for(subscribe, [&](auto& o) { return MQTTAsync_subscribe(sub.client, "bench/#", 0, &o); })) {
    die("subscriber could not connect and subscribe");
  }
}

// Waits until every message arrived, or for 3 s of silence (QoS 0 may drop).
int wait_for_arrivals(int messages) {
  const auto deadline = Clock::now() + kDeliveryTimeout;
  int last = -1;
  auto last_progress = Clock::now();
  while (g_received < messages && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (g_received != last) {
      last = g_received;
      last_progress = Clock::now();
    } else if (Clock::now() - last_progress > std::chrono::seconds(3)) {
      break;
    }
  }
  return g_received;
}

// The publisher's send queue (the "sealed, queued" variant), destroyed before its client.
std::unique_ptr<mqseal::paho::SendQueue> g_queue;
bool g_use_queue = false;
void disconnect_publisher(MQTTAsync& publisher) {
  g_queue.reset();  // hands Paho what it holds (nothing by now: every message arrived)
  disconnect(publisher);
}

// How the publisher hands messages to Paho. The plaintext side always gets
// the same structure as the sealed side: only the preparation differs
// (sealing, or nothing / a copy).
struct Publishing {
  MQTTAsync client;
  mqseal::Sealer& sealer;
  bool sealed;
  int messages;
  const std::string& payload;
  MQTTAsync_message message;  // qos 0, the payload's length
  std::chrono::nanoseconds extra;  // MQSEAL_BENCH_PLAIN_EXTRA_NS
  int refused = 0;                 // sends Paho refused (queue full) and that were retried
  mqseal::paho::SendQueue* queue = nullptr;  // sealed sends go through queue_sends

  void submit(MQTTAsync_message& m) {
    while (MQTTAsync_sendMessage(client, kTopic, &m, nullptr) != 0) {  // Paho's queue is full: retry
      ++refused;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
  void prepare(std::vector<uint8_t>& out) {
    if (!sealer.seal(kTopic, mqseal::ByteView(payload.data(), payload.size()), out, mqseal::Publish::live)) {
      die("seal");
    }
  }

  // What an application does: one call per message (the adapter's send_message when sealed).
  void one_by_one() {
    for (int i = 0; i < messages; ++i) {
      if (sealed && queue != nullptr) {
        if (!queue->send_message(kTopic, &message, nullptr)) die("queued send");
        continue;
      }
      if (sealed) {
        for (mqseal::Status s; !(s = mqseal::paho::send_message(sealer, client, kTopic, &message, nullptr));) {
          if (s.error() != mqseal::Errc::transport_error) die("seal");
          ++refused;
          std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
        continue;
      }
      if (extra.count() > 0) {
        const auto until = Clock::now() + extra;
        while (Clock::now() < until) {
        }
      }
      submit(message);
    }
  }

  // MQSEAL_BENCH_BATCH=K, what a batch API would do: prepare K, then submit K back to back.
  void batches(int k) {
    std::vector<std::vector<uint8_t>> bufs(static_cast<size_t>(k));
    std::vector<MQTTAsync_message> batch(static_cast<size_t>(k), message);
    for (int i = 0; i < messages; i += k) {
      const size_t n = static_cast<size_t>(std::min(k, messages - i));
      for (size_t j = 0; j < n && sealed; ++j) {
        prepare(bufs[j]);
        batch[j].payload = bufs[j].data();
        batch[j].payloadlen = static_cast<int>(bufs[j].size());
      }
      for (size_t j = 0; j < n; ++j) submit(batch[j]);
    }
  }

  // MQSEAL_BENCH_SEAL_THREAD=1: a second thread prepares the payloads (seals
  // them, or copies them) into a shared batch of up to 1024; this thread, the
  // only one that calls Paho, takes all that is ready at once and submits it.
  void sealing_thread() {
    constexpr size_t kMaxReady = 1024;
    std::mutex lock;
    std::condition_variable changed;
    std::vector<std::vector<uint8_t>> ready, taken;
    bool consumer_waiting = false, producer_waiting = false;
    std::thread producer([&] {
      std::vector<uint8_t> buf;
      for (int i = 0; i < messages; ++i) {
        if (sealed) {
          prepare(buf);
        } else {
          buf.assign(payload.begin(), payload.end());
        }
        std::unique_lock<std::mutex> hold(lock);
        while (ready.size() >= kMaxReady) {
          producer_waiting = true;
          changed.wait(hold);
          producer_waiting = false;
        }
        ready.push_back(std::move(buf));
        buf = {};
        if (consumer_waiting) changed.notify_all();
      }
    });
    for (int sent = 0; sent < messages;) {
      {
        std::unique_lock<std::mutex> hold(lock);
        while (ready.empty()) {
          consumer_waiting = true;
          changed.wait(hold);
          consumer_waiting = false;
        }
        taken.swap(ready);
        if (producer_waiting) changed.notify_all();
      }
      for (auto& b : taken) {
        MQTTAsync_message m = message;
        m.payload = b.data();
        m.payloadlen = static_cast<int>(b.size());
        submit(m);
        ++sent;
      }
      taken.clear();
    }
    producer.join();
  }
};

// Connects a publisher, sends `messages` QoS 0 messages; returns the time of
// the first send (steady clock, ns).
int64_t publish_all(MQTTAsync& publisher, const std::string& uri, bool sealed, int messages, size_t size,
                    Keys& keys) {
  auto created = mqseal::Sealer::create(keys.policy, keys.ring);
  if (!created) die("sealer");
  auto sealer = std::make_shared<mqseal::Sealer>(std::move(*created));
  publisher = create_client(uri, sealed ? "bench-pub-sealed" : "bench-pub-plain");
  if (!connect(publisher, nullptr)) die("publisher could not connect");
  if (sealed && g_use_queue) {
    auto queue = mqseal::paho::queue_sends(publisher, sealer);
    if (!queue) die("queue_sends");
    g_queue = std::move(*queue);
  }
  const char* spin = std::getenv("MQSEAL_BENCH_PLAIN_EXTRA_NS");
  const char* batch = std::getenv("MQSEAL_BENCH_BATCH");
  const std::string payload(size, 'x');
  Publishing p{publisher, *sealer, sealed, messages, payload, MQTTAsync_message_initializer,
               std::chrono::nanoseconds(spin != nullptr ? std::atoi(spin) : 0)};
  p.message.payload = const_cast<char*>(payload.data());
  p.message.payloadlen = static_cast<int>(payload.size());
  p.message.qos = 0;
  p.queue = g_queue.get();
  const int64_t start = now_ns();
  if (p.queue != nullptr) {  // the queued variant always sends one message per call
    p.one_by_one();
  } else if (std::getenv("MQSEAL_BENCH_SEAL_THREAD") != nullptr) {
    p.sealing_thread();
  } else if (batch != nullptr && std::atoi(batch) > 0) {
    p.batches(std::atoi(batch));
  } else {
    p.one_by_one();
  }
  if (std::getenv("MQSEAL_BENCH_VERBOSE") != nullptr) {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::printf("  (%s: publish loop %.1f ms; so far %ld voluntary, %ld involuntary context switches)\n",
                sealed ? "sealed" : "plain", static_cast<double>(now_ns() - start) / 1e6, usage.ru_nvcsw,
                usage.ru_nivcsw);
  }
  if (p.refused > 0) {
    std::printf("  (%s: Paho refused %d sends with its queue full; retried)\n", sealed ? "sealed" : "plain",
                p.refused);
  }
  std::fflush(stdout);
  return start;
}

double rate_of(int received, int messages, bool sealed, int64_t start_ns, int64_t last_ns) {
  if (received < messages) {
    std::printf("  (%s round: %d of %d arrived; QoS 0 may drop)\n", sealed ? "sealed" : "plain", received, messages);
    std::fflush(stdout);
  }
  return received / (static_cast<double>(last_ns - start_ns) / 1e9);
}

// One process: both clients in this process, so its CPU time is theirs.
Round one_process_round(const std::string& uri, bool sealed, int messages, size_t size, Keys& keys) {
  Subscriber sub;
  start_subscriber(sub, uri, sealed, keys);
  MQTTAsync publisher = nullptr;
  const double cpu_before = cpu_ms();
  const int64_t start = publish_all(publisher, uri, sealed, messages, size, keys);
  const int received = wait_for_arrivals(messages);
  Round round;
  round.cpu_us = (cpu_ms() - cpu_before) * 1e3 / messages;
  round.rate = rate_of(received, messages, sealed, start, g_last_received_ns);
  disconnect_publisher(publisher);
  disconnect(sub.client);
  return round;
}

// Pipes between the driver and its children carry plain structs.
template <typename T>
void put(int fd, const T& value) {
  if (write(fd, &value, sizeof value) != static_cast<ssize_t>(sizeof value)) die("pipe write");
}
template <typename T>
T take(int fd) {
  T value{};
  if (read(fd, &value, sizeof value) != static_cast<ssize_t>(sizeof value)) die("pipe read (a child failed)");
  return value;
}

struct Pipe {
  int fd[2] = {-1, -1};
  Pipe() {
    if (pipe(fd) != 0) die("pipe");
  }
  ~Pipe() {
    close(fd[0]);
    close(fd[1]);
  }
};

template <typename Body>
pid_t spawn(Body body) {
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    body();
    std::fflush(stdout);
    _exit(0);
  }
  return pid;
}

void reap(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) die("a child failed");
}

Round in_child(const std::string& uri, bool sealed, int messages, size_t size, Keys& keys) {
  Pipe result;
  const double broker_before = broker_cpu_ms();
  const pid_t pid = spawn([&] { put(result.fd[1], one_process_round(uri, sealed, messages, size, keys)); });
  Round round = take<Round>(result.fd[0]);
  round.broker_cpu_us = (broker_cpu_ms() - broker_before) * 1e3 / messages;
  reap(pid);
  return round;
}

// Two processes: the subscriber's child, then the publisher's.
Round two_process_round(const std::string& uri, bool sealed, int messages, size_t size, Keys& keys) {
  struct SubResult {
    int received;
    int64_t last_ns;
    double cpu_ms;
  };
  struct PubResult {
    int64_t start_ns;
    double cpu_ms;
  };
  Pipe sub_ready, sub_result, pub_go_home, pub_result;
  const double broker_before = broker_cpu_ms();
  const pid_t sub_pid = spawn([&] {
    Subscriber sub;
    start_subscriber(sub, uri, sealed, keys);
    const double cpu_before = cpu_ms();
    put(sub_ready.fd[1], 1);
    const int received = wait_for_arrivals(messages);
    put(sub_result.fd[1], SubResult{received, g_last_received_ns, cpu_ms() - cpu_before});
    disconnect(sub.client);
  });
  (void)take<int>(sub_ready.fd[0]);
  const pid_t pub_pid = spawn([&] {
    MQTTAsync publisher = nullptr;
    const double cpu_before = cpu_ms();
    const int64_t start = publish_all(publisher, uri, sealed, messages, size, keys);
    (void)take<int>(pub_go_home.fd[0]);  // the subscriber is done: Paho's queue is empty
    put(pub_result.fd[1], PubResult{start, cpu_ms() - cpu_before});
    disconnect_publisher(publisher);
  });
  const auto sub_done = take<SubResult>(sub_result.fd[0]);
  const double broker_cpu = broker_cpu_ms() - broker_before;
  put(pub_go_home.fd[1], 1);
  const auto pub_done = take<PubResult>(pub_result.fd[0]);
  reap(pub_pid);
  reap(sub_pid);
  Round round;
  round.pub_cpu_us = pub_done.cpu_ms * 1e3 / messages;
  round.sub_cpu_us = sub_done.cpu_ms * 1e3 / messages;
  round.cpu_us = round.pub_cpu_us + round.sub_cpu_us;
  round.broker_cpu_us = broker_cpu * 1e3 / messages;
  round.rate = rate_of(sub_done.received, messages, sealed, pub_done.start_ns, sub_done.last_ns);
  return round;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Series {
  std::vector<double> rate, cpu, pub_cpu, sub_cpu, broker_cpu;
  void add(const Round& r) {
    broker_cpu.push_back(r.broker_cpu_us);
    rate.push_back(r.rate);
    cpu.push_back(r.cpu_us);
    pub_cpu.push_back(r.pub_cpu_us);
    sub_cpu.push_back(r.sub_cpu_us);
  }
};

// Every round measures each variant (plaintext; sealed with send_message;
// sealed through queue_sends) with publisher and subscriber in one process
// and in two; the order rotates from round to round, so that no variant
// always runs first or on a warmer broker.
enum Variant { kPlain, kSealed, kQueued, kVariants };
const char* const kVariantNames[kVariants] = {"plaintext", "sealed", "sealed, queued"};

Round run_variant(Variant v, bool two_processes, const std::string& uri, int messages, size_t size, Keys& keys) {
  g_use_queue = v == kQueued;  // read by the forked children
  const bool sealed = v != kPlain;
  return two_processes ? two_process_round(uri, sealed, messages, size, keys)
                       : in_child(uri, sealed, messages, size, keys);
}

int throughput(const std::string& uri, int messages, size_t size, int rounds) {
  const mqseal::Suite suite = bench_suite();
  Keys keys(suite);
  // Refused here, with the reason, rather than in every forked child: a
  // suite 5 rule where the CPU has no AES-NI and PCLMULQDQ (unsupported_suite).
  if (auto sealer = mqseal::Sealer::create(keys.policy, keys.ring); !sealer) {
    std::fprintf(stderr, "paho_bench: %s: %s\n", suite_name(suite), sealer.error().message().c_str());
    return 1;
  }
  if (auto opener = mqseal::Opener::create(keys.policy, keys.ring); !opener) {
    std::fprintf(stderr, "paho_bench: %s: %s\n", suite_name(suite), opener.error().message().c_str());
    return 1;
  }
  std::printf("paho_bench throughput: %s, %d QoS 0 messages of %zu bytes per variant, %d rounds; sealed variants on %s\n",
              uri.c_str(), messages, size, rounds, suite_name(suite));
  std::fflush(stdout);
  (void)in_child(uri, false, messages / 10, size, keys);  // warm-up, not counted
  Series series[2][kVariants];                             // [two processes][variant]
  for (int r = 0; r < rounds; ++r) {
    Round round[2][kVariants];
    for (int m = 0; m < 2; ++m) {
      const int mode = (r / kVariants) % 2 == 0 ? m : 1 - m;
      for (int i = 0; i < kVariants; ++i) {
        const auto v = static_cast<Variant>((r + i) % kVariants);
        round[mode][v] = run_variant(v, mode == 1, uri, messages, size, keys);
      }
    }
    for (int mode = 0; mode < 2; ++mode) {
      std::printf("round %d, %s:", r + 1, mode == 0 ? "one process" : "two processes");
      for (int v = 0; v < kVariants; ++v) {
        const Round& x = round[mode][v];
        series[mode][v].add(x);
        if (mode == 0) {
          std::printf(" %s %.0f msg/s (%.2f us CPU/msg)", kVariantNames[v], x.rate, x.cpu_us);
        } else {
          std::printf(" %s %.0f msg/s (pub %.2f + sub %.2f us CPU/msg)", kVariantNames[v], x.rate, x.pub_cpu_us,
                      x.sub_cpu_us);
        }
        std::printf(v + 1 < kVariants ? ";" : "\n");
      }
    }
    std::fflush(stdout);
  }
  auto paired = [](const Series& plain, const Series& other) {
    std::vector<double> ratios;
    for (size_t i = 0; i < plain.rate.size(); ++i) ratios.push_back(other.rate[i] / plain.rate[i]);
    return median(ratios);
  };
  const bool broker = std::getenv("MQSEAL_BENCH_BROKER_PID") != nullptr;
  for (int mode = 0; mode < 2; ++mode) {
    const Series& plain = series[mode][kPlain];
    std::printf("median, %s: plaintext %.0f msg/s", mode == 0 ? "one process" : "two processes", median(plain.rate));
    for (int v = kSealed; v < kVariants; ++v) {
      const Series& x = series[mode][v];
      std::printf("; %s %.0f msg/s, ratio %.3f (median of the rounds' ratios %.3f)", kVariantNames[v],
                  median(x.rate), median(x.rate) / median(plain.rate), paired(plain, x));
    }
    std::printf("\n  CPU per message:");
    for (int v = 0; v < kVariants; ++v) {
      const Series& x = series[mode][v];
      if (mode == 0) {
        std::printf(" %s %.2f us", kVariantNames[v], median(x.cpu));
      } else {
        std::printf(" %s pub %.2f + sub %.2f us", kVariantNames[v], median(x.pub_cpu), median(x.sub_cpu));
      }
      if (broker) std::printf(" + broker %.2f us", median(x.broker_cpu));
      std::printf(v + 1 < kVariants ? ";" : "\n");
    }
    if (broker) {
      // On a machine the benchmark has to itself, the rate is bounded by the
      // CPU all three parties use per message: plaintext's total over a
      // sealed variant's is what the ratio would be if the cores were the
      // only limit.
      auto total = [](const Series& x) { return median(x.cpu) + median(x.broker_cpu); };
      std::printf("  all CPU per message, plaintext/sealed %.3f, plaintext/sealed-queued %.3f\n",
                  total(plain) / total(series[mode][kSealed]), total(plain) / total(series[mode][kQueued]));
    }
  }
  return 0;
}

// ---- cost: bytes counted by a relay (tests/support/tcp_relay.h) ----


int cost(const std::string& uri, int messages, size_t size, bool sealed, const char* ca, const char* cert,
         const char* key) {
  const size_t colon = uri.rfind(':');
  const int broker_port = std::atoi(uri.c_str() + colon + 1);
  const bool tls = ca != nullptr;
  Keys keys;
  auto sealer = mqseal::Sealer::create(keys.policy, keys.ring);
  if (!sealer) die("sealer");
  mqseal::testing::TcpRelay relay(broker_port);
  if (!relay.ok()) die("relay: cannot listen on 127.0.0.1");
  const std::string relay_uri = std::string(tls ? "ssl" : "tcp") + "://127.0.0.1:" + std::to_string(relay.port());
  mqseal::paho::TlsFiles files{tls ? ca : "", tls ? cert : "", tls ? key : "", ""};
  MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
  if (tls && !mqseal::paho::configure_tls(files, ssl)) die("configure_tls");

  const double cpu_before = cpu_ms();
  MQTTAsync client = create_client(relay_uri, "bench-cost");
  if (!connect(client, tls ? &ssl : nullptr)) die("cannot connect through the relay");
  const std::string payload(size, 'x');
  for (int i = 0; i < messages; ++i) {
    if (sealed) {
      if (!mqseal::paho::send(*sealer, client, "bench/sensor/1", static_cast<int>(size), payload.data(), 0, 0, nullptr)) {
        die("send");
      }
    } else if (MQTTAsync_send(client, "bench/sensor/1", static_cast<int>(size), payload.data(), 0, 0, nullptr) != 0) {
      die("send");
    }
  }
  example::wait_for_pending(client);
  disconnect(client);
  const double cpu = cpu_ms() - cpu_before;
  relay.finish();  // the connection is over: every byte is counted
  std::printf("%s %s: bytes up %llu, bytes down %llu, client CPU %.1f ms\n", tls ? "tls" : "tcp",
              sealed ? "sealed" : "plain", static_cast<unsigned long long>(relay.bytes_up()),
              static_cast<unsigned long long>(relay.bytes_down()), cpu);
  return 0;
}

}  // namespace

// ---- persist ----

constexpr size_t kPersistPayloadSize = 64;
constexpr int kPersistStores = 3;
const char* const kPersistStoreNames[kPersistStores] = {"none", "paho-file", "encrypted"};

int persist_round(const std::string& uri, int messages, int which, const std::string& directory) {
  namespace fs = std::filesystem;
  fs::remove_all(directory);
  fs::create_directory(directory);
  fs::permissions(directory, fs::perms::owner_all, fs::perm_options::replace);
  const std::string paho_dir = directory + "/paho";
  auto keys = std::make_shared<mqseal::Keyring>();
  if (!keys->generate("local")) die("keyring");
  std::unique_ptr<mqseal::paho::EncryptedStore> store;
  MQTTAsync client = nullptr;
  int rc = MQTTASYNC_FAILURE;
  if (which == 0) {
    rc = MQTTAsync_create(&client, uri.c_str(), "bench-persist", MQTTCLIENT_PERSISTENCE_NONE, nullptr);
  } else if (which == 1) {
    rc = MQTTAsync_create(&client, uri.c_str(), "bench-persist", MQTTCLIENT_PERSISTENCE_DEFAULT,
                          const_cast<char*>(paho_dir.c_str()));
  } else {
    auto made = mqseal::paho::EncryptedStore::create(directory + "/encrypted", keys, "local");
    if (!made) die("EncryptedStore::create");
    store = std::move(*made);
    rc = MQTTAsync_create(&client, uri.c_str(), "bench-persist", MQTTCLIENT_PERSISTENCE_USER, store->persistence());
  }
  if (rc != MQTTASYNC_SUCCESS || !connect(client, nullptr)) die("create or connect");
  std::vector<double> us;
  std::vector<char> payload(kPersistPayloadSize, 'p');
  for (int i = 0; i < messages; ++i) {
    MQTTAsync_responseOptions options = MQTTAsync_responseOptions_initializer;
    const auto start = Clock::now();
    if (!example::wait_for(options, [&](auto& o) {
          return MQTTAsync_send(client, kTopic, static_cast<int>(payload.size()), payload.data(), 1, 0, &o);
        })) {
      die("QoS 1 publish");
    }
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  disconnect(client);
  std::sort(us.begin(), us.end());
  double sum = 0;
  for (double x : us) sum += x;
  std::printf("%-10s %6d QoS 1 publishes: mean %7.0f us, median %7.0f us, p90 %7.0f us\n", kPersistStoreNames[which],
              messages, sum / messages, us[us.size() / 2], us[us.size() * 9 / 10]);
  return 0;
}

int persist(const std::string& uri, int messages, int rounds, const std::string& directory) {
  if (messages <= 0 || rounds <= 0) die("MESSAGES and ROUNDS must be positive");
  for (int round = 0; round < rounds; ++round) {
    for (int k = 0; k < kPersistStores; ++k) {
      // A child per run: Paho's threads never cross a fork (see throughput).
      const pid_t child = fork();
      if (child < 0) die("fork");
      if (child == 0) std::exit(persist_round(uri, messages, (round + k) % kPersistStores, directory));
      int status = 0;
      if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
    }
  }
  std::filesystem::remove_all(directory);
  return 0;
}

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "throughput" && argc == 6) {
    return throughput(argv[2], std::atoi(argv[3]), static_cast<size_t>(std::atoi(argv[4])), std::atoi(argv[5]));
  }
  if (mode == "cost" && (argc == 6 || argc == 9)) {
    const bool sealed = std::strcmp(argv[5], "sealed") == 0;
    return cost(argv[2], std::atoi(argv[3]), static_cast<size_t>(std::atoi(argv[4])), sealed,
                argc == 9 ? argv[6] : nullptr, argc == 9 ? argv[7] : nullptr, argc == 9 ? argv[8] : nullptr);
  }
  if (mode == "persist" && argc == 6) return persist(argv[2], std::atoi(argv[3]), std::atoi(argv[4]), argv[5]);
  std::fprintf(stderr,
               "usage: paho_bench throughput URI MESSAGES SIZE ROUNDS\n"
               "       paho_bench persist URI MESSAGES ROUNDS DIRECTORY\n"
               "       paho_bench cost URI MESSAGES SIZE sealed|plain [CA CERT KEY]\n");
  return 2;
}
