// credentials_bench: a broker with a million provisioned devices, measured
// (issue 11; docs/PERFORMANCE.md, "A million devices"). Not a test: run by
// bench/credentials_bench.sh (from scripts/bench), which starts the brokers.
//
//   credentials_bench write PATH DEVICES
//     A credentials file of DEVICES devices named device-0 ... through the
//     public API: Credentials::add of each record, then Credentials::save.
//     Argon2id (about 170 ms a device) would take two days for a million, so
//     no record is provisioned from a password: the login devices (those
//     logins_for() picks) get their records from credential_record() over a
//     device secret derived from their name (device_secret() below, so the
//     `logins` mode can make their tokens), every other device a token key
//     from Key::generate(). The Argon2id parameters are libsodium's
//     INTERACTIVE ones with a random salt, as provisioning writes them.
//
//   credentials_bench load PATH RUNS
//     RUNS times in this process: Credentials::load(PATH), then
//     TokenVerifier::create of it. Prints each run's time, the median, and
//     the process's extra resident memory (VmRSS from /proc/self/status)
//     with the first run's verifier alive, per device. Later runs reuse
//     memory the allocator kept, so only the first run's memory is reported.
//
//   credentials_bench logins DEVICES_A PORT_A DEVICES_B PORT_B ROUNDS LOGINS
//     Login rate through two mosquitto brokers on 127.0.0.1 running the
//     plugin with credentials files of DEVICES_A and DEVICES_B devices:
//     ROUNDS rounds of LOGINS logins each, alternating which broker goes
//     first; each login is a raw MQTT 3.1.1 CONNECT with a fresh token over a
//     new TCP connection, the CONNACK, then close (as bench/login_bench.py).
//     The logins spread over up to kLoginDevices devices spaced evenly
//     through the file (so a million-device broker's lookups touch its whole
//     table). Tokens are made before each round, outside the timing. Prints
//     every round, the medians and the ratio B / A.
#include <arpa/inet.h>
#include <mqseal/mqseal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kLoginDevices = 1000;  // at most this many devices log in
constexpr std::string_view kClientId = "credentials-bench";
constexpr uint16_t kKeepAliveS = 60;
// The bench's own seed for the login devices' secrets: the bench makes their
// tokens without a keyring. Not a secret (bench devices only).
constexpr std::array<uint8_t, crypto_generichash_KEYBYTES> kSeed = {'m', 'q', 's', 'e', 'a', 'l', ' ', 'b',
                                                                    'e', 'n', 'c', 'h'};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "credentials_bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T take(mqseal::Result<T> result, const char* what) {
  if (!result) die(std::string(what) + ": " + result.error().message());
  return std::move(*result);
}

void check(const mqseal::Status& status, const char* what) {
  if (!status) die(std::string(what) + ": " + status.error().message());
}

std::string device_name(size_t i) { return "device-" + std::to_string(i); }

// The devices that log in: up to kLoginDevices, spread evenly over all.
std::vector<size_t> logins_for(size_t devices) {
  const size_t count = std::min(devices, kLoginDevices);
  std::vector<size_t> picked;
  for (size_t j = 0; j < count; ++j) picked.push_back(j * devices / count);
  return picked;
}

// A login device's secret: BLAKE2b-256 keyed with the bench seed over its name.
mqseal::Key device_secret(const std::string& name) {
  std::array<uint8_t, mqseal::kKeySize> bytes{};
  crypto_generichash(bytes.data(), bytes.size(), reinterpret_cast<const uint8_t*>(name.data()), name.size(),
                     kSeed.data(), kSeed.size());
  mqseal::Key key = take(mqseal::Key::from_bytes(mqseal::ByteView(bytes)), "Key::from_bytes");
  sodium_memzero(bytes.data(), bytes.size());
  return key;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

long resident_kib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  die("no VmRSS in /proc/self/status");
}

int write_file(const std::string& path, size_t devices) {
  const auto start = Clock::now();
  mqseal::PassphraseParams params = take(mqseal::PassphraseParams::generate(), "PassphraseParams::generate");
  const std::vector<size_t> login = logins_for(devices);
  mqseal::Credentials credentials;
  size_t next_login = 0;
  for (size_t i = 0; i < devices; ++i) {
    const std::string name = device_name(i);
    if (next_login < login.size() && login[next_login] == i) {
      ++next_login;
      check(credentials.add(take(mqseal::credential_record(name, device_secret(name), params), "credential_record")),
            "Credentials::add");
    } else {
      check(credentials.add(mqseal::CredentialRecord{name, params, take(mqseal::Key::generate(), "Key::generate")}),
            "Credentials::add");
    }
  }
  check(credentials.save(path), "Credentials::save");
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  const auto bytes = static_cast<double>(file.tellg());
  std::printf("wrote %zu devices (%zu of them login devices) to %s: %.1f MiB, %.1f bytes per device, in %.1f s\n",
              devices, login.size(), path.c_str(), bytes / (1 << 20), bytes / static_cast<double>(devices),
              seconds_since(start));
  return 0;
}

int load(const std::string& path, int runs) {
  std::vector<double> times;
  double extra_kib = 0;
  size_t devices = 0;
  for (int r = 0; r < runs; ++r) {
    const long before = resident_kib();
    const auto start = Clock::now();
    mqseal::Credentials credentials = take(mqseal::Credentials::load(path), "Credentials::load");
    devices = credentials.size();
    const double loaded = seconds_since(start);
    mqseal::TokenVerifier verifier = take(mqseal::TokenVerifier::create(std::move(credentials)), "TokenVerifier::create");
    times.push_back(seconds_since(start));
    if (r == 0) extra_kib = static_cast<double>(resident_kib() - before);
    std::printf("run %d: %zu devices, load %.3f s + verifier %.3f s = %.3f s\n", r + 1, devices, loaded,
                times.back() - loaded, times.back());
    std::fflush(stdout);
  }
  std::printf("median load + verifier of %zu devices: %.3f s (%d runs); extra resident memory %.1f MiB, %.0f bytes "
              "per device (first run, verifier alive)\n",
              devices, median(times), runs, extra_kib / 1024, extra_kib * 1024 / static_cast<double>(devices));
  return 0;
}

// ---- logins through mosquitto ----

void append_string(std::string& out, std::string_view s) {
  out += static_cast<char>(s.size() >> 8);
  out += static_cast<char>(s.size() & 0xff);
  out += s;
}

// The client ID each device logs in with: one it owns (USERNAME/credentials-bench),
// as the plugin requires by default (plugin_opt_client_ids own).
std::string client_id(std::string_view username) { return std::string(username) + "/" + std::string(kClientId); }

std::string connect_packet(std::string_view username, std::string_view password) {
  std::string body;
  append_string(body, "MQTT");
  body += '\x04';                                     // protocol level: 3.1.1
  body += '\xc2';                                     // username, password, clean session
  body += static_cast<char>(kKeepAliveS >> 8);
  body += static_cast<char>(kKeepAliveS & 0xff);
  append_string(body, client_id(username));
  append_string(body, username);
  append_string(body, password);
  std::string packet(1, '\x10');
  size_t length = body.size();
  do {  // MQTT's variable-length "remaining length"
    uint8_t byte = length % 128;
    length /= 128;
    if (length != 0) byte |= 0x80;
    packet += static_cast<char>(byte);
  } while (length != 0);
  return packet + body;
}

bool login(uint16_t port, const std::string& packet) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool accepted = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      send(fd, packet.data(), packet.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(packet.size())) {
    uint8_t connack[4];
    size_t got = 0;
    while (got < sizeof connack) {
      const ssize_t n = recv(fd, connack + got, sizeof connack - got, 0);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    accepted = got == sizeof connack && connack[0] == 0x20 && connack[3] == 0;
  }
  close(fd);
  return accepted;
}

struct Broker {
  size_t devices = 0;
  uint16_t port = 0;
  std::vector<std::string> users;
  std::vector<mqseal::Key> secrets;
  std::vector<double> rates;
};

double logins_per_second(Broker& broker, size_t logins) {
  std::vector<std::string> packets;
  packets.reserve(logins);
  for (size_t i = 0; i < logins; ++i) {
    const size_t d = i % broker.users.size();
    packets.push_back(connect_packet(
        broker.users[d],
        take(mqseal::make_connect_token(broker.secrets[d], broker.users[d], client_id(broker.users[d])),
             "make_connect_token")));
  }
  const auto start = Clock::now();
  for (const std::string& packet : packets) {
    if (!login(broker.port, packet)) die("a login was refused by the broker on port " + std::to_string(broker.port));
  }
  return static_cast<double>(logins) / seconds_since(start);
}

int logins(std::vector<Broker> brokers, int rounds, size_t count) {
  for (Broker& b : brokers) {
    for (size_t i : logins_for(b.devices)) {
      b.users.push_back(device_name(i));
      b.secrets.push_back(device_secret(b.users.back()));
    }
  }
  for (int r = 0; r < rounds; ++r) {
    const size_t first = static_cast<size_t>(r) % 2;  // alternate which broker goes first
    for (size_t k = 0; k < brokers.size(); ++k) {
      Broker& b = brokers[(first + k) % brokers.size()];
      b.rates.push_back(logins_per_second(b, count));
    }
    std::printf("round %d:", r + 1);
    for (const Broker& b : brokers) std::printf("  %zu devices %.0f logins/s", b.devices, b.rates.back());
    std::printf("\n");
    std::fflush(stdout);
  }
  std::printf("median:");
  for (const Broker& b : brokers) std::printf("  %zu devices %.0f logins/s", b.devices, median(b.rates));
  std::printf("; %zu / %zu devices: %.3f (target >= 0.9)\n", brokers[1].devices, brokers[0].devices,
              median(brokers[1].rates) / median(brokers[0].rates));
  return 0;
}

size_t number(const char* text) {
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0') die(std::string("not a number: ") + text);
  return static_cast<size_t>(value);
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) die("sodium_init");
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "write" && argc == 4) return write_file(argv[2], number(argv[3]));
  if (mode == "load" && argc == 4) return load(argv[2], static_cast<int>(number(argv[3])));
  if (mode == "logins" && argc == 8) {
    std::vector<Broker> brokers(2);
    for (size_t b = 0; b < brokers.size(); ++b) {
      brokers[b].devices = number(argv[2 + 2 * b]);
      brokers[b].port = static_cast<uint16_t>(number(argv[3 + 2 * b]));
    }
    return logins(std::move(brokers), static_cast<int>(number(argv[6])), number(argv[7]));
  }
  std::fprintf(stderr,
               "usage: credentials_bench write PATH DEVICES\n"
               "       credentials_bench load PATH RUNS\n"
               "       credentials_bench logins DEVICES_A PORT_A DEVICES_B PORT_B ROUNDS LOGINS\n");
  return 2;
}
