// A real mosquitto broker for integration tests, and mosquitto_pub / mosquitto_sub helpers to talk to it.
// Everything listens on and connects to 127.0.0.1 only.
#ifndef MQSEAL_TESTS_SUPPORT_BROKER_H_
#define MQSEAL_TESTS_SUPPORT_BROKER_H_

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "certs.h"

namespace mqseal::testing {

struct BrokerOptions {
  bool tls = false;                  // TLS listener instead of plain TCP
  bool require_certificate = false;  // with tls: require_certificate true
  bool use_identity_as_username = false;
  std::string cafile, certfile, keyfile;  // for the TLS listener
  bool drop_privileges = false;      // started as root, run as mosquitto's own user (no `user root`), as a
                                     // deployment does: files it reads must then be that user's
  std::vector<std::string> extra_config;  // extra mosquitto.conf lines (e.g. "plugin /x.so"), written after the
                                          // listener so listener options apply to it; per_listener_settings
                                          // lines are moved to the top
};

namespace detail {
// A port nobody listens on right now on 127.0.0.1 (bound to :0, read, closed); 0 on failure.
int free_port();
// True if something accepts a TCP connection on 127.0.0.1:port.
bool accepts_connections(int port);
}  // namespace detail

// The command line that runs mosquitto with `args`. A test binary built with
// ThreadSanitizer names the TSan runtime in MQSEAL_TEST_BROKER_PRELOAD
// (sanitizer_preload.h): then it is `env LD_PRELOAD=<runtime> mosquitto args...`,
// so that the broker, which loads the instrumented plugin, and no other
// program the tests start (sh, openssl, redis-server) preloads it.
std::vector<std::string> mosquitto_command(const std::vector<std::string>& args);

// TLS listener options from a certificate set: server_cert/server_key, clients verified against ca_cert.
BrokerOptions tls_broker_options(const CertificateSet& certs, bool require_certificate = true,
                                 bool use_identity_as_username = false);

// A mosquitto process on 127.0.0.1:<free port>, with its config and log in a temp dir of its own. It runs as
// root if we are root (`user root`; drop_privileges: as mosquitto's user), without persistence, with `log_type all`, and with `allow_anonymous true`
// unless extra_config sets allow_anonymous. Startup failures are reported with ADD_FAILURE and the broker's log;
// check running() before relying on it. The process dies with the thread that created the Broker.
class Broker {
 public:
  explicit Broker(BrokerOptions options = {});
  ~Broker();  // stop(), then removes its temp dir
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  bool running() const;          // process alive and port accepting connections
  int port() const { return port_; }
  std::string address() const;   // "tcp://127.0.0.1:PORT" or "ssl://127.0.0.1:PORT" (Paho C URI form)
  std::string log() const;       // the broker's stdout/stderr, then its log file, so far
  void stop();                   // SIGTERM, bounded wait, SIGKILL if needed (idempotent)
  void restart();                // start again on the same port with the same config (a failure, without
                                 // trying, if the constructor could not start it)

  const BrokerOptions& options() const { return options_; }
  const std::string& log_path() const { return log_path_; }  // mosquitto's log_dest file
  int pid() const { return pid_; }                           // -1 when stopped

 private:
  bool launch(std::string* why);  // one attempt to start on port_ and wait until ready
  bool write_config() const;

  BrokerOptions options_;
  std::string dir_, config_path_, log_path_, output_path_;
  int port_ = 0;
  int pid_ = -1;
  bool started_ = false;  // the constructor started it
};

// What mosquitto_pub / mosquitto_sub present to a TLS broker. Empty certfile/keyfile: no client certificate.
struct ClientTls {
  std::string cafile, certfile, keyfile;
};
ClientTls client_tls(const CertificateSet& certs);        // ca_cert + client_cert/client_key
ClientTls other_client_tls(const CertificateSet& certs);  // ca_cert + other_client_cert/other_client_key
ClientTls no_client_cert_tls(const CertificateSet& certs);  // ca_cert only

constexpr int kDefaultPublishQos = 1;
constexpr int kPublishTimeoutMs = 5'000;

// Publishes one message (arbitrary bytes) with mosquitto_pub and waits for it to finish. On a TLS broker the
// first form verifies the server with the broker's cafile and sends no client certificate.
CommandResult publish(const Broker& broker, const std::string& topic, const std::string& payload,
                      int qos = kDefaultPublishQos);
CommandResult publish(const Broker& broker, const ClientTls& tls, const std::string& topic,
                      const std::string& payload, int qos = kDefaultPublishQos);

// Runs mosquitto_sub against the broker: subscribes to `topic` (QoS 1; retained messages included), collects up
// to `count` messages (count <= 0: no limit) or stops `timeout_ms` after the subscription was acknowledged.
// The constructor returns once the broker has acknowledged the subscription (ADD_FAILURE if it never does), so
// messages published after it are seen. On a TLS broker, the first form verifies the server with the broker's
// cafile and sends no client certificate; the CertificateSet form presents client_cert/client_key.
class Eavesdropper {
 public:
  Eavesdropper(const Broker& broker, std::string topic, int count, int timeout_ms);
  Eavesdropper(const Broker& broker, const CertificateSet& certs, std::string topic, int count, int timeout_ms);
  Eavesdropper(const Broker& broker, const ClientTls& tls, std::string topic, int count, int timeout_ms);
  ~Eavesdropper();
  Eavesdropper(const Eavesdropper&) = delete;
  Eavesdropper& operator=(const Eavesdropper&) = delete;

  bool subscribed() const { return subscribed_; }
  std::vector<std::string> wait();  // waits for the process; returns the raw payloads in order (idempotent)
  std::string errors() const;       // mosquitto_sub's stderr, and how it ended (after wait())

 private:
  int pid_ = -1;
  bool subscribed_ = false;
  bool done_ = false;
  std::string dir_, client_id_, out_path_, err_path_, ending_;
  std::chrono::steady_clock::time_point deadline_;
  std::vector<std::string> payloads_;
};

}  // namespace mqseal::testing

#endif  // MQSEAL_TESTS_SUPPORT_BROKER_H_
