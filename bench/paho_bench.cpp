// paho_bench: what sealing costs through a real broker, measured, not assumed.
// scripts/bench starts mosquitto (plain and TLS listeners) and runs:
//
//   paho_bench throughput URI MESSAGES SIZE ROUNDS
//     QoS 0 messages from a Paho MQTTAsync publisher to a subscriber through
//     the broker, plaintext and sealed in each round (which goes first
//     alternates), after a warm-up; prints messages per second and client CPU
//     per message for each round, and the ratio of medians.
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

std::atomic<int> g_received{0};
int g_refused_sends = 0;
Clock::time_point g_last_received;

int count_message(void*, char* topic, int, MQTTAsync_message* message) {
  g_last_received = Clock::now();
  ++g_received;
  MQTTAsync_freeMessage(&message);
  MQTTAsync_free(topic);
  return 1;
}

struct Round {
  double rate;        // messages per second, first send to last arrival
  double cpu_us;      // this process's CPU (publisher and subscriber) per message
};

// One round: both clients live in this process, so its CPU time is theirs.
Round throughput_round(const std::string& uri, bool sealed, int messages, size_t size, Keys& keys) {
  auto sealer = mqseal::Sealer::create(keys.policy, keys.ring);
  auto opener = mqseal::Opener::create(keys.policy, keys.ring);
  if (!sealer || !opener) die("sealer/opener");
  g_received = 0;
  MQTTAsync subscriber = create_client(uri, sealed ? "bench-sub-sealed" : "bench-sub-plain");
  std::unique_ptr<mqseal::paho::AsyncAttachment> attached;
  if (sealed && std::getenv("MQSEAL_BENCH_PLAIN_SUBSCRIBER") == nullptr) {
    mqseal::paho::AsyncCallbacks callbacks;
    callbacks.message_arrived = count_message;
    auto a = mqseal::paho::attach(subscriber, std::make_shared<mqseal::Opener>(std::move(*opener)), callbacks);
    if (!a) die("attach");
    attached = std::move(*a);
  } else {
    MQTTAsync_setCallbacks(subscriber, nullptr, nullptr, count_message, nullptr);
  }
  MQTTAsync_responseOptions subscribe = MQTTAsync_responseOptions_initializer;
  if (!connect(subscriber, nullptr) ||
      !example::wait_for(subscribe, [&](auto& o) { return MQTTAsync_subscribe(subscriber, "bench/#", 0, &o); })) {
    die("subscriber could not connect and subscribe");
  }
  MQTTAsync publisher = create_client(uri, sealed ? "bench-pub-sealed" : "bench-pub-plain");
  if (!connect(publisher, nullptr)) die("publisher could not connect");

  const std::string payload(size, 'x');
  MQTTAsync_message message = MQTTAsync_message_initializer;
  message.payload = const_cast<char*>(payload.data());
  message.payloadlen = static_cast<int>(payload.size());
  message.qos = 0;
  g_refused_sends = 0;
  const double cpu_before = cpu_ms();
  const auto start = Clock::now();
  for (int i = 0; i < messages; ++i) {
    int rc = 0;
    do {  // Paho refuses new commands while its queue is full: retry
      if (sealed) {
        rc = mqseal::paho::send_message(*sealer, publisher, "bench/sensor/1", &message, nullptr) ? 0 : -1;
      } else {
        if (const char* spin = std::getenv("MQSEAL_BENCH_PLAIN_EXTRA_NS")) {
          const auto until = Clock::now() + std::chrono::nanoseconds(std::atoi(spin));
          while (Clock::now() < until) {
          }
        }
        rc = MQTTAsync_sendMessage(publisher, "bench/sensor/1", &message, nullptr);
      }
      if (rc != 0) {
        ++g_refused_sends;
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    } while (rc != 0);
  }
  const auto deadline = start + kDeliveryTimeout;
  int last = -1;
  auto last_progress = Clock::now();
  while (g_received < messages && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (g_received != last) {
      last = g_received;
      last_progress = Clock::now();
    } else if (Clock::now() - last_progress > std::chrono::seconds(3)) {
      break;  // QoS 0: what did not arrive in 3 s of silence was dropped
    }
  }
  const double seconds = std::chrono::duration<double>(g_last_received - start).count();
  const double cpu_us = (cpu_ms() - cpu_before) * 1e3 / messages;
  const int received = g_received;
  if (g_refused_sends > 0) {
    std::printf("  (%s: Paho refused %d sends with its queue full; retried)\n", sealed ? "sealed" : "plain",
                g_refused_sends);
  }
  disconnect(publisher);
  disconnect(subscriber);
  if (received < messages) {
    std::printf("  (%s round: %d of %d arrived; QoS 0 may drop)\n", sealed ? "sealed" : "plain", received, messages);
  }
  return {received / seconds, cpu_us};
}

int throughput(const std::string& uri, int messages, size_t size, int rounds) {
  Keys keys;
  std::vector<double> plain, sealed, plain_cpu, sealed_cpu;
  throughput_round(uri, false, messages / 10, size, keys);  // warm-up, not counted
  for (int r = 0; r < rounds; ++r) {
    // Alternate which goes first, so that neither always runs on a warmer broker.
    Round p{};
    Round s{};
    if (r % 2 == 0) {
      p = throughput_round(uri, false, messages, size, keys);
      s = throughput_round(uri, true, messages, size, keys);
    } else {
      s = throughput_round(uri, true, messages, size, keys);
      p = throughput_round(uri, false, messages, size, keys);
    }
    plain.push_back(p.rate);
    sealed.push_back(s.rate);
    plain_cpu.push_back(p.cpu_us);
    sealed_cpu.push_back(s.cpu_us);
    std::printf("round %d: plaintext %.0f msg/s (%.2f us CPU/msg), sealed %.0f msg/s (%.2f us CPU/msg)\n",
                r + 1, p.rate, p.cpu_us, s.rate, s.cpu_us);
    std::fflush(stdout);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf("median: plaintext %.0f msg/s, sealed %.0f msg/s, sealed/plaintext %.3f; "
              "client CPU per message: plaintext %.2f us, sealed %.2f us\n",
              median(plain), median(sealed), median(sealed) / median(plain), median(plain_cpu),
              median(sealed_cpu));
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
