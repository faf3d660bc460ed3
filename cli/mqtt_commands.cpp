// mqseal sub, mqseal pub: mosquitto_sub and mosquitto_pub that open and seal,
// on Paho MQTTAsync through the mqseal::paho adapter (attach, send, CONNECT
// tokens, TLS).
#include <CLI/CLI.hpp>
#include <MQTTAsync.h>
#include <mqseal/credentials.h>
#include <mqseal/envelope.h>
#include <mqseal/keyring.h>
#include <mqseal/opener.h>
#include <mqseal/paho/async.h>
#include <mqseal/policy_file.h>
#include <mqseal/sealer.h>
#include <mqseal/topic.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common.h"

namespace mqseal::cli {
namespace {

constexpr int kDefaultPort = 1883;
constexpr int kDefaultTlsPort = 8883;
constexpr int kMaxPort = 65535;
constexpr int kMaxQos = 2;
constexpr int kKeepAliveS = 60;
constexpr int kConnectTimeoutS = 10;
// The longest wait for the broker's answer to a connect, a subscribe, the
// acknowledgement of what pub sent, or a disconnect.
constexpr auto kAnswerTimeout = std::chrono::seconds(10);
constexpr int kDisconnectTimeoutMs = 2000;
// How often sub looks at the clock and for a signal while it waits.
constexpr auto kPollInterval = std::chrono::milliseconds(100);
constexpr auto kPendingPollInterval = std::chrono::milliseconds(20);
// Automatic reconnects of sub (pub does not reconnect).
constexpr int kMinRetryIntervalS = 1;
constexpr int kMaxRetryIntervalS = 30;
// Default client IDs: the prefix, then the process ID.
constexpr const char* kSubIdPrefix = "mqseal-sub-";
constexpr const char* kPubIdPrefix = "mqseal-pub-";
// MQTT 3.1.1 CONNACK return codes 1 to 5.
constexpr const char* kConnackReasons[] = {"", "unacceptable protocol version", "client identifier rejected",
                                           "server unavailable", "bad user name or password", "not authorised"};

struct ConnectionArgs {
  std::string host = "localhost";
  int port = 0;  // 0: kDefaultPort, or kDefaultTlsPort with --cafile
  std::string client_id;
  std::string username;
  std::string cafile, cert, key;
  std::string keyring, policy;
  std::string device_keyring;
  uint64_t token_lifetime_s = kDefaultTokenLifetimeS;
  int qos = 0;
};

struct SubArgs : ConnectionArgs {
  std::vector<std::string> topics;
  bool verbose = false;
  int count = 0;      // 0: no limit
  int timeout_s = 0;  // 0: no limit
};

struct PubArgs : ConnectionArgs {
  std::string topic;
  std::string message;
  std::string file;
  bool message_given = false;  // set from the options' counts after parsing
  bool stdin_whole = false;
  bool lines = false;
  bool null_message = false;
  bool retain = false;
  std::string signer;  // signed rules: the signer name (empty: the keyring's only one)
};

// Set by SIGINT and SIGTERM while sub runs: it disconnects and ends.
// Lock-free, so a signal handler may set it, and the main thread sees it
// whichever thread the signal was delivered to.
std::atomic<int> g_stop{0};
static_assert(std::atomic<int>::is_always_lock_free, "g_stop is set from a signal handler");
extern "C" void request_stop(int) { g_stop.store(1); }

// `text` with every control byte (below 0x20, and 0x7f) written as \xNN:
// for text an untrusted publisher chose, on its way to a terminal.
std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out;
}

std::string describe_paho(int code) {
  if (code > 0 && code < static_cast<int>(std::size(kConnackReasons))) {
    return std::string("the broker refused: ") + kConnackReasons[code];
  }
  // A single subscription the broker refused (SUBACK 0x80) reaches onFailure with this code.
  if (code == MQTT_BAD_SUBSCRIBE) return "the broker refused the subscription (not allowed by its ACL?)";
  const char* text = MQTTAsync_strerror(code);
  return std::string(text != nullptr ? text : "error") + " (" + std::to_string(code) + ")";
}

// The outcome of one MQTTAsync call that reports through onSuccess/onFailure.
class Completion {
 public:
  template <typename Options>
  void wire(Options& options) {
    options.context = this;
    options.onSuccess = [](void* self, MQTTAsync_successData* data) {
      auto* c = static_cast<Completion*>(self);
      bool refused = false;  // a subscription the broker refused (SUBACK 0x80)
      if (data != nullptr && c->subscriptions_ == 1) refused = data->alt.qos == MQTT_BAD_SUBSCRIBE;
      if (data != nullptr && c->subscriptions_ > 1 && data->alt.qosList != nullptr) {
        for (int i = 0; i < c->subscriptions_; ++i) refused = refused || data->alt.qosList[i] == MQTT_BAD_SUBSCRIBE;
      }
      c->finish(!refused, refused ? "the broker refused a subscription" : "");
    };
    options.onFailure = [](void* self, MQTTAsync_failureData* data) {
      std::string why = data != nullptr ? describe_paho(data->code) : "failed";
      const bool connack = data != nullptr && data->code > 0 && data->code < static_cast<int>(std::size(kConnackReasons));
      // Paho's message for a CONNACK refusal is only "CONNACK return code": described above.
      if (data != nullptr && data->message != nullptr && !connack) why += std::string(": ") + data->message;
      static_cast<Completion*>(self)->finish(false, why);
    };
  }
  void expect_subscriptions(int count) { subscriptions_ = count; }

  // Waits for the answer to `what`; transport_error if it failed or never came.
  // Ends early when SIGINT or SIGTERM asks sub to stop.
  Status wait(const std::string& what) {
    std::unique_lock<std::mutex> lock(mutex_);
    const auto deadline = std::chrono::steady_clock::now() + kAnswerTimeout;
    while (!done_) {
      if (g_stop.load() != 0) return Error(Errc::transport_error, what + ": stopped");
      if (std::chrono::steady_clock::now() >= deadline) {
        return Error(Errc::transport_error, what + ": no answer within " +
                                                std::to_string(kAnswerTimeout.count()) + " s");
      }
      changed_.wait_for(lock, kPollInterval);
    }
    if (!ok_) return Error(Errc::transport_error, what + ": " + why_);
    return {};
  }

 private:
  void finish(bool ok, std::string why) {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
    ok_ = ok;
    why_ = std::move(why);
    changed_.notify_all();
  }
  std::mutex mutex_;
  std::condition_variable changed_;
  bool done_ = false;
  bool ok_ = false;
  std::string why_;
  int subscriptions_ = 0;
};

Status readable(const std::string& path) {
  if (::access(path.c_str(), R_OK) != 0) {
    return Error(Errc::io_error, "cannot read " + path + ": " + std::strerror(errno));
  }
  return {};
}

// One MQTTAsync client. Destroyed in the order async.h asks for: the handle
// first, then what its callbacks use (tokens, attachment, completions).
class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    if (handle_ != nullptr) {
      // Outlives MQTTAsync_destroy: a disconnect still pending then may be
      // answered (as failed) while the handle is destroyed.
      Completion done;
      if (MQTTAsync_isConnected(handle_) != 0) {
        MQTTAsync_disconnectOptions options = MQTTAsync_disconnectOptions_initializer;
        options.timeout = kDisconnectTimeoutMs;
        done.wire(options);
        if (MQTTAsync_disconnect(handle_, &options) == MQTTASYNC_SUCCESS) (void)done.wait("disconnect");
      }
      MQTTAsync_destroy(&handle_);
    }
  }

  // Creates the client for args (URI, client ID), with the device's CONNECT
  // tokens when args name a device keyring.
  Status create(const ConnectionArgs& args, const char* id_prefix) {
    tls_ = !args.cafile.empty();
    const int port = args.port != 0 ? args.port : tls_ ? kDefaultTlsPort : kDefaultPort;
    uri_ = std::string(tls_ ? "ssl://" : "tcp://") + args.host + ":" + std::to_string(port);
    // A device logging in with tokens gets an ID it owns (the mosquitto
    // plugin refuses a device any other: README, "Broker plugin").
    const std::string own_prefix = args.device_keyring.empty() ? std::string() : args.username + "/";
    client_id_ = !args.client_id.empty()
                     ? args.client_id
                     : own_prefix + id_prefix + std::to_string(static_cast<long>(::getpid()));
    if (tls_) {
      for (const std::string* path : {&args.cafile, &args.cert, &args.key}) {
        if (!path->empty()) {
          if (Status s = readable(*path); !s) return s;
        }
      }
      tls_files_.ca_file = args.cafile;
      tls_files_.cert_file = args.cert;
      tls_files_.key_file = args.key;
    }
    MQTTAsync_createOptions create = MQTTAsync_createOptions_initializer;
    create.MQTTVersion = MQTTVERSION_3_1_1;
    const int rc = MQTTAsync_createWithOptions(&handle_, uri_.c_str(), client_id_.c_str(),
                                               MQTTCLIENT_PERSISTENCE_NONE, nullptr, &create);
    if (rc != MQTTASYNC_SUCCESS) {
      handle_ = nullptr;
      return Error(Errc::invalid_argument, "cannot make a client for " + uri_ + ": " + describe_paho(rc));
    }
    if (!args.device_keyring.empty()) {
      Result<Keyring> device = Keyring::load(args.device_keyring);
      if (!device) return std::move(device).error();
      Result<std::unique_ptr<paho::ConnectTokens>> tokens = paho::use_connect_tokens(
          handle_, std::make_shared<const Keyring>(std::move(*device)), std::string(kConnectKeyName),
          args.username, client_id_, args.token_lifetime_s);
      if (!tokens) {
        // Named only when the keyring is at fault (no "connect" key), not for a
        // username or client ID no token could verify for.
        const std::string where = tokens.error() == Errc::no_primary_key ? args.device_keyring + ": " : "";
        return Error(tokens.error().code(), where + tokens.error().message());
      }
      tokens_ = std::move(*tokens);
    }
    username_ = args.username;
    return {};
  }

  MQTTAsync handle() const noexcept { return handle_; }
  const std::string& uri() const noexcept { return uri_; }

  Status attach(std::shared_ptr<Opener> opener, const paho::AsyncCallbacks& callbacks) {
    Result<std::unique_ptr<paho::AsyncAttachment>> attached = paho::attach(handle_, std::move(opener), callbacks);
    if (!attached) return std::move(attached).error();
    attachment_ = std::move(*attached);
    return {};
  }

  Status connect(bool reconnect) {
    MQTTAsync_connectOptions options = MQTTAsync_connectOptions_initializer;
    options.MQTTVersion = MQTTVERSION_3_1_1;
    options.keepAliveInterval = kKeepAliveS;
    options.connectTimeout = kConnectTimeoutS;
    options.cleansession = 1;
    if (reconnect) {
      options.automaticReconnect = 1;
      options.minRetryInterval = kMinRetryIntervalS;
      options.maxRetryInterval = kMaxRetryIntervalS;
    }
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    if (tls_) {
      if (Status s = paho::configure_tls(tls_files_, ssl); !s) return s;
      options.ssl = &ssl;
    }
    if (tokens_) {
      if (Status s = tokens_->prepare(options); !s) return s;  // username and a fresh token
    } else if (!username_.empty()) {
      options.username = username_.c_str();
    }
    connected_.wire(options);
    const int rc = MQTTAsync_connect(handle_, &options);
    if (rc != MQTTASYNC_SUCCESS) return Error(Errc::transport_error, "connect to " + uri_ + ": " + describe_paho(rc));
    Status connected = connected_.wait("connect to " + uri_);
    const std::string own_prefix = username_ + "/";
    if (!connected && tokens_ && client_id_ != username_ && client_id_.compare(0, own_prefix.size(), own_prefix) != 0) {
      // The mosquitto plugin's default (README, "Broker plugin") refuses it.
      return Error(connected.error().code(),
                   connected.error().detail() + " (the client ID '" + client_id_ + "' is neither " + username_ +
                       " nor " + own_prefix + "...: the mqseal broker plugin refuses a device a client ID it does "
                       "not own, unless plugin_opt_client_ids any)");
    }
    return connected;
  }

  // Subscribes to every filter at `qos` and waits for the broker's answer.
  Status subscribe(const std::vector<std::string>& filters, int qos) {
    std::vector<char*> names;
    for (const std::string& f : filters) names.push_back(const_cast<char*>(f.c_str()));  // Paho only reads
    std::vector<int> qoss(filters.size(), qos);
    MQTTAsync_responseOptions options = MQTTAsync_responseOptions_initializer;
    subscribed_.expect_subscriptions(static_cast<int>(filters.size()));
    subscribed_.wire(options);
    const int rc = MQTTAsync_subscribeMany(handle_, static_cast<int>(names.size()), names.data(), qoss.data(),
                                           &options);
    if (rc != MQTTASYNC_SUCCESS) return Error(Errc::transport_error, "subscribe: " + describe_paho(rc));
    return subscribed_.wait("subscribe");
  }

  // Waits until everything sent has been written (QoS 0) or acknowledged.
  Status wait_for_pending() {
    const auto deadline = std::chrono::steady_clock::now() + kAnswerTimeout;
    for (;;) {
      MQTTAsync_token* pending = nullptr;
      const int rc = MQTTAsync_getPendingTokens(handle_, &pending);
      if (rc != MQTTASYNC_SUCCESS) return Error(Errc::transport_error, describe_paho(rc));
      const bool idle = pending == nullptr || pending[0] == -1;
      MQTTAsync_free(pending);
      if (idle) return {};
      if (MQTTAsync_isConnected(handle_) == 0) {
        return Error(Errc::transport_error, "the connection to " + uri_ + " was lost before the broker acknowledged");
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return Error(Errc::transport_error, "the broker did not acknowledge within " +
                                                std::to_string(kAnswerTimeout.count()) + " s");
      }
      std::this_thread::sleep_for(kPendingPollInterval);
    }
  }

 private:
  MQTTAsync handle_ = nullptr;
  bool tls_ = false;
  std::string uri_, client_id_, username_;
  paho::TlsFiles tls_files_;
  std::unique_ptr<paho::ConnectTokens> tokens_;
  std::unique_ptr<paho::AsyncAttachment> attachment_;
  Completion connected_, subscribed_;
};

// The policy and the keyring, loaded as `mqseal seal` and `mqseal open` do.
struct Loaded {
  TopicPolicy policy;
  std::shared_ptr<const Keyring> keys;
};

Result<Loaded> load(const ConnectionArgs& args) {
  Result<TopicPolicy> policy = load_policy(args.policy);
  if (!policy) return std::move(policy).error();
  Result<Keyring> keys = Keyring::load(args.keyring);
  if (!keys) return std::move(keys).error();
  return Loaded{std::move(*policy), std::make_shared<const Keyring>(std::move(*keys))};
}

// What sub's callbacks share with its main thread.
class Printer {
 public:
  explicit Printer(const SubArgs& args) : verbose_(args.verbose), limit_(args.count) {}

  static int on_message(void* self, char* topic, int topic_len, MQTTAsync_message* message) {
    static_cast<Printer*>(self)->print(topic_len > 0 ? std::string_view(topic, static_cast<size_t>(topic_len))
                                                     : std::string_view(topic),
                                       paho::arrived_signer(), message);
    MQTTAsync_freeMessage(&message);
    MQTTAsync_free(topic);
    return 1;
  }
  // Never the payload: it failed to open.
  static void on_refused(void*, const paho::RefusedMessage& refused) {
    // The topic is whoever published it's choice: control bytes (a terminal's
    // escape sequences) are shown as \xNN, never sent to the terminal.
    // mosquitto refuses such topics itself (invalid UTF-8 for MQTT); other
    // brokers may not.
    // A verified signer (suites 2 and 4: unauthorized_signer, a replay...)
    // comes before " on ", so no topic can pass for one.
    const std::string topic = printable(refused.topic);
    const std::string reason = printable(refused.error.message());
    const std::string signer = refused.signer.empty() ? "" : " signer=" + printable(refused.signer);
    std::fprintf(stderr, "mqseal: refused %s%s on %s: %s\n", name(refused.error.code()), signer.c_str(),
                 topic.c_str(), reason.c_str());
    std::fflush(stderr);
  }
  static void on_connection_lost(void*, char* cause) {
    std::fprintf(stderr, "mqseal: note: connection lost (%s); reconnecting\n", cause != nullptr ? cause : "no reason");
    std::fflush(stderr);
  }

  // Waits up to `slice` for the count to be reached or for output to fail.
  bool wait_done(std::chrono::milliseconds slice) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, slice, [&] { return done_; });
    return done_;
  }
  bool output_failed() {
    std::lock_guard<std::mutex> lock(mutex_);
    return output_failed_;
  }
  int output_errno() {
    std::lock_guard<std::mutex> lock(mutex_);
    return output_errno_;
  }

 private:
  // `signer`: the verified signer's name (suites 2 and 4), empty otherwise;
  // a key name, so nothing in it needs escaping.
  void print(std::string_view topic, std::string_view signer, const MQTTAsync_message* message) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (done_) return;  // -C reached: whatever comes while disconnecting is not shown
    bool ok = true;
    if (verbose_) {
      ok = std::fwrite(topic.data(), 1, topic.size(), stdout) == topic.size() && std::fputc(' ', stdout) != EOF;
      // Always there, empty when unsigned: a payload that begins with
      // "signer=NAME " cannot pass for a signed message's line.
      const std::string field = std::string(kSignerField) + std::string(signer) + " ";
      ok = ok && std::fwrite(field.data(), 1, field.size(), stdout) == field.size();
    }
    const auto size = static_cast<size_t>(message->payloadlen);
    ok = ok && (size == 0 || std::fwrite(message->payload, 1, size, stdout) == size) &&
         std::fputc('\n', stdout) != EOF && std::fflush(stdout) == 0;
    ++printed_;
    if (!ok && !output_failed_) {
      output_failed_ = true;
      output_errno_ = errno;  // this thread's: the main thread reports it
    }
    if (!ok || (limit_ > 0 && printed_ >= limit_)) {
      done_ = true;
      changed_.notify_all();
    }
  }

  const bool verbose_;
  const int limit_;
  std::mutex mutex_;
  std::condition_variable changed_;
  int printed_ = 0;
  bool done_ = false;
  bool output_failed_ = false;
  int output_errno_ = 0;
};

// Resubscribes after every automatic reconnect (the session is clean).
struct Resubscribe {
  MQTTAsync handle = nullptr;
  const SubArgs* args = nullptr;
  std::vector<char*> names;
  std::vector<int> qoss;
  std::atomic<bool> armed{false};  // after the first subscription succeeded

  static void on_connected(void* self, char*) {
    auto* r = static_cast<Resubscribe*>(self);
    if (!r->armed.load()) return;
    MQTTAsync_responseOptions options = MQTTAsync_responseOptions_initializer;
    if (MQTTAsync_subscribeMany(r->handle, static_cast<int>(r->names.size()), r->names.data(), r->qoss.data(),
                                &options) != MQTTASYNC_SUCCESS) {
      std::fprintf(stderr, "mqseal: note: could not subscribe again after reconnecting\n");
    }
  }
};

int run_sub(const SubArgs& args) {
  for (const std::string& filter : args.topics) {
    if (Status s = validate_filter(filter); !s) return fail(s.error());
  }
  Result<Loaded> loaded = load(args);
  if (!loaded) return fail(loaded.error());
  Result<Opener> opener = Opener::create(loaded->policy, loaded->keys);
  if (!opener) return fail(opener.error());

  Printer printer(args);
  Resubscribe resubscribe;
  Connection connection;  // after what its callbacks use: destroyed first
  if (Status s = connection.create(args, kSubIdPrefix); !s) return fail(s.error());
  paho::AsyncCallbacks callbacks;
  callbacks.context = &printer;
  callbacks.message_arrived = &Printer::on_message;
  callbacks.connection_lost = &Printer::on_connection_lost;
  callbacks.refused = &Printer::on_refused;
  if (Status s = connection.attach(std::make_shared<Opener>(std::move(*opener)), callbacks); !s) {
    return fail(s.error());
  }
  resubscribe.handle = connection.handle();
  resubscribe.args = &args;
  for (const std::string& f : args.topics) resubscribe.names.push_back(const_cast<char*>(f.c_str()));
  resubscribe.qoss.assign(args.topics.size(), args.qos);
  MQTTAsync_setConnected(connection.handle(), &resubscribe, &Resubscribe::on_connected);

  struct sigaction stop {}, old_int {}, old_term {};
  stop.sa_handler = request_stop;
  sigemptyset(&stop.sa_mask);
  ::sigaction(SIGINT, &stop, &old_int);
  ::sigaction(SIGTERM, &stop, &old_term);

  if (Status s = connection.connect(true); !s) return fail(s.error());
  // Armed only after the first SUBACK: Paho also calls on_connected for the
  // first connection, which must not subscribe a second time. (A reconnect
  // before that SUBACK arrives is not followed by a new subscription.)
  if (Status s = connection.subscribe(args.topics, args.qos); !s) return fail(s.error());
  resubscribe.armed = true;

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(args.timeout_s);
  int code = kExitOk;
  for (;;) {
    if (printer.wait_done(kPollInterval)) break;
    if (g_stop.load() != 0) break;
    if (args.timeout_s > 0 && std::chrono::steady_clock::now() >= deadline) {
      code = kExitTimeout;
      break;
    }
  }
  if (printer.output_failed()) {
    code = fail(Error(Errc::io_error, std::string("cannot write standard output: ") +
                                          std::strerror(printer.output_errno())));
  }
  return code;  // ~Connection disconnects
}

// Sends `payload` sealed for the topic.
Status publish_one(Sealer& sealer, Connection& connection, const PubArgs& args, ByteView payload) {
  if (payload.size() > kMaxPayloadSize) {
    return Error(Errc::payload_too_large, "a message of " + std::to_string(payload.size()) + " bytes");
  }
  MQTTAsync_responseOptions options = MQTTAsync_responseOptions_initializer;
  return paho::send(sealer, connection.handle(), args.topic.c_str(), static_cast<int>(payload.size()),
                    payload.data(), args.qos, args.retain ? 1 : 0, &options);
}

Result<std::vector<uint8_t>> read_whole_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Error(Errc::io_error, "cannot read " + path + ": " + std::strerror(errno));
  std::vector<uint8_t> out;
  uint8_t chunk[1 << 14];
  size_t n = 0;
  while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (n > kMaxPayloadSize - out.size()) {
      std::fclose(f);
      return Error(Errc::payload_too_large, path + " holds more than " + std::to_string(kMaxPayloadSize) + " bytes");
    }
    out.insert(out.end(), chunk, chunk + n);
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return Error(Errc::io_error, "cannot read " + path);
  return out;
}

int run_pub(const PubArgs& args) {
  const int sources = (args.message_given ? 1 : 0) + (args.file.empty() ? 0 : 1) + (args.stdin_whole ? 1 : 0) +
                      (args.lines ? 1 : 0) + (args.null_message ? 1 : 0);
  if (sources != 1) {
    std::fprintf(stderr, "mqseal: pub needs exactly one of -m, -f, -s, -l, -n\n");
    return kExitUsage;
  }
  // Everything that needs no broker first: the topic, the files, a rule for it.
  if (Status s = validate_topic(args.topic); !s) return fail(s.error());
  Result<Loaded> loaded = load(args);
  if (!loaded) return fail(loaded.error());
  if (Result<const TopicRule*> rule = loaded->policy.resolve(args.topic); !rule) return fail(rule.error());
  SealerOptions sealer_options;
  sealer_options.signer = args.signer;
  Result<Sealer> sealer = Sealer::create(loaded->policy, loaded->keys, std::move(sealer_options));
  if (!sealer) return fail(sealer.error());
  std::vector<uint8_t> payload;
  if (args.message_given) payload.assign(args.message.begin(), args.message.end());
  if (!args.file.empty()) {
    Result<std::vector<uint8_t>> read = read_whole_file(args.file);
    if (!read) return fail(read.error());
    payload = std::move(*read);
  }
  if (args.stdin_whole) {
    if (Status s = read_stdin(kMaxPayloadSize, payload); !s) return fail(s.error());
  }

  Connection connection;
  if (Status s = connection.create(args, kPubIdPrefix); !s) return fail(s.error());
  if (Status s = connection.connect(false); !s) return fail(s.error());
  if (!args.lines) {
    if (Status s = publish_one(*sealer, connection, args, ByteView(payload)); !s) return fail(s.error());
  } else {
    // One message per line as it comes (without its newline); empty lines
    // are skipped, as mosquitto_pub -l does.
    std::string line;
    for (int c = std::getc(stdin);; c = std::getc(stdin)) {
      if (c != EOF && c != '\n') {
        if (line.size() >= kMaxPayloadSize) {
          return fail(Error(Errc::payload_too_large, "a line of more than " + std::to_string(kMaxPayloadSize) +
                                                         " bytes on standard input"));
        }
        line.push_back(static_cast<char>(c));
        continue;
      }
      if (!line.empty()) {
        if (Status s = publish_one(*sealer, connection, args, std::string_view(line)); !s) return fail(s.error());
        line.clear();
      }
      if (c == EOF) break;
    }
    if (std::ferror(stdin)) return fail(Error(Errc::io_error, "cannot read standard input"));
  }
  if (Status s = connection.wait_for_pending(); !s) return fail(s.error());
  return kExitOk;  // ~Connection disconnects
}

// The options pub and sub share.
void add_connection_options(CLI::App& cmd, ConnectionArgs& args, const std::string& id_prefix) {
  cmd.set_help_flag("--help", "Print this help message and exit");
  cmd.add_option("-h,--host", args.host, "the broker's host name or address")->capture_default_str();
  cmd.add_option("-p,--port", args.port, "the broker's port (default 1883, 8883 with --cafile)")
      ->check(CLI::Range(1, kMaxPort));
  cmd.add_option("-i,--id", args.client_id,
                 "MQTT client ID (default " + id_prefix + "PID; with --device-keyring USERNAME/" + id_prefix +
                     "PID, an ID the device owns)");
  CLI::Option* username = cmd.add_option("-u,--username", args.username, "MQTT username");
  cmd.add_option("-q,--qos", args.qos, "QoS 0, 1 or 2")->capture_default_str()->check(CLI::Range(0, kMaxQos));
  cmd.add_option("--keyring", args.keyring, "keyring file with the topics' keys")->required();
  cmd.add_option("--policy", args.policy, "policy file (TOML)")->required();
  cmd.add_option("--device-keyring", args.device_keyring,
                 "log in with a fresh one-time CONNECT token from this keyring's \"connect\" key "
                 "(mqseal provision); needs -u")
      ->needs(username);
  cmd.add_option("--token-lifetime", args.token_lifetime_s, "seconds a CONNECT token is valid")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  CLI::Option* cafile = cmd.add_option("--cafile", args.cafile, "TLS: the CA that signed the broker's certificate (PEM)");
  CLI::Option* cert = cmd.add_option("--cert", args.cert, "TLS: this client's certificate (PEM)")->needs(cafile);
  CLI::Option* key = cmd.add_option("--key", args.key, "TLS: its private key (PEM)")->needs(cafile);
  cert->needs(key);
  key->needs(cert);
}

}  // namespace

void add_mqtt_commands(CLI::App& app, Action& action) {
  auto sub_args = std::make_shared<SubArgs>();
  CLI::App* sub = app.add_subcommand("sub", "Subscribe like mosquitto_sub; print the payloads that open");
  add_connection_options(*sub, *sub_args, kSubIdPrefix);
  sub->add_option("-t,--topic", sub_args->topics, "topic filter to subscribe to (repeatable)")->required();
  sub->add_flag("-v,--verbose", sub_args->verbose,
                "print \"TOPIC signer=NAME PAYLOAD\" per message: the verified signer of a signed one (suites 2 and 4), "
                "empty (\"TOPIC signer= PAYLOAD\") for any other; topic and payload bytes are printed as they are");
  sub->add_option("-C,--count", sub_args->count, "exit after this many opened messages")
      ->check(CLI::PositiveNumber);
  sub->add_option("-W,--timeout", sub_args->timeout_s, "exit after this many seconds (exit status 4)")
      ->check(CLI::PositiveNumber);
  sub->footer(
      "Prints each payload that opens (authentic, fresh, and sealed under the topic's rule), one per line,\n"
      "on stdout. With -v, the topic before it, and for a message on a signed rule (suites 2 and 4) the\n"
      "verified signer's name: \"plant/7/telemetry signer=device-7 21.5 C\". A message that fails to\n"
      "open is not printed: one line on stderr names the reason and the topic,\n"
      "\"mqseal: refused <error name> on <topic>: <message>\", never its bytes; when a signature\n"
      "verified before the refusal (suites 2 and 4, e.g. unauthorized_signer), the signer comes before\n"
      "the topic: \"mqseal: refused <error name> signer=<name> on <topic>: <message>\" (who signed those\n"
      "bytes once, not who sent them: anyone can re-send a signed message). Duplicates (QoS 1\n"
      "redeliveries) are dropped quietly. Topics under a plaintext rule are printed as they came.\n"
      "Reconnects by itself, with a fresh CONNECT token each time given --device-keyring. Ends on\n"
      "SIGINT or SIGTERM (exit 0), after -C messages (0), or after -W seconds (4).\n"
      "Exit status: 0 as above; 1 the broker refused or could not be reached, or no rule/keyring fits;\n"
      "2 usage error; 3 a file (keyring, policy, TLS) cannot be read or is not mode 0600; 4 -W ran out.");
  sub->callback([sub_args, &action] { action = [sub_args] { return run_sub(*sub_args); }; });

  auto pub_args = std::make_shared<PubArgs>();
  CLI::App* pub = app.add_subcommand("pub", "Publish like mosquitto_pub, sealed for the topic");
  add_connection_options(*pub, *pub_args, kPubIdPrefix);
  pub->add_option("-t,--topic", pub_args->topic, "the topic (no wildcards; a policy rule must cover it)")
      ->required();
  CLI::Option* message = pub->add_option("-m,--message", pub_args->message, "the payload");
  pub->add_option("-f,--file", pub_args->file, "send this file's bytes as the payload");
  pub->add_flag("-s,--stdin-message", pub_args->stdin_whole, "send all of stdin as one payload");
  pub->add_flag("-l,--stdin-line", pub_args->lines, "send each line of stdin as a payload (empty lines skipped)");
  pub->add_flag("-n,--null-message", pub_args->null_message, "send an empty payload (sealed)");
  pub->add_flag("-r,--retain", pub_args->retain, "retain the message (the intent is sealed in)");
  pub->add_option("--signer", pub_args->signer,
                  "signed rules (suites 2 and 4): sign as this signer name (default: the keyring's only signer name)");
  pub->footer(
      "Exactly one of -m, -f, -s, -l, -n. Checks the topic, the files and that a rule covers the topic\n"
      "before connecting. Exits 0 once the broker has the messages (acknowledged at QoS 1 and 2).\n"
      "Exit status: 0 sent; 1 refused (no rule covers the topic, wildcards, no key) or the broker\n"
      "refused or could not be reached or did not acknowledge; 2 usage error; 3 a file cannot be read.");
  pub->callback([pub_args, message, &action] {
    pub_args->message_given = message->count() > 0;
    action = [pub_args] { return run_pub(*pub_args); };
  });
}

}  // namespace mqseal::cli
