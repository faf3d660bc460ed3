#include "broker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>
#include <utility>

namespace mqseal::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kLoopbackHost = "127.0.0.1";
constexpr const char* kMosquitto = "mosquitto";
constexpr const char* kMosquittoPub = "mosquitto_pub";
constexpr const char* kMosquittoSub = "mosquitto_sub";

constexpr int kPortAttempts = 5;          // fresh ports tried when another process takes ours first
constexpr int kRestartAttempts = 3;       // same port
constexpr int kRestartRetryDelayMs = 100;
constexpr int kStartTimeoutMs = 5'000;    // until the broker accepts connections
constexpr int kStopGraceMs = 3'000;       // after SIGTERM, before SIGKILL
constexpr int kPollIntervalMs = 5;
constexpr int kSubscribeTimeoutMs = 5'000;  // until the broker acknowledges mosquitto_sub's subscription
constexpr int kSubscriberGraceMs = 200;     // mosquitto_sub after SIGTERM (it flushes every message anyway)
constexpr int kSubscribeQos = 1;

constexpr mode_t kPublicDirMode = 0755;
constexpr mode_t kPublicFileMode = 0644;
constexpr mode_t kWritableByAllMode = 0666;  // a log for a broker that runs as its own user
constexpr mode_t kPublicLibraryMode = 0755;  // a plugin copied for a broker that runs as its own user

constexpr const char* kReadyMarker = " running";  // "mosquitto version 2.0.11 running"
constexpr const char* kAddressInUse = "Address already in use";

std::atomic<int> next_client_number{0};

std::string make_temp_dir(const char* prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << pattern << ": " << std::strerror(errno);
    return "";
  }
  chmod(pattern.c_str(), kPublicDirMode);  // mosquitto may run as another user
  return pattern;
}

void remove_dir(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

sockaddr_in loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

bool starts_with(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

std::string trim_left(const std::string& line) {
  const auto first = line.find_first_not_of(" \t");
  return first == std::string::npos ? "" : line.substr(first);
}

std::vector<std::string> client_args(const Broker& broker, const ClientTls& tls) {
  std::vector<std::string> args = {"-h", kLoopbackHost, "-p", std::to_string(broker.port())};
  if (!broker.options().tls) return args;
  args.insert(args.end(), {"--cafile", tls.cafile});
  if (!tls.certfile.empty()) args.insert(args.end(), {"--cert", tls.certfile});
  if (!tls.keyfile.empty()) args.insert(args.end(), {"--key", tls.keyfile});
  return args;
}

ClientTls broker_ca_only(const Broker& broker) { return {broker.options().cafile, "", ""}; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One line of `mosquitto_sub -F %x` output back to bytes; false if it is not hex.
bool decode_hex(const std::string& line, std::string* bytes) {
  if (line.size() % 2 != 0) return false;
  bytes->clear();
  for (std::size_t i = 0; i < line.size(); i += 2) {
    const int high = hex_value(line[i]);
    const int low = hex_value(line[i + 1]);
    if (high < 0 || low < 0) return false;
    bytes->push_back(static_cast<char>((high << 4) | low));
  }
  return true;
}

int open_output(const std::string& path, bool append) {
  return open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), kPublicFileMode);
}

}  // namespace

// A port nobody listens on right now: bind 127.0.0.1:0, read it, close. 0 on failure.
int detail::free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in address = loopback(0);
  socklen_t length = sizeof address;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

bool detail::accepts_connections(int port) {
  if (port <= 0) return false;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const sockaddr_in address = loopback(port);
  const bool connected = connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return connected;
}

std::vector<std::string> mosquitto_command(const std::vector<std::string>& args) {
  std::vector<std::string> argv;
  const char* preload = std::getenv("MQSEAL_TEST_BROKER_PRELOAD");
  if (preload != nullptr && *preload != '\0') argv = {"env", std::string("LD_PRELOAD=") + preload};
  argv.emplace_back(kMosquitto);
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

BrokerOptions tls_broker_options(const CertificateSet& certs, bool require_certificate,
                                 bool use_identity_as_username) {
  BrokerOptions options;
  options.tls = true;
  options.require_certificate = require_certificate;
  options.use_identity_as_username = use_identity_as_username;
  options.cafile = certs.ca_cert;
  options.certfile = certs.server_cert;
  options.keyfile = certs.server_key;
  return options;
}

ClientTls client_tls(const CertificateSet& certs) { return {certs.ca_cert, certs.client_cert, certs.client_key}; }
ClientTls other_client_tls(const CertificateSet& certs) {
  return {certs.ca_cert, certs.other_client_cert, certs.other_client_key};
}
ClientTls no_client_cert_tls(const CertificateSet& certs) { return {certs.ca_cert, "", ""}; }

// ---- Broker ----

Broker::Broker(BrokerOptions options) : options_(std::move(options)) {
  dir_ = make_temp_dir("mqseal-broker");
  if (dir_.empty()) return;
  config_path_ = dir_ + "/mosquitto.conf";
  log_path_ = dir_ + "/mosquitto.log";
  output_path_ = dir_ + "/mosquitto.out";
  std::string why;
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    // Fresh logs per attempt, so an earlier attempt's "Address already in use" is not read again.
    detail::write_whole_file(log_path_, "");
    detail::write_whole_file(output_path_, "");
    // mosquitto opens its log after dropping privileges: the log must be writable by its user then.
    chmod(log_path_.c_str(), options_.drop_privileges ? kWritableByAllMode : kPublicFileMode);
    port_ = detail::free_port();
    if (port_ == 0) {
      why = std::string("cannot find a free port on 127.0.0.1: ") + std::strerror(errno);
      continue;
    }
    if (launch(&why)) {
      started_ = true;
      return;
    }
    if (log().find(kAddressInUse) == std::string::npos) break;  // not a port race: retrying will not help
  }
  ADD_FAILURE() << "mosquitto did not start: " << why << "\n--- config ---\n"
                << detail::read_file_from(config_path_) << "--- log ---\n"
                << log();
}

Broker::~Broker() {
  stop();
  remove_dir(dir_);
}

bool Broker::write_config() const {
  std::string per_listener;
  std::string extra;
  bool anonymous_set = false;
  for (const auto& line : options_.extra_config) {
    const std::string trimmed = trim_left(line);
    if (starts_with(trimmed, "per_listener_settings")) {
      per_listener += line + "\n";
    } else if (options_.drop_privileges && starts_with(trimmed, "plugin ")) {
      // mosquitto loads plugins as its own user, who may not reach the build
      // tree (a checkout in root's 0700 home): a copy in this broker's
      // directory, which all may read.
      const std::filesystem::path from = trim_left(trimmed.substr(std::string("plugin ").size()));
      const std::filesystem::path to = std::filesystem::path(dir_) / from.filename();
      std::error_code error;
      std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing, error);
      if (error || chmod(to.c_str(), kPublicLibraryMode) != 0) {
        ADD_FAILURE() << "cannot copy the plugin " << from << " for mosquitto's user: " << error.message();
        return false;
      }
      extra += "plugin " + to.string() + "\n";
    } else {
      extra += line + "\n";
    }
    if (starts_with(trimmed, "allow_anonymous")) anonymous_set = true;
  }
  std::string config = "# Written by the mqseal test harness (tests/support/broker.cpp).\n";
  config += per_listener;
  if (!options_.drop_privileges) {
    config += "user root\n";  // as root, mosquitto would otherwise switch to `mosquitto` and lose our files
  }
  config += "persistence false\n";
  config += "log_dest file " + log_path_ + "\n";
  config += "log_type all\n";
  config += "listener " + std::to_string(port_) + " " + kLoopbackHost + "\n";
  if (options_.tls) {
    config += "cafile " + options_.cafile + "\n";
    config += "certfile " + options_.certfile + "\n";
    config += "keyfile " + options_.keyfile + "\n";
    config += std::string("require_certificate ") + (options_.require_certificate ? "true" : "false") + "\n";
    config += std::string("use_identity_as_username ") + (options_.use_identity_as_username ? "true" : "false") +
              "\n";
  }
  if (!anonymous_set) config += "allow_anonymous true\n";
  config += extra;
  if (!detail::write_whole_file(config_path_, config)) return false;
  chmod(config_path_.c_str(), kPublicFileMode);
  return true;
}

bool Broker::launch(std::string* why) {
  if (!write_config()) {
    *why = "cannot write " + config_path_;
    return false;
  }
  const std::size_t log_offset = detail::read_file_from(log_path_).size();
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int output_fd = open_output(output_path_, true);
  if (null_fd < 0 || output_fd < 0) {
    *why = std::string("cannot open /dev/null or ") + output_path_ + ": " + std::strerror(errno);
    if (null_fd >= 0) close(null_fd);
    if (output_fd >= 0) close(output_fd);
    return false;
  }
  pid_ = detail::spawn_process(mosquitto_command({"-c", config_path_}), null_fd, output_fd, output_fd, why);
  close(null_fd);
  close(output_fd);
  if (pid_ < 0) return false;

  const auto deadline = Clock::now() + std::chrono::milliseconds(kStartTimeoutMs);
  for (;;) {
    int status = 0;
    if (detail::wait_for_exit(pid_, 0, &status)) {
      pid_ = -1;
      *why = "mosquitto on port " + std::to_string(port_) + " ended at startup (" +
             detail::describe_status(status) + ")";
      return false;
    }
    // "running" is logged once the listeners are open; the connect makes sure it is our port that answers.
    if (detail::read_file_from(log_path_, log_offset).find(kReadyMarker) != std::string::npos &&
        detail::accepts_connections(port_)) {
      return true;
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(kPollIntervalMs));
  }
  stop();
  *why = "mosquitto on port " + std::to_string(port_) + " not accepting connections after " +
         std::to_string(kStartTimeoutMs) + " ms";
  return false;
}

bool Broker::running() const { return detail::is_alive(pid_) && detail::accepts_connections(port_); }

std::string Broker::address() const {
  return std::string(options_.tls ? "ssl://" : "tcp://") + kLoopbackHost + ":" + std::to_string(port_);
}

std::string Broker::log() const {
  return detail::read_file_from(output_path_) + detail::read_file_from(log_path_);
}

void Broker::stop() {
  if (pid_ <= 0) return;
  detail::terminate_process(pid_, kStopGraceMs);
  pid_ = -1;
}

void Broker::restart() {
  stop();
  if (!started_) {  // a config mosquitto refused once would be refused again
    ADD_FAILURE() << "Broker::restart: the broker never started";
    return;
  }
  std::string why;
  for (int attempt = 0; attempt < kRestartAttempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(kRestartRetryDelayMs));
    if (launch(&why)) return;
  }
  ADD_FAILURE() << "mosquitto did not restart on port " << port_ << ": " << why << "\n--- log ---\n" << log();
}

// ---- mosquitto_pub ----

CommandResult publish(const Broker& broker, const std::string& topic, const std::string& payload, int qos) {
  return publish(broker, broker_ca_only(broker), topic, payload, qos);
}

CommandResult publish(const Broker& broker, const ClientTls& tls, const std::string& topic,
                      const std::string& payload, int qos) {
  const std::string dir = make_temp_dir("mqseal-pub");
  if (dir.empty()) return {};
  const std::string payload_path = dir + "/payload";  // -f: binary-safe, unlike -m
  std::vector<std::string> argv = {kMosquittoPub};
  const auto connection = client_args(broker, tls);
  argv.insert(argv.end(), connection.begin(), connection.end());
  argv.insert(argv.end(), {"-t", topic, "-q", std::to_string(qos)});
  if (payload.empty()) {
    argv.emplace_back("-n");
  } else {
    detail::write_whole_file(payload_path, payload);
    argv.insert(argv.end(), {"-f", payload_path});
  }
  CommandResult result = run_command(argv, kPublishTimeoutMs);
  remove_dir(dir);
  return result;
}

// ---- mosquitto_sub ----

Eavesdropper::Eavesdropper(const Broker& broker, std::string topic, int count, int timeout_ms)
    : Eavesdropper(broker, broker_ca_only(broker), std::move(topic), count, timeout_ms) {}

Eavesdropper::Eavesdropper(const Broker& broker, const CertificateSet& certs, std::string topic, int count,
                           int timeout_ms)
    : Eavesdropper(broker, client_tls(certs), std::move(topic), count, timeout_ms) {}

Eavesdropper::Eavesdropper(const Broker& broker, const ClientTls& tls, std::string topic, int count,
                           int timeout_ms) {
  deadline_ = Clock::now() + std::chrono::milliseconds(timeout_ms);
  dir_ = make_temp_dir("mqseal-sub");
  if (dir_.empty()) return;
  out_path_ = dir_ + "/payloads.hex";
  err_path_ = dir_ + "/stderr";
  client_id_ = "mqseal-eavesdropper-" + std::to_string(getpid()) + "-" + std::to_string(next_client_number++);

  // -F %x: each payload as one line of hex, so any bytes (NUL, 0xff, newlines) come through intact.
  std::vector<std::string> argv = {kMosquittoSub};
  const auto connection = client_args(broker, tls);
  argv.insert(argv.end(), connection.begin(), connection.end());
  argv.insert(argv.end(), {"-t", topic, "-q", std::to_string(kSubscribeQos), "-i", client_id_, "-F", "%x"});
  if (count > 0) argv.insert(argv.end(), {"-C", std::to_string(count)});

  const std::size_t log_offset = detail::read_file_from(broker.log_path()).size();
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int out_fd = open_output(out_path_, false);
  const int err_fd = open_output(err_path_, false);
  std::string error = std::string("cannot open output files: ") + std::strerror(errno);
  if (null_fd >= 0 && out_fd >= 0 && err_fd >= 0) pid_ = detail::spawn_process(argv, null_fd, out_fd, err_fd, &error);
  for (int fd : {null_fd, out_fd, err_fd}) {
    if (fd >= 0) close(fd);
  }
  if (pid_ < 0) {
    ADD_FAILURE() << "Eavesdropper: " << error;
    done_ = true;
    return;
  }

  // mosquitto_sub says nothing useful on stdout before the first message, so watch the broker's log instead.
  const std::string acknowledged = "Sending SUBACK to " + client_id_ + "\n";
  const auto subscribe_deadline = Clock::now() + std::chrono::milliseconds(kSubscribeTimeoutMs);
  while (!subscribed_) {
    if (detail::read_file_from(broker.log_path(), log_offset).find(acknowledged) != std::string::npos) {
      subscribed_ = true;
      break;
    }
    if (!detail::is_alive(pid_) || Clock::now() >= subscribe_deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(kPollIntervalMs));
  }
  if (!subscribed_) {
    wait();
    ADD_FAILURE() << "Eavesdropper: mosquitto_sub did not subscribe to \"" << topic << "\" on "
                  << broker.address() << " within " << kSubscribeTimeoutMs << " ms\n"
                  << errors() << "\n--- broker log ---\n"
                  << broker.log();
    return;
  }
  deadline_ = Clock::now() + std::chrono::milliseconds(timeout_ms);
}

Eavesdropper::~Eavesdropper() {
  if (pid_ > 0) detail::terminate_process(pid_, 0);
  remove_dir(dir_);
}

std::vector<std::string> Eavesdropper::wait() {
  if (done_) return payloads_;
  done_ = true;
  int status = 0;
  if (pid_ > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
    if (detail::wait_for_exit(pid_, static_cast<int>(std::max<decltype(left)>(left, 0)), &status)) {
      ending_ = "mosquitto_sub ended: " + detail::describe_status(status);
    } else {
      status = detail::terminate_process(pid_, kSubscriberGraceMs);
      ending_ = "mosquitto_sub stopped at the time limit";
    }
    pid_ = -1;
  }
  // mosquitto_sub flushes after every message; a line without its newline was cut short by our kill.
  const std::string output = detail::read_file_from(out_path_);
  std::size_t start = 0;
  for (std::size_t end; (end = output.find('\n', start)) != std::string::npos; start = end + 1) {
    const std::string line = output.substr(start, end - start);
    std::string payload;
    if (!decode_hex(line, &payload)) {
      ADD_FAILURE() << "Eavesdropper: unexpected mosquitto_sub output line: " << line;
      continue;
    }
    payloads_.push_back(std::move(payload));
  }
  return payloads_;
}

std::string Eavesdropper::errors() const {
  return ending_ + "\n--- mosquitto_sub stderr ---\n" + detail::read_file_from(err_path_);
}

}  // namespace mqseal::testing
