// paho_bench: what sealing costs through a real broker, measured, not assumed.
// scripts/bench starts mosquitto (plain and TLS listeners) and runs:
//
//   paho_bench throughput URI MESSAGES SIZE ROUNDS
//     QoS 0 messages from a Paho MQTTAsync publisher to a subscriber through
//     the broker, plaintext and sealed in each round, with publisher and
//     subscriber in one process and in two (the order of the four
//     alternates), after a warm-up; prints messages per second and client CPU
//     per message for each round, and per mode the ratio of medians and the
//     median of the rounds' ratios.
//
//     Two switches for finding where time goes (docs/PERFORMANCE.md):
//     MQSEAL_BENCH_PLAIN_SUBSCRIBER=1 makes the sealed rounds' subscriber
//     count without opening (the publisher's share alone), and
//     MQSEAL_BENCH_PLAIN_EXTRA_NS=N makes the plaintext publisher busy-wait N
//     ns per message (what any per-message work costs through Paho).
//
//   paho_bench cost URI MESSAGES SIZE sealed|plain [CA CERT KEY]
//     connect, publish MESSAGES QoS 0 messages, disconnect, through a TCP relay
//     on 127.0.0.1 that counts the bytes each way; with CA CERT KEY, over TLS
//     with that client certificate. Prints bytes up, bytes down, client CPU.
#include <MQTTAsync.h>
#include <mqseal/mqseal.h>
#include <mqseal/paho/async.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
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

struct Keys {
  std::shared_ptr<mqseal::Keyring> ring = std::make_shared<mqseal::Keyring>();
  mqseal::TopicPolicy policy;
  Keys() {
    if (!ring->generate("bench") || !policy.add_rule("bench/#", "bench")) std::abort();
  }
};

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "paho_bench: %s\n", what);
  std::exit(1);
}

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

// Connects a publisher, sends `messages` QoS 0 messages; returns the time of
// the first send (steady clock, ns).
int64_t publish_all(MQTTAsync& publisher, const std::string& uri, bool sealed, int messages, size_t size,
                    Keys& keys) {
  auto sealer = mqseal::Sealer::create(keys.policy, keys.ring);
  if (!sealer) die("sealer");
  publisher = create_client(uri, sealed ? "bench-pub-sealed" : "bench-pub-plain");
  if (!connect(publisher, nullptr)) die("publisher could not connect");
  const char* spin = std::getenv("MQSEAL_BENCH_PLAIN_EXTRA_NS");
  const auto extra = std::chrono::nanoseconds(spin != nullptr ? std::atoi(spin) : 0);
  const std::string payload(size, 'x');
  MQTTAsync_message message = MQTTAsync_message_initializer;
  message.payload = const_cast<char*>(payload.data());
  message.payloadlen = static_cast<int>(payload.size());
  message.qos = 0;
  int refused = 0;
  const int64_t start = now_ns();
  for (int i = 0; i < messages; ++i) {
    int rc = 0;
    do {  // Paho refuses new commands while its queue is full: retry
      if (sealed) {
        rc = mqseal::paho::send_message(*sealer, publisher, "bench/sensor/1", &message, nullptr) ? 0 : -1;
      } else {
        if (extra.count() > 0) {
          const auto until = Clock::now() + extra;
          while (Clock::now() < until) {
          }
        }
        rc = MQTTAsync_sendMessage(publisher, "bench/sensor/1", &message, nullptr);
      }
      if (rc != 0) {
        ++refused;
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    } while (rc != 0);
  }
  if (refused > 0) {
    std::printf("  (%s: Paho refused %d sends with its queue full; retried)\n", sealed ? "sealed" : "plain", refused);
    std::fflush(stdout);
  }
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
  disconnect(publisher);
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
  const pid_t pid = spawn([&] { put(result.fd[1], one_process_round(uri, sealed, messages, size, keys)); });
  const Round round = take<Round>(result.fd[0]);
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
    disconnect(publisher);
  });
  const auto sub_done = take<SubResult>(sub_result.fd[0]);
  put(pub_go_home.fd[1], 1);
  const auto pub_done = take<PubResult>(pub_result.fd[0]);
  reap(pub_pid);
  reap(sub_pid);
  Round round;
  round.pub_cpu_us = pub_done.cpu_ms * 1e3 / messages;
  round.sub_cpu_us = sub_done.cpu_ms * 1e3 / messages;
  round.cpu_us = round.pub_cpu_us + round.sub_cpu_us;
  round.rate = rate_of(sub_done.received, messages, sealed, pub_done.start_ns, sub_done.last_ns);
  return round;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Series {
  std::vector<double> rate, cpu, pub_cpu, sub_cpu;
  void add(const Round& r) {
    rate.push_back(r.rate);
    cpu.push_back(r.cpu_us);
    pub_cpu.push_back(r.pub_cpu_us);
    sub_cpu.push_back(r.sub_cpu_us);
  }
};

// Every round measures plaintext and sealed in one process and in two; the
// order of the four alternates from round to round, so that neither side
// always runs first or on a warmer broker.
int throughput(const std::string& uri, int messages, size_t size, int rounds) {
  Keys keys;
  (void)in_child(uri, false, messages / 10, size, keys);  // warm-up, not counted
  Series plain1, sealed1, plain2, sealed2;
  for (int r = 0; r < rounds; ++r) {
    const bool plain_first = r % 2 == 0;
    const bool one_first = (r / 2) % 2 == 0;
    Round p1, s1, p2, s2;
    auto one = [&] {
      p1 = plain_first ? in_child(uri, false, messages, size, keys) : Round{};
      s1 = in_child(uri, true, messages, size, keys);
      if (!plain_first) p1 = in_child(uri, false, messages, size, keys);
    };
    auto two = [&] {
      p2 = plain_first ? two_process_round(uri, false, messages, size, keys) : Round{};
      s2 = two_process_round(uri, true, messages, size, keys);
      if (!plain_first) p2 = two_process_round(uri, false, messages, size, keys);
    };
    if (one_first) {
      one();
      two();
    } else {
      two();
      one();
    }
    plain1.add(p1);
    sealed1.add(s1);
    plain2.add(p2);
    sealed2.add(s2);
    std::printf("round %d: one process: plaintext %.0f msg/s (%.2f us CPU/msg), sealed %.0f msg/s (%.2f us CPU/msg), "
                "ratio %.3f\n",
                r + 1, p1.rate, p1.cpu_us, s1.rate, s1.cpu_us, s1.rate / p1.rate);
    std::printf("round %d: two processes: plaintext %.0f msg/s (pub %.2f + sub %.2f us CPU/msg), sealed %.0f msg/s "
                "(pub %.2f + sub %.2f us CPU/msg), ratio %.3f\n",
                r + 1, p2.rate, p2.pub_cpu_us, p2.sub_cpu_us, s2.rate, s2.pub_cpu_us, s2.sub_cpu_us,
                s2.rate / p2.rate);
    std::fflush(stdout);
  }
  auto paired = [](const Series& plain, const Series& sealed) {
    std::vector<double> ratios;
    for (size_t i = 0; i < plain.rate.size(); ++i) ratios.push_back(sealed.rate[i] / plain.rate[i]);
    return median(ratios);
  };
  std::printf("median, one process: plaintext %.0f msg/s, sealed %.0f msg/s, sealed/plaintext %.3f "
              "(median of the rounds' ratios %.3f); client CPU per message: plaintext %.2f us, sealed %.2f us\n",
              median(plain1.rate), median(sealed1.rate), median(sealed1.rate) / median(plain1.rate),
              paired(plain1, sealed1), median(plain1.cpu), median(sealed1.cpu));
  std::printf("median, two processes: plaintext %.0f msg/s, sealed %.0f msg/s, sealed/plaintext %.3f "
              "(median of the rounds' ratios %.3f); CPU per message: plaintext pub %.2f us + sub %.2f us, "
              "sealed pub %.2f us + sub %.2f us\n",
              median(plain2.rate), median(sealed2.rate), median(sealed2.rate) / median(plain2.rate),
              paired(plain2, sealed2),
              median(plain2.pub_cpu), median(plain2.sub_cpu), median(sealed2.pub_cpu), median(sealed2.sub_cpu));
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
  std::fprintf(stderr,
               "usage: paho_bench throughput URI MESSAGES SIZE ROUNDS\n"
               "       paho_bench cost URI MESSAGES SIZE sealed|plain [CA CERT KEY]\n");
  return 2;
}
