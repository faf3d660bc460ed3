// mqseal_auth.so inside a real mosquitto on 127.0.0.1, with Paho MQTTClient
// and raw MQTT CONNECT packets as clients.
#include <MQTTClient.h>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <mqseal/credentials.h>
#include <mqseal/envelope.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "sanitizer_preload.h"
#include "broker.h"
#include "raw_mqtt.h"
#include "redis_server.h"
#include "tcp_relay.h"
#include "test_util.h"

namespace mqseal {
namespace {

using testing::take;


// A credentials file for device-7, a mosquitto password_file for a legacy
// user, and an acl_file limiting device-7 to plant/7/#.
struct Deployment {
  testing::TempDir dir;
  const std::string password = "device-7 password, never on the wire";
  Provisioned device = take(provision("device-7", password, testing::cheap_passphrase_params(3)));
  std::string credentials_file = dir.file("mqseal.credentials");
  std::string password_file = dir.file("passwords");
  std::string acl_file = dir.file("acl");

  Deployment() {
    Credentials credentials;
    testing::expect_ok(credentials.add(device.record));
    testing::expect_ok(credentials.save(credentials_file));
    testing::CommandResult made = testing::run_command(
        {"mosquitto_passwd", "-b", "-c", password_file, "legacy", "legacy-password"});
    EXPECT_TRUE(made.ok()) << made.describe();
    testing::write_file(acl_file,
                        "user device-7\ntopic readwrite plant/7/#\n\nuser legacy\ntopic readwrite #\n", 0644);
    chmod(dir.path().c_str(), 0755);  // mosquitto reads these after dropping to its own user
    chmod(password_file.c_str(), 0644);
    chmod(credentials_file.c_str(), 0644);  // readable by mosquitto's user: allowed by the option below
  }

  testing::BrokerOptions options(bool protect = false) const {
    testing::BrokerOptions o;
    o.extra_config = {"allow_anonymous false",
                      "plugin " + std::string(MQSEAL_PLUGIN),
                      "plugin_opt_credentials_file " + credentials_file,
                      "plugin_opt_allow_insecure_permissions true",
                      "password_file " + password_file,
                      "acl_file " + acl_file};
    if (protect) o.extra_config.push_back("plugin_opt_protected_topics plant/#");
    return o;
  }
  // The options above and one more line.
  testing::BrokerOptions options_with(const std::string& line) const {
    testing::BrokerOptions o = options();
    o.extra_config.push_back(line);
    return o;
  }
};

// MQTTClient connect: the CONNACK return code (0 accepted, 5 not authorised), or -1.
int connect(const testing::Broker& broker, const std::string& client_id, const std::string& username,
            const std::string& password, MQTTClient* keep = nullptr) {
  MQTTClient client = nullptr;
  if (MQTTClient_create(&client, broker.address().c_str(), client_id.c_str(), MQTTCLIENT_PERSISTENCE_NONE,
                        nullptr) != MQTTCLIENT_SUCCESS) {
    return -1;
  }
  MQTTClient_connectOptions options = MQTTClient_connectOptions_initializer;
  options.username = username.c_str();
  options.password = password.c_str();
  options.connectTimeout = 5;
  const int rc = MQTTClient_connect(client, &options);
  if (rc == MQTTCLIENT_SUCCESS && keep != nullptr) {
    *keep = client;
    return rc;
  }
  if (rc == MQTTCLIENT_SUCCESS) MQTTClient_disconnect(client, 1000);
  MQTTClient_destroy(&client);
  return rc;
}

std::string token(const Deployment& s, const std::string& client_id, uint64_t lifetime = 300, uint64_t now = 0) {
  return take(make_connect_token(s.device.device_secret, "device-7", client_id, lifetime, now));
}

// The topic of a message that reaches `client` within `timeout_ms`, or "" when
// none does (what a test of a refused publish expects).
std::string topic_of_any_arrival(MQTTClient client, int timeout_ms) {
  char* topic = nullptr;
  int topic_len = 0;
  MQTTClient_message* message = nullptr;
  if (MQTTClient_receive(client, &topic, &topic_len, &message, timeout_ms) != MQTTCLIENT_SUCCESS) {
    return "(MQTTClient_receive failed)";
  }
  if (message == nullptr) return "";
  std::string arrived = topic_len > 0 ? std::string(topic, static_cast<size_t>(topic_len)) : std::string(topic);
  MQTTClient_freeMessage(&message);
  MQTTClient_free(topic);
  return arrived;
}

TEST(MosquittoPlugin, TokensAcceptedOnceAndEveryForgeryRefused) {
  Deployment s;
  testing::Broker broker(s.options());
  ASSERT_TRUE(broker.running()) << broker.log();
  const std::string good = token(s, "device-7");
  EXPECT_EQ(connect(broker, "device-7", "device-7", good), 0) << broker.log();
  EXPECT_EQ(connect(broker, "device-7", "device-7", good), 5) << "a replayed CONNECT";
  EXPECT_EQ(connect(broker, "device-7", "device-7", token(s, "device-7")), 0) << "a fresh token";
  EXPECT_EQ(connect(broker, "device-7/other", "device-7", token(s, "device-7")), 5) << "another client ID";
  std::string altered = token(s, "device-7");
  altered[20] = altered[20] == 'A' ? 'B' : 'A';
  EXPECT_EQ(connect(broker, "device-7", "device-7", altered), 5) << "altered";
  EXPECT_EQ(connect(broker, "device-7", "device-7", token(s, "device-7", 60, system_time_ms() / 1000 - 3600)), 5)
      << "expired";
  EXPECT_EQ(connect(broker, "device-7", "device-7", token(s, "device-7", 60, system_time_ms() / 1000 + 7200)), 5)
      << "made by a device whose clock is two hours ahead";
  EXPECT_EQ(connect(broker, "device-7", "device-7", s.password), 5) << "the password itself";
  EXPECT_EQ(connect(broker, "nobody", "nobody", token(s, "device-7")), 5) << "unknown to both";
  // Users the plugin does not manage keep working through password_file.
  EXPECT_EQ(connect(broker, "legacy-1", "legacy", "legacy-password"), 0);
  EXPECT_EQ(connect(broker, "legacy-1", "legacy", "wrong"), 5);
  const std::string log = testing::read_file(broker.log_path());
  EXPECT_NE(log.find("mqseal: refused CONNECT of user 'device-7' (client 'device-7'): replay"), std::string::npos);
  EXPECT_NE(log.find("authentication_failed"), std::string::npos);
  // A clock that is off is the usual cause of these two: the log says so.
  EXPECT_NE(log.find("): expired (the token expired more than plugin_opt_max_clock_skew ago: is the device's clock "
                     "behind the broker's?)"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("): not_yet_valid (the token expires more than plugin_opt_max_token_lifetime + "
                     "plugin_opt_max_clock_skew from now: is the device's clock ahead of the broker's?)"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find(s.password), std::string::npos) << "a secret in the log";
  EXPECT_EQ(log.find(good), std::string::npos) << "a token in the log";
}

TEST(MosquittoPlugin, ProtectedTopicsRefusePlaintextAndAclFileStillApplies) {
  Deployment s;
  testing::Broker broker(s.options(/*protect=*/true));
  ASSERT_TRUE(broker.running()) << broker.log();
  MQTTClient client = nullptr;
  ASSERT_EQ(connect(broker, "device-7", "device-7", token(s, "device-7"), &client), 0) << broker.log();
  ASSERT_EQ(MQTTClient_subscribe(client, "plant/#", 1), MQTTCLIENT_SUCCESS);
  auto publish = [&](const std::string& topic, const std::vector<uint8_t>& payload) {
    MQTTClient_deliveryToken t = 0;
    MQTTClient_publish(client, topic.c_str(), static_cast<int>(payload.size()), payload.data(), 1, 0, &t);
    MQTTClient_waitForCompletion(client, t, 5000);
  };
  auto keys = testing::plant_keys();
  Sealer sealer = take(Sealer::create(testing::plant_policy(), keys));
  publish("plant/7/telemetry", testing::bytes_of("plaintext reading"));      // refused: unsealed
  publish("plant/8/telemetry", take(sealer.seal("plant/8/telemetry", std::string_view("x"))));  // acl_file: not device-7's
  publish("plant/7/telemetry", take(sealer.seal("plant/7/telemetry", std::string_view("sealed"))));
  // Only the sealed message on device-7's own topic comes back.
  char* topic = nullptr;
  int topic_len = 0;
  MQTTClient_message* message = nullptr;
  ASSERT_EQ(MQTTClient_receive(client, &topic, &topic_len, &message, 5000), MQTTCLIENT_SUCCESS);
  ASSERT_NE(message, nullptr);
  EXPECT_STREQ(topic, "plant/7/telemetry");
  EXPECT_TRUE(parse_header(ByteView(message->payload, static_cast<size_t>(message->payloadlen))));
  MQTTClient_freeMessage(&message);
  MQTTClient_free(topic);
  EXPECT_EQ(topic_of_any_arrival(client, 1000), "") << "the plaintext or the other topic got through";
  MQTTClient_disconnect(client, 1000);
  MQTTClient_destroy(&client);
  EXPECT_NE(testing::read_file(broker.log_path()).find("refused an unsealed 17-byte publish"), std::string::npos);
}

// Issue 11: with plugin_opt_replay_store file:PATH a token used before a
// broker restart is refused after it; with the in-memory store (the default,
// checked too, so that this test can tell the two apart) it is accepted once
// more.
TEST(MosquittoPlugin, TheFileReplayStoreRefusesATokenUsedBeforeABrokerRestart) {
  Deployment s;
  const std::string store = s.dir.file("replay");
  for (const bool file : {true, false}) {
    SCOPED_TRACE(file ? "file store" : "memory store");
    testing::BrokerOptions options = s.options();
    if (file) options.extra_config.push_back("plugin_opt_replay_store file:" + store);
    testing::Broker broker(options);
    ASSERT_TRUE(broker.running()) << broker.log();
    const std::string good = token(s, "device-7");
    EXPECT_EQ(connect(broker, "device-7", "device-7", good), 0) << broker.log();
    EXPECT_EQ(connect(broker, "device-7", "device-7", good), 5) << "a replayed CONNECT";
    broker.restart();
    ASSERT_TRUE(broker.running()) << broker.log();
    EXPECT_EQ(connect(broker, "device-7", "device-7", good), file ? 5 : 0) << "the same token after the restart";
    EXPECT_EQ(connect(broker, "device-7", "device-7", token(s, "device-7")), 0) << "a fresh token";
    if (file) {
      EXPECT_NE(testing::read_file(broker.log_path()).find("mqseal: replay store: file " + store + " (1 live tokens"),
                std::string::npos)
          << broker.log();
    }
  }
}

#if MQSEAL_TEST_REDIS
// Issue 11: two brokers with the plugin, each on its own loopback port,
// sharing one redis-server: a token accepted by one is refused by the other,
// and by the first after its restart. The same brokers with the in-memory
// store (checked too, so that the test can tell the two apart) accept it
// once at each.
TEST(MosquittoPluginRedis, ATokenAcceptedByOneBrokerIsRefusedByTheOtherAndAfterARestart) {
  Deployment s;
  testing::RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.log();
  for (const bool shared : {true, false}) {
    SCOPED_TRACE(shared ? "redis store" : "memory store");
    testing::BrokerOptions options = s.options();
    if (shared) {
      options.extra_config.push_back("plugin_opt_replay_store " + redis.url());
      options.extra_config.push_back("plugin_opt_replay_namespace plant-a");
    }
    testing::Broker a(options);
    testing::Broker b(options);
    ASSERT_TRUE(a.running()) << a.log();
    ASSERT_TRUE(b.running()) << b.log();
    ASSERT_NE(a.port(), b.port());
    const std::string good = token(s, "device-7");
    EXPECT_EQ(connect(a, "device-7", "device-7", good), 0) << a.log();
    EXPECT_EQ(connect(b, "device-7", "device-7", good), shared ? 5 : 0) << "the same token at the other broker";
    EXPECT_EQ(connect(a, "device-7", "device-7", good), 5) << "a replayed CONNECT";
    a.restart();
    ASSERT_TRUE(a.running()) << a.log();
    EXPECT_EQ(connect(a, "device-7", "device-7", good), shared ? 5 : 0) << "the same token after the restart";
    EXPECT_EQ(connect(b, "device-7", "device-7", token(s, "device-7")), 0) << "a fresh token";
    if (shared) {
      EXPECT_NE(testing::read_file(a.log_path())
                    .find("mqseal: replay store: redis redis://127.0.0.1:" + std::to_string(redis.port()) +
                          "/0, namespace plant-a ("),
                std::string::npos)
          << a.log();
      EXPECT_NE(testing::read_file(b.log_path()).find("mqseal: refused CONNECT of user 'device-7' (client 'device-7'): replay"),
                std::string::npos)
          << b.log();
      EXPECT_EQ(redis.cli({"ZCARD", "plant-a:claims:token"}).out, "2\n");
    }
  }
}

// Redis stopped: new logins are refused with a log line naming Redis, while
// a client connected before keeps publishing and receiving; Redis started
// again: logins work again, without restarting the broker.
TEST(MosquittoPluginRedis, RedisStoppedRefusesLoginsKeepsConnectedClientsAndComesBack) {
  Deployment s;
  testing::RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.log();
  testing::BrokerOptions options = s.options();
  options.extra_config.push_back("plugin_opt_replay_store " + redis.url());
  testing::Broker broker(options);
  ASSERT_TRUE(broker.running()) << broker.log();
  MQTTClient client = nullptr;
  ASSERT_EQ(connect(broker, "device-7", "device-7", token(s, "device-7"), &client), 0) << broker.log();
  ASSERT_EQ(MQTTClient_subscribe(client, "plant/7/#", 1), MQTTCLIENT_SUCCESS);
  // Publishes on plant/7/<n> and receives it back.
  auto round_trip = [&](const std::string& n) {
    const std::string topic = "plant/7/" + n;
    MQTTClient_deliveryToken t = 0;
    if (MQTTClient_publish(client, topic.c_str(), static_cast<int>(n.size()), n.data(), 1, 0, &t) !=
            MQTTCLIENT_SUCCESS ||
        MQTTClient_waitForCompletion(client, t, 5000) != MQTTCLIENT_SUCCESS) {
      return false;
    }
    char* got_topic = nullptr;
    int topic_len = 0;
    MQTTClient_message* message = nullptr;
    const bool received = MQTTClient_receive(client, &got_topic, &topic_len, &message, 5000) == MQTTCLIENT_SUCCESS &&
                          message != nullptr && topic == got_topic;
    if (message != nullptr) MQTTClient_freeMessage(&message);
    if (got_topic != nullptr) MQTTClient_free(got_topic);
    return received;
  };
  ASSERT_TRUE(round_trip("before"));
  redis.stop();
  // Two logins (the second within the retry interval: refused at once).
  EXPECT_EQ(connect(broker, "device-7/a", "device-7", token(s, "device-7/a")), 5);
  EXPECT_EQ(connect(broker, "device-7/b", "device-7", token(s, "device-7/b")), 5);
  EXPECT_TRUE(round_trip("during")) << "a connected client stopped being served while Redis is down";
  EXPECT_TRUE(broker.running());
  const std::string log = testing::read_file(broker.log_path());
  EXPECT_NE(log.find("mqseal: refused CONNECT of user 'device-7' (client 'device-7/a'): the replay store: "),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("Redis 127.0.0.1:" + std::to_string(redis.port()) + "/0"), std::string::npos) << log;
  redis.restart();
  ASSERT_TRUE(redis.running()) << redis.log();
  // Within a few retry intervals (1 s each) logins work again.
  int code = -1;
  for (int attempt = 0; attempt < 30 && code != 0; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    code = connect(broker, "device-7/" + std::to_string(10 + attempt), "device-7",
                   token(s, "device-7/" + std::to_string(10 + attempt)));
  }
  EXPECT_EQ(code, 0) << "logins did not resume with Redis\n" << broker.log();
  EXPECT_TRUE(round_trip("after"));
  MQTTClient_disconnect(client, 1000);
  MQTTClient_destroy(&client);
}
#endif  // MQSEAL_TEST_REDIS

// Issue 14 item 2: a user the plugin manages is never deferred to mosquitto's
// own checks, even when password_file also knows the name. Had the plugin
// deferred a failed token, password_file would let its password in (0).
TEST(MosquittoPlugin, AManagedUserIsRefusedNotDeferredEvenIfPasswordFileKnowsIt) {
  Deployment s;
  const std::string file_password = "device-7's password_file password";
  testing::CommandResult added =
      testing::run_command({"mosquitto_passwd", "-b", s.password_file, "device-7", file_password});
  ASSERT_TRUE(added.ok()) << added.describe();
  testing::Broker broker(s.options());
  ASSERT_TRUE(broker.running()) << broker.log();
  const std::string good = token(s, "device-7");
  EXPECT_EQ(connect(broker, "device-7", "device-7", good), 0) << broker.log();
  EXPECT_EQ(connect(broker, "device-7", "device-7", good), 5) << "a replayed token";
  std::string altered = token(s, "device-7");
  altered[30] = altered[30] == 'A' ? 'B' : 'A';
  EXPECT_EQ(connect(broker, "device-7", "device-7", altered), 5) << "a bad token";
  EXPECT_EQ(connect(broker, "device-7", "device-7", file_password), 5) << "password_file's password";
  EXPECT_EQ(connect(broker, "device-7", "device-7", ""), 5) << "no password";
  // The other password_file user is still deferred to it (and let in).
  EXPECT_EQ(connect(broker, "legacy-1", "legacy", "legacy-password"), 0);
}

// Blanks after the commas of plugin_opt_protected_topics were kept, so
// "plant/#, factory/#" protected " factory/#", a filter nothing matches.
TEST(MosquittoPlugin, ProtectedTopicsListMayHaveBlanksAroundItsCommas) {
  Deployment s;
  testing::Broker broker(s.options_with("plugin_opt_protected_topics plant/#, factory/#"));
  ASSERT_TRUE(broker.running()) << broker.log();
  MQTTClient client = nullptr;
  ASSERT_EQ(connect(broker, "legacy-1", "legacy", "legacy-password", &client), 0) << broker.log();
  ASSERT_EQ(MQTTClient_subscribe(client, "factory/#", 1), MQTTCLIENT_SUCCESS);
  const std::string plaintext = "plaintext on factory";
  MQTTClient_deliveryToken t = 0;
  MQTTClient_publish(client, "factory/1/cmd", static_cast<int>(plaintext.size()), plaintext.data(), 1, 0, &t);
  MQTTClient_waitForCompletion(client, t, 5000);
  EXPECT_EQ(topic_of_any_arrival(client, 1000), "") << "plaintext got through";
  MQTTClient_disconnect(client, 1000);
  MQTTClient_destroy(&client);
  EXPECT_NE(testing::read_file(broker.log_path()).find("refused an unsealed 20-byte publish on protected topic "
                                                        "'factory/1/cmd'"),
            std::string::npos)
      << broker.log();
}

TEST(MosquittoPlugin, NeitherPasswordNorDeviceSecretCrossesTheWire) {
  Deployment s;
  testing::Broker broker(s.options());
  ASSERT_TRUE(broker.running()) << broker.log();
  testing::TcpRelay capture(broker.port());
  ASSERT_TRUE(capture.ok());
  const std::string uri = "tcp://127.0.0.1:" + std::to_string(capture.port());
  MQTTClient client = nullptr;
  ASSERT_EQ(MQTTClient_create(&client, uri.c_str(), "device-7", MQTTCLIENT_PERSISTENCE_NONE, nullptr), 0);
  MQTTClient_connectOptions options = MQTTClient_connectOptions_initializer;
  const std::string t = token(s, "device-7");
  options.username = "device-7";
  options.password = t.c_str();
  EXPECT_EQ(MQTTClient_connect(client, &options), MQTTCLIENT_SUCCESS) << broker.log();
  MQTTClient_disconnect(client, 1000);
  MQTTClient_destroy(&client);
  const std::string& wire = capture.finish();
  ASSERT_NE(wire.find(t), std::string::npos) << "the capture saw the CONNECT";
  EXPECT_EQ(wire.find(s.password), std::string::npos) << "the password crossed the wire";
  // The device secret, as bytes and in hex, never appears either: the
  // broker's record holds only its subkey, so check the subkey too (its
  // bytes reach no API: read them from the credentials file's text).
  Credentials record_only;
  testing::expect_ok(record_only.add(s.device.record));
  const std::string credentials_text = take(record_only.serialize());
  std::string token_key;
  for (size_t i = credentials_text.rfind(' ') + 1; i + 2 < credentials_text.size(); i += 2) {
    token_key += static_cast<char>(std::stoi(credentials_text.substr(i, 2), nullptr, 16));
  }
  ASSERT_EQ(token_key.size(), kKeySize);
  EXPECT_EQ(wire.find(token_key), std::string::npos);
  auto keys = std::make_shared<Keyring>();
  testing::expect_ok(keys->add_with_id("connect", 1, take(s.device.device_secret.clone())));
  const std::string keyring_text = take(keys->serialize());
  const std::string secret_hex = keyring_text.substr(keyring_text.find(" primary ") + 9, 64);
  EXPECT_EQ(wire.find(secret_hex), std::string::npos);
}

// Sends one CONNECT; true if the broker did NOT accept it (refused or closed).
bool refused_raw(int port, const std::string& packet) { return testing::connack_code(port, packet) != 0; }

TEST(MosquittoPlugin, TenThousandMalformedLoginsAreRefusedAndTheBrokerKeepsServing) {
  Deployment s;
  testing::Broker broker(s.options());
  ASSERT_TRUE(broker.running()) << broker.log();
  std::mt19937_64 rng(9);
  auto random_bytes = [&rng](size_t max) {
    std::string out(rng() % (max + 1), '\0');
    for (char& c : out) c = static_cast<char>(rng());
    return out;
  };
  const std::string good = token(s, "device-7");
  int accepted = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string username = i % 4 == 0 ? std::string("device-7") : random_bytes(40);
    std::string password;
    switch (i % 5) {
      case 0: password = random_bytes(120); break;                            // garbage, NULs, non-UTF-8
      case 1: password = good; password[static_cast<size_t>(rng() % good.size())] ^= 0x01; break;
      case 2: password = "mqs1." + random_bytes(76); break;
      case 3: password = std::string(60000, 'A'); break;                     // oversized
      default: password = good.substr(0, static_cast<size_t>(rng() % good.size())); break;
    }
    if (!refused_raw(broker.port(), testing::connect_packet("c" + std::to_string(i), username, password))) ++accepted;
  }
  EXPECT_EQ(accepted, 0);
  ASSERT_TRUE(broker.running()) << broker.log();
  EXPECT_EQ(connect(broker, "device-7", "device-7", good), 0) << "still serving";
}

// Two devices (device-7, device-8) and the password_file user legacy.
struct TwoDevices : Deployment {
  Provisioned other = take(provision("device-8", "device-8 password", testing::cheap_passphrase_params(4)));
  TwoDevices() {
    Credentials both = take(Credentials::load(credentials_file, {true}));
    testing::expect_ok(both.add(other.record));
    testing::expect_ok(both.save(credentials_file));
    chmod(credentials_file.c_str(), 0644);
  }
  std::string token8(const std::string& client_id) const {
    return take(make_connect_token(other.device_secret, "device-8", client_id));
  }
};

// A CONNECT without username or password (an anonymous login), clean session.
std::string anonymous_connect_packet(const std::string& client_id) {
  constexpr char kCleanSession = 0x02;
  constexpr uint8_t kConnect = 0x10;
  return testing::mqtt_packet(kConnect, testing::mqtt_string("MQTT") + std::string{4, kCleanSession, 0, 60} +
                                            testing::mqtt_string(client_id));
}

// A connection held open on a raw socket (so that its closing is seen as it
// happens): the socket once the CONNECT is accepted, or -1.
int hold_connection(const testing::Broker& broker, const std::string& connect) {
  const int fd = testing::connect_loopback(broker.port(), 1000);
  if (fd < 0) return -1;
  unsigned char connack[4] = {};
  if (!testing::send_all(fd, connect) || recv(fd, connack, sizeof connack, MSG_WAITALL) != 4 || connack[3] != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Whether the broker still holds the connection: reading times out (1 s)
// instead of seeing the broker close it.
bool still_connected(int fd) {
  char byte = 0;
  return recv(fd, &byte, 1, 0) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

// An insider: mosquitto hands a client ID (and its persistent session) to the
// newest login presenting it, closing the older connection, and a token binds
// a client ID to its own user only. So device-7, with its own valid
// credentials, could log in under device-8's client ID, disconnect it and
// take its session, as often as it liked; and so could any user
// password_file (or anonymous access) lets in. Client IDs now belong to
// devices (plugin_opt_client_ids own, the default): device-8's ID is its
// username, or its username and '/' and more, and no other login may use one;
// a device logs in only with an ID it owns. With mosquitto's
// use_username_as_clientid every ID is the username (set before the plugin
// sees the CONNECT), which the rule accepts.
TEST(MosquittoPlugin, AClientIdBelongsToItsDeviceAndNoOtherLoginTakesIt) {
  TwoDevices s;
  for (const bool username_as_id : {false, true}) {
    SCOPED_TRACE(username_as_id ? "use_username_as_clientid true" : "mosquitto's default");
    testing::BrokerOptions o = s.options();
    ASSERT_EQ(o.extra_config[0], "allow_anonymous false");
    o.extra_config[0] = "allow_anonymous true";
    if (username_as_id) o.extra_config.push_back("use_username_as_clientid true");
    testing::Broker broker(o);
    ASSERT_TRUE(broker.running()) << broker.log();
    const int device8 = hold_connection(broker, testing::connect_packet("device-8", "device-8", s.token8("device-8")));
    ASSERT_GE(device8, 0) << broker.log();
    if (!username_as_id) {
      // device-7's own valid token, made for device-8's client ID (or one under it).
      EXPECT_EQ(connect(broker, "device-8", "device-7", token(s, "device-8")), 5) << broker.log();
      EXPECT_TRUE(still_connected(device8)) << "device-8 was disconnected by device-7's login";
      EXPECT_EQ(connect(broker, "device-8/x", "device-7", token(s, "device-8/x")), 5);
      // An ID no device owns: not device-7's either.
      EXPECT_EQ(connect(broker, "client-7", "device-7", token(s, "client-7")), 5);
      EXPECT_EQ(connect(broker, "device-70", "device-7", token(s, "device-70")), 5);
      // Its own: its username, or its username, '/' and anything.
      EXPECT_EQ(connect(broker, "device-7", "device-7", token(s, "device-7")), 0) << broker.log();
      EXPECT_EQ(connect(broker, "device-7/sensor/2", "device-7", token(s, "device-7/sensor/2")), 0);
      EXPECT_EQ(connect(broker, "device-8/anything", "device-8", s.token8("device-8/anything")), 0);
      EXPECT_EQ(connect(broker, "device-8/", "device-8", s.token8("device-8/")), 0);
      // A password_file user, and an anonymous client, cannot take device-8's ID.
      EXPECT_EQ(connect(broker, "device-8", "legacy", "legacy-password"), 5);
      EXPECT_EQ(connect(broker, "device-8/x", "legacy", "legacy-password"), 5);
      EXPECT_EQ(testing::connack_code(broker.port(), anonymous_connect_packet("device-8")), 5);
      EXPECT_TRUE(still_connected(device8)) << "device-8 was disconnected by another login";
      // ... and keep every ID no device owns, an empty one too (mosquitto
      // assigns one: auto-...). "device-80" is not device-8's.
      EXPECT_EQ(connect(broker, "legacy-1", "legacy", "legacy-password"), 0);
      EXPECT_EQ(connect(broker, "device-80", "legacy", "legacy-password"), 0);
      EXPECT_EQ(testing::connack_code(broker.port(), testing::connect_packet("", "legacy", "legacy-password")), 0);
      EXPECT_EQ(testing::connack_code(broker.port(), anonymous_connect_packet("anonymous-1")), 0);
      EXPECT_EQ(testing::connack_code(broker.port(), anonymous_connect_packet("")), 0);
      const std::string log = testing::read_file(broker.log_path());
      EXPECT_NE(log.find("mqseal: refused CONNECT of user 'device-7' (client 'device-8'): the client ID belongs to "
                         "device 'device-8' (plugin_opt_client_ids own)"),
                std::string::npos)
          << log;
      EXPECT_NE(log.find("mqseal: refused CONNECT of user 'device-7' (client 'client-7'): a device's client ID must "
                         "be its username or start with its username and '/'"),
                std::string::npos)
          << log;
      EXPECT_NE(log.find("mqseal: refused CONNECT of user 'legacy' (client 'device-8'): the client ID belongs to "
                         "device 'device-8'"),
                std::string::npos);
      EXPECT_NE(log.find("mqseal: refused CONNECT of user '(none)' (client 'device-8'): the client ID belongs to "
                         "device 'device-8'"),
                std::string::npos);
      EXPECT_NE(log.find("mqseal: client IDs: own"), std::string::npos);
    } else {
      // mosquitto sets every ID to the username before the plugin sees it:
      // whatever ID a login sends, it gets its username, so device-7 logs in
      // as device-7 (a token for its username) and takes nothing.
      EXPECT_EQ(connect(broker, "device-8", "device-7", token(s, "device-7")), 0) << broker.log();
      EXPECT_EQ(connect(broker, "any-id", "device-7", token(s, "device-7")), 0) << broker.log();
      EXPECT_EQ(connect(broker, "device-8", "device-7", token(s, "device-8")), 5) << "a token for another ID";
      EXPECT_EQ(connect(broker, "device-8", "legacy", "legacy-password"), 0) << "logged in as 'legacy'";
      EXPECT_EQ(testing::connack_code(broker.port(), anonymous_connect_packet("device-8")), 5)
          << "mosquitto refuses a login without a username";
      EXPECT_TRUE(still_connected(device8)) << "device-8 was disconnected";
    }
    close(device8);
  }
}

// plugin_opt_client_ids any: the old behaviour, for deployments where devices
// share client IDs: any login that passes (another device with its own valid
// token, a password_file user) takes device-8's client ID and disconnects it.
TEST(MosquittoPlugin, ClientIdsAnyLetsAnyLoginTakeADevicesClientId) {
  TwoDevices s;
  testing::Broker broker(s.options_with("plugin_opt_client_ids any"));
  ASSERT_TRUE(broker.running()) << broker.log();
  EXPECT_NE(testing::read_file(broker.log_path()).find("mqseal: client IDs: any"), std::string::npos);
  for (const std::string user : {"device-7", "legacy"}) {
    SCOPED_TRACE(user);
    const int device8 = hold_connection(broker, testing::connect_packet("device-8", "device-8", s.token8("device-8")));
    ASSERT_GE(device8, 0) << broker.log();
    EXPECT_EQ(connect(broker, "device-8", user, user == "legacy" ? "legacy-password" : token(s, "device-8")), 0)
        << broker.log();
    char byte = 0;
    EXPECT_EQ(recv(device8, &byte, 1, 0), 0) << "mosquitto no longer hands a client ID to the newest login";
    close(device8);
  }
  EXPECT_EQ(connect(broker, "client-7", "device-7", token(s, "client-7")), 0) << "any ID, for a device too";
}

// mosquitto 2.0 closes the connection, with no CONNACK and before any plugin
// sees it, of a CONNECT whose client ID or username holds a control character
// (U+0001 to U+001F, U+007F to U+009F) or a noncharacter (U+FDD0 to U+FDEF,
// U+xFFFE, U+xFFFF): its UTF-8 check refuses the characters MQTT says a string
// should not hold. A token is made for exactly the client IDs it lets in;
// before, one was made for these too, and could never log in. An empty client
// ID is replaced by one mosquitto makes up (auto-...) before the plugin checks
// the token, so a token for "" is refused even where any ID may log in.
TEST(MosquittoPlugin, NoTokenIsMadeForANameMosquittoRefuses) {
  using namespace std::string_literals;
  Deployment s;
  testing::Broker broker(s.options_with("plugin_opt_client_ids any"));
  ASSERT_TRUE(broker.running()) << broker.log();
  auto login = [&](const std::string& client_id, const std::string& username, const std::string& password) {
    return testing::connack_code(broker.port(), testing::connect_packet(client_id, username, password));
  };
  ASSERT_EQ(login("legacy-1", "legacy", "legacy-password"), 0) << broker.log();
  auto hex_of = [](const std::string& bytes) {
    std::string out;
    const char* const digits = "0123456789abcdef";
    for (const unsigned char b : bytes) out += {digits[b >> 4], digits[b & 15]};
    return out;
  };
  const std::vector<std::string> refused = {
      "\x01"s, "\x1f"s, "\x7f"s, "\n"s, "\xc2\x80"s /* U+0080 */, "\xc2\x85"s /* U+0085 */, "\xc2\x9f"s /* U+009F */,
      "\xef\xb7\x90"s /* U+FDD0 */, "\xef\xb7\xaf"s /* U+FDEF */, "\xef\xbf\xbe"s /* U+FFFE */,
      "\xef\xbf\xbf"s /* U+FFFF */, "\xf0\x9f\xbf\xbf"s /* U+1FFFF */, "\xf4\x8f\xbf\xbe"s /* U+10FFFE */};
  const std::vector<std::string> accepted = {
      " "s, "~"s, "\xc2\xa0"s /* U+00A0 */, "\xef\xb7\x8f"s /* U+FDCF */, "\xef\xb7\xb0"s /* U+FDF0 */,
      "\xe2\x80\xa8"s /* U+2028 */, "\xef\xbf\xbd"s /* U+FFFD */, "\xf0\x9f\xbf\xbd"s /* U+1FFFD */,
      "\xf4\x8f\xbf\xbd"s /* U+10FFFD */};
  for (const auto& [characters, in] : {std::pair{&refused, false}, std::pair{&accepted, true}}) {
    for (const std::string& c : *characters) {
      SCOPED_TRACE(hex_of(c));
      // What mosquitto does with the name, from a login it would otherwise let in.
      EXPECT_EQ(login("legacy/" + c, "legacy", "legacy-password"), in ? 0 : -1) << broker.log();
      EXPECT_EQ(login("legacy-1", "legacy" + c, "legacy-password"), in ? 5 : -1) << "a username holding it";
      // What mqseal does: a token exactly where mosquitto lets the ID in.
      Result<std::string> device_token = make_connect_token(s.device.device_secret, "device-7", "device-7/" + c);
      EXPECT_EQ(device_token.ok(), in) << (device_token ? "made" : device_token.error().message());
      if (in && device_token) {
        EXPECT_EQ(login("device-7/" + c, "device-7", *device_token), 0) << broker.log();
      }
    }
  }
  const std::string for_empty_id = take(make_connect_token(s.device.device_secret, "device-7", ""));
  EXPECT_EQ(login("", "device-7", for_empty_id), 5) << "the token names \"\", mosquitto assigned another ID";
  EXPECT_NE(testing::read_file(broker.log_path())
                .find("mqseal: refused CONNECT of user 'device-7' (client 'auto-"),
            std::string::npos)
      << broker.log();
}

// A will message is a publish too: on a protected topic, a plaintext will
// (published by the broker when its client goes without DISCONNECT) is
// refused like any other plaintext publish.
TEST(MosquittoPlugin, ProtectedTopicsRefuseAPlaintextWill) {
  Deployment s;
  testing::Broker broker(s.options(/*protect=*/true));
  ASSERT_TRUE(broker.running()) << broker.log();
  MQTTClient watcher = nullptr;
  ASSERT_EQ(connect(broker, "watcher", "legacy", "legacy-password", &watcher), 0) << broker.log();
  ASSERT_EQ(MQTTClient_subscribe(watcher, "plant/#", 1), MQTTCLIENT_SUCCESS);
  // CONNECT with username, password and a will (QoS 0, not retained), clean session.
  constexpr uint8_t kFlags = 0x80 | 0x40 | 0x04 | 0x02;
  const std::string body = testing::mqtt_string("MQTT") + std::string{4, static_cast<char>(kFlags), 0, 60} +
                           testing::mqtt_string("will-client") + testing::mqtt_string("plant/9/status") +
                           testing::mqtt_string("offline, in plaintext") + testing::mqtt_string("legacy") +
                           testing::mqtt_string("legacy-password");
  const int fd = testing::connect_loopback(broker.port(), 5000);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::send_all(fd, testing::mqtt_packet(0x10, body)));
  unsigned char connack[4] = {};
  ASSERT_EQ(recv(fd, connack, sizeof connack, MSG_WAITALL), 4);
  ASSERT_EQ(connack[3], 0) << broker.log();
  close(fd);  // no DISCONNECT: the broker publishes the will
  EXPECT_EQ(topic_of_any_arrival(watcher, 2000), "") << "a plaintext will was published on a protected topic";
  MQTTClient_disconnect(watcher, 1000);
  MQTTClient_destroy(&watcher);
  EXPECT_NE(testing::read_file(broker.log_path())
                .find("refused an unsealed 21-byte publish on protected topic 'plant/9/status' from 'will-client'"),
            std::string::npos)
      << broker.log();
}

// mosquitto reloads its configuration on SIGHUP (what an operator does after
// provisioning a device). The plugin read the credentials file only at start:
// a new device needed a restart, which with the memory store forgets every
// token accepted (each could then be replayed once). Now a reload reads the
// file again and keeps the replay store: a token accepted before the reload
// is still refused after it, and a device provisioned since logs in (and
// owns its client ID from then on: no other login may use it). A file
// that does not load, or more devices than a file store was sized for, keeps
// the devices loaded before.
TEST(MosquittoPlugin, ASighupReloadsTheCredentialsAndKeepsWhatWasAccepted) {
  Deployment s;
  testing::TempDir store_dir;
  // The file store sized at start for the devices then, and for
  // plugin_opt_max_devices 2 (room for a device provisioned later).
  for (const int pass : {0, 1, 2}) {
    const bool file_store = pass > 0;
    const bool room_for_more = pass == 2;
    SCOPED_TRACE(!file_store ? "memory store" : room_for_more ? "file store, max_devices 2" : "file store");
    Credentials only7;
    testing::expect_ok(only7.add(s.device.record));
    testing::expect_ok(only7.save(s.credentials_file));
    chmod(s.credentials_file.c_str(), 0644);
    testing::BrokerOptions options = s.options();
    const std::string store_file = store_dir.file("replay");
    if (file_store) {
      // The broker runs as this test's user (`user root` when that is root):
      // the store's directory stays 0700, as the plugin requires of it.
      options.extra_config.push_back("plugin_opt_replay_store file:" + store_file);
      if (room_for_more) options.extra_config.push_back("plugin_opt_max_devices 2");
    }
    testing::Broker broker(options);
    ASSERT_TRUE(broker.running()) << broker.log();
    auto reload = [&](const std::string& expected) {
      ASSERT_EQ(kill(broker.pid(), SIGHUP), 0);
      for (int i = 0; i < 50 && testing::read_file(broker.log_path()).find(expected) == std::string::npos; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      ASSERT_NE(testing::read_file(broker.log_path()).find(expected), std::string::npos) << broker.log();
      ASSERT_TRUE(broker.running()) << broker.log();
    };
    const std::string good = token(s, "device-7");
    ASSERT_EQ(connect(broker, "device-7", "device-7", good), 0) << broker.log();
    // A device that stays connected across the reloads: mosquitto checks
    // every connected client's username and password again at a reload; its
    // token, used once already, must not disconnect it (as replay) then.
    MQTTClient staying = nullptr;
    ASSERT_EQ(connect(broker, "device-7/staying", "device-7", token(s, "device-7/staying"), &staying), 0)
        << broker.log();
    // Connected, as a QoS 1 publish acknowledged shows (the sync client
    // learns of a lost connection only through a call).
    auto alive = [](MQTTClient client, const char* topic) {
      MQTTClient_deliveryToken t = 0;
      const std::string payload = "still here";
      return MQTTClient_isConnected(client) != 0 &&
             MQTTClient_publish(client, topic, static_cast<int>(payload.size()), payload.data(), 1, 0, &t) ==
                 MQTTCLIENT_SUCCESS &&
             MQTTClient_waitForCompletion(client, t, 5000) == MQTTCLIENT_SUCCESS;
    };
    auto still_connected = [&] { return alive(staying, "plant/7/x"); };
    EXPECT_EQ(connect(broker, "device-8", "legacy", "legacy-password"), 0) << "no device owns it yet";
    Provisioned other = take(provision("device-8", "device-8 password", testing::cheap_passphrase_params(4)));
    Credentials both = take(Credentials::load(s.credentials_file, {true}));
    testing::expect_ok(both.add(other.record));
    testing::expect_ok(both.save(s.credentials_file));
    chmod(s.credentials_file.c_str(), 0644);
    auto token8 = [&] { return take(make_connect_token(other.device_secret, "device-8", "device-8")); };
    if (file_store && !room_for_more) {
      // Sized at start for one device x 64 tokens: the new device does not fit.
      ASSERT_NO_FATAL_FAILURE(reload("the replay store holds 64 claims, fewer than users x max_tokens_per_user (128) (the devices loaded before stay"));
      EXPECT_EQ(connect(broker, "device-8", "device-8", token8()), 5) << "not loaded";
      EXPECT_EQ(connect(broker, "device-8", "legacy", "legacy-password"), 0) << "no device owns it yet";
      EXPECT_EQ(connect(broker, "device-7", "device-7", good), 5) << "a token accepted before the reload";
      EXPECT_EQ(connect(broker, "device-7", "device-7", token(s, "device-7")), 0) << broker.log();
      EXPECT_TRUE(still_connected()) << broker.log();
      MQTTClient_disconnect(staying, 1000);
      MQTTClient_destroy(&staying);
      broker.stop();
      ASSERT_EQ(::unlink(store_file.c_str()), 0);
      continue;
    }
    // Connections that ended, and one taken over, are forgotten: only the one
    // staying is remembered (one entry per connected device).
    for (int i = 0; i < 5; ++i) ASSERT_EQ(connect(broker, "device-7/brief", "device-7", token(s, "device-7/brief")), 0);
    MQTTClient taken = nullptr;
    ASSERT_EQ(connect(broker, "device-7/taken", "device-7", token(s, "device-7/taken"), &taken), 0);
    ASSERT_EQ(connect(broker, "device-7/taken", "device-7", token(s, "device-7/taken")), 0) << "takes it over";
    MQTTClient_destroy(&taken);
    ASSERT_NO_FATAL_FAILURE(reload("mqseal: reload: 2 devices\n"));
    EXPECT_NE(testing::read_file(broker.log_path()).find("mqseal: reload: 1 device connections"), std::string::npos)
        << broker.log();
    EXPECT_TRUE(still_connected()) << broker.log();
    EXPECT_EQ(testing::read_file(broker.log_path()).find("refused CONNECT of user 'device-7' (client 'device-7/staying')"),
              std::string::npos)
        << broker.log();
    EXPECT_EQ(connect(broker, "device-7", "device-7", good), 5) << "a token accepted before the reload";
    EXPECT_EQ(connect(broker, "device-8", "device-8", token8()), 0) << "a device provisioned since\n" << broker.log();
    EXPECT_EQ(connect(broker, "device-8", "legacy", "legacy-password"), 5) << "device-8's client ID since the reload";
    // A file that does not load: the devices loaded before stay.
    testing::write_file(s.credentials_file, "not a credentials file\n", 0644);
    ASSERT_NO_FATAL_FAILURE(reload("(the devices loaded before stay)"));
    EXPECT_EQ(connect(broker, "device-8", "device-8", token8()), 0) << broker.log();
    EXPECT_EQ(connect(broker, "device-8/x", "legacy", "legacy-password"), 5);
    EXPECT_TRUE(still_connected()) << broker.log();
    // A device removed from the file is disconnected at the reload.
    testing::expect_ok(only7.save(s.credentials_file));  // device-7 only: device-8 removed
    chmod(s.credentials_file.c_str(), 0644);
    MQTTClient removed = nullptr;
    ASSERT_EQ(connect(broker, "device-8/removed", "device-8", take(make_connect_token(other.device_secret, "device-8",
                                                                                          "device-8/removed")),
                      &removed),
              0)
        << broker.log();
    ASSERT_NO_FATAL_FAILURE(reload("mqseal: reload: 1 devices\n"));
    EXPECT_FALSE(alive(removed, "plant/8/x")) << "a removed device's connection\n" << broker.log();
    EXPECT_TRUE(still_connected()) << broker.log();
    MQTTClient_destroy(&removed);
    MQTTClient_disconnect(staying, 1000);
    MQTTClient_destroy(&staying);
    if (file_store) {
      broker.stop();
      ASSERT_EQ(::unlink(store_file.c_str()), 0);
    }
  }
}

// A device whose connection ended but whose session lives on (clean session
// 0): mosquitto checks that session's login again at a reload, with the token
// it was made with, used once already. The plugin accepts it then (and only
// then: the same login on a new connection is a replay), so the session and
// the message queued for it survive the reload. Before, the re-check refused
// it as a replay, and mosquitto ended the ended connection a second time.
TEST(MosquittoPlugin, AnEndedConnectionsSessionSurvivesAReload) {
  Deployment s;
  testing::BrokerOptions options = s.options();
  testing::Broker broker(options);
  ASSERT_TRUE(broker.running()) << broker.log();
  const std::string id = "device-7/session";
  const std::string first = token(s, id);
  auto connect_session = [&](const std::string& password, MQTTClient& client, const std::string& as = "") {
    EXPECT_EQ(MQTTClient_create(&client, broker.address().c_str(), (as.empty() ? id : as).c_str(),
                                MQTTCLIENT_PERSISTENCE_NONE, nullptr),
              MQTTCLIENT_SUCCESS);
    MQTTClient_connectOptions o = MQTTClient_connectOptions_initializer;
    o.username = "device-7";
    o.password = password.c_str();
    o.cleansession = 0;
    o.connectTimeout = 5;
    return MQTTClient_connect(client, &o);
  };
  MQTTClient session = nullptr;
  ASSERT_EQ(connect_session(first, session), 0) << broker.log();
  ASSERT_EQ(MQTTClient_subscribe(session, "plant/7/in", 1), MQTTCLIENT_SUCCESS);
  MQTTClient_disconnect(session, 1000);  // the session stays with mosquitto
  MQTTClient_destroy(&session);
  // Each device has its own bound of remembered ended connections (32): this
  // one's further ones, here a kept session past it, are not remembered. That
  // session was refused at the reload, and mosquitto 2.0.11 then ends the
  // ended connection again, putting its session on the expiry list twice:
  // with a session expiry interval, once the session is taken over and freed,
  // the broker read freed memory at every loop (valgrind: invalid reads in
  // session_expiry__check of a context freed by context__free_disused). One
  // device could do so with its own credentials. Past the bound, its
  // sessions are now let stay at the reload's re-check too.
  for (int i = 0; i < 31; ++i) {
    const std::string brief = "device-7/brief-" + std::to_string(i);
    ASSERT_EQ(connect(broker, brief, "device-7", token(s, brief)), 0) << broker.log();
  }
  const std::string late = "device-7/late";
  MQTTClient past_bound = nullptr;
  ASSERT_EQ(connect_session(token(s, late), past_bound, late), 0) << broker.log();
  MQTTClient_disconnect(past_bound, 1000);
  MQTTClient_destroy(&past_bound);
  MQTTClient publisher = nullptr;
  ASSERT_EQ(connect(broker, "device-7/pub", "device-7", token(s, "device-7/pub"), &publisher), 0) << broker.log();
  MQTTClient_deliveryToken delivered = 0;
  const std::string queued = "queued while away";
  ASSERT_EQ(MQTTClient_publish(publisher, "plant/7/in", static_cast<int>(queued.size()), queued.data(), 1, 0,
                               &delivered),
            MQTTCLIENT_SUCCESS);
  ASSERT_EQ(MQTTClient_waitForCompletion(publisher, delivered, 5000), MQTTCLIENT_SUCCESS);
  ASSERT_EQ(kill(broker.pid(), SIGHUP), 0);
  for (int i = 0; i < 50 && testing::read_file(broker.log_path()).find("mqseal: reload: 1 devices") == std::string::npos;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // mosquitto's re-check follows the reload line
  ASSERT_TRUE(broker.running()) << broker.log();
  const std::string log = testing::read_file(broker.log_path());
  EXPECT_NE(log.find("mqseal: reload: 1 device connections, 32 ended ones' logins"), std::string::npos) << log;
  EXPECT_EQ(log.find("refused CONNECT of user 'device-7' (client '" + late + "')"), std::string::npos)
      << "the session past the device's bound was refused at the reload\n" << log;
  EXPECT_EQ(log.find("refused CONNECT of user 'device-7' (client '" + id + "')"), std::string::npos)
      << "the ended connection's session was refused at the reload\n" << log;
  // Its token on a new connection is a replay, reload or not; a fresh token
  // takes the session back, with the message queued for it.
  EXPECT_EQ(connect(broker, id, "device-7", first), 5) << broker.log();
  ASSERT_EQ(connect_session(token(s, id), session), 0) << broker.log();
  char* topic = nullptr;
  int topic_len = 0;
  MQTTClient_message* message = nullptr;
  ASSERT_EQ(MQTTClient_receive(session, &topic, &topic_len, &message, 5000), MQTTCLIENT_SUCCESS);
  ASSERT_NE(message, nullptr) << "the queued message was lost with the session\n" << broker.log();
  EXPECT_EQ(std::string(static_cast<const char*>(message->payload), static_cast<size_t>(message->payloadlen)), queued);
  MQTTClient_freeMessage(&message);
  MQTTClient_free(topic);
  MQTTClient_disconnect(session, 1000);
  MQTTClient_destroy(&session);
  MQTTClient_disconnect(publisher, 1000);
  MQTTClient_destroy(&publisher);
  // A second reload: the session past the bound, still kept, still not refused.
  ASSERT_EQ(kill(broker.pid(), SIGHUP), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  ASSERT_TRUE(broker.running()) << broker.log();
  const std::string second = testing::read_file(broker.log_path());
  EXPECT_NE(second.find("mqseal: reload: 1 devices"), second.rfind("mqseal: reload: 1 devices")) << second;
  EXPECT_EQ(second.find("refused CONNECT of user 'device-7' (client '" + late + "')"), std::string::npos)
      << "the session past the device's bound was refused at the second reload\n" << second;
}

}  // namespace
}  // namespace mqseal

namespace mqseal {
namespace {

// A websockets connection to 127.0.0.1:port on a raw socket, upgraded with
// the "mqtt" subprotocol: the socket once the broker answered 101, or -1.
int open_websocket(int port) {
  const int fd = testing::connect_loopback(port, 5000);
  if (fd < 0) return -1;
  const std::string upgrade =
      "GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n";
  std::string answer;
  char c = 0;
  const bool sent = testing::send_all(fd, upgrade);
  while (sent && answer.find("\r\n\r\n") == std::string::npos && answer.size() < 4096) {
    if (recv(fd, &c, 1, 0) != 1) break;
    answer += c;
  }
  if (answer.find(" 101 ") == std::string::npos) {
    close(fd);
    return -1;
  }
  return fd;
}

// `bytes` as one masked binary websockets frame (a client's frames are masked).
std::string websocket_frame(const std::string& bytes) {
  constexpr unsigned char kFinBinary = 0x82;
  constexpr unsigned char kMasked = 0x80;
  constexpr size_t kShortLength = 126;
  const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
  std::string frame(1, static_cast<char>(kFinBinary));
  if (bytes.size() < kShortLength) {
    frame += static_cast<char>(kMasked | bytes.size());
  } else {
    frame += static_cast<char>(kMasked | kShortLength);
    frame += static_cast<char>(bytes.size() >> 8);
    frame += static_cast<char>(bytes.size() & 0xff);
  }
  frame.append(reinterpret_cast<const char*>(mask), sizeof mask);
  for (size_t i = 0; i < bytes.size(); ++i) frame += static_cast<char>(bytes[i] ^ mask[i % 4]);
  return frame;
}

// The return code of the CONNACK the broker sends on websockets `fd`, or -1.
int websocket_connack_code(int fd) {
  unsigned char frame[6] = {};  // the frame's header (binary, length 4), then the CONNACK
  if (recv(fd, frame, sizeof frame, MSG_WAITALL) != static_cast<ssize_t>(sizeof frame)) return -1;
  if (frame[0] != 0x82 || frame[1] != 4 || frame[2] != 0x20) return -1;
  return frame[5];
}

bool stopped(int pid) {
  const std::string stat = testing::read_file("/proc/" + std::to_string(pid) + "/stat");
  const size_t end = stat.rfind(')');
  return end != std::string::npos && end + 2 < stat.size() && stat[end + 2] == 'T';
}

// mosquitto 2.0's main loop serves websockets connections (lws_service)
// after a reload and before the tick that ends the plugin's reload window,
// in which the login of an ended connection is accepted for mosquitto's
// re-check of its session. Debian 12's mosquitto 2.0.11 is built with
// libwebsockets: a captured CONNECT of such a device (its token used once),
// sent over websockets to arrive in the loop pass of a SIGHUP, was accepted
// again. The broker is stopped while the CONNECT arrives and the SIGHUP is
// sent, so that both are handled in the same pass.
TEST(MosquittoPlugin, ACapturedConnectOverWebsocketsInAReloadIsARefusedReplay) {
  Deployment s;
  testing::BrokerOptions options = s.options();
  const int ws_port = testing::detail::free_port();
  ASSERT_NE(ws_port, 0);
  options.extra_config.push_back("listener " + std::to_string(ws_port) + " 127.0.0.1");
  options.extra_config.push_back("protocol websockets");
  testing::Broker broker(options);
  ASSERT_TRUE(broker.running()) << broker.log();
  const std::string id = "device-7/session";
  const std::string captured = token(s, id);
  MQTTClient session = nullptr;
  ASSERT_EQ(MQTTClient_create(&session, broker.address().c_str(), id.c_str(), MQTTCLIENT_PERSISTENCE_NONE, nullptr),
            MQTTCLIENT_SUCCESS);
  MQTTClient_connectOptions o = MQTTClient_connectOptions_initializer;
  o.username = "device-7";
  o.password = captured.c_str();
  o.cleansession = 0;  // its session stays with mosquitto, checked again at every reload
  o.connectTimeout = 5;
  ASSERT_EQ(MQTTClient_connect(session, &o), MQTTCLIENT_SUCCESS) << broker.log();
  MQTTClient_disconnect(session, 1000);
  MQTTClient_destroy(&session);
  const std::string replay = testing::connect_packet(id, "device-7", captured);
  {  // outside a reload: a replay, over websockets as over TCP
    const int fd = open_websocket(ws_port);
    ASSERT_GE(fd, 0) << broker.log();
    ASSERT_TRUE(testing::send_all(fd, websocket_frame(replay)));
    EXPECT_EQ(websocket_connack_code(fd), 5) << broker.log();
    close(fd);
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    const int fd = open_websocket(ws_port);
    ASSERT_GE(fd, 0) << broker.log();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the broker idle, waiting for sockets
    ASSERT_EQ(kill(broker.pid(), SIGSTOP), 0);
    for (int i = 0; i < 100 && !stopped(broker.pid()); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_TRUE(testing::send_all(fd, websocket_frame(replay)));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_EQ(kill(broker.pid(), SIGHUP), 0);
    ASSERT_EQ(kill(broker.pid(), SIGCONT), 0);
    EXPECT_NE(websocket_connack_code(fd), 0) << "the captured CONNECT was accepted again (attempt " << attempt
                                             << ")\n" << broker.log();
    close(fd);
  }
  // A device's own session, its connection over websockets ended, is still
  // not refused at a reload (mosquitto's re-check of it).
  const std::string ws_id = "device-7/ws";
  {
    const int fd = open_websocket(ws_port);
    ASSERT_GE(fd, 0) << broker.log();
    constexpr char kUsernamePasswordKeepSession = static_cast<char>(0xC0);
    constexpr uint8_t kConnect = 0x10;
    const std::string keep_session = testing::mqtt_packet(
        kConnect, testing::mqtt_string("MQTT") + std::string{4, kUsernamePasswordKeepSession, 0, 60} +
                      testing::mqtt_string(ws_id) + testing::mqtt_string("device-7") +
                      testing::mqtt_string(token(s, ws_id)));
    ASSERT_TRUE(testing::send_all(fd, websocket_frame(keep_session)));
    ASSERT_EQ(websocket_connack_code(fd), 0) << broker.log();
    constexpr char kDisconnect[] = {static_cast<char>(0xE0), 0};
    ASSERT_TRUE(testing::send_all(fd, websocket_frame(std::string(kDisconnect, sizeof kDisconnect))));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    close(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(kill(broker.pid(), SIGHUP), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(broker.running()) << broker.log();
  const std::string log = testing::read_file(broker.log_path());
  EXPECT_NE(log.find("ended ones' logins"), std::string::npos) << log;
  EXPECT_EQ(log.find("(client '" + ws_id + "')"), std::string::npos) << log;
}

}  // namespace
}  // namespace mqseal

namespace mqseal {
namespace {

// A device removed from the credentials file, its connection ended, its
// session kept by mosquitto (here an MQTT 5 one with a session expiry
// interval): the plugin deferred mosquitto's re-check of that session at the
// reload (no longer its user), mosquitto refused it and ended the ended
// connection a second time, which put the session on mosquitto 2.0.11's
// expiry list twice (taken over and freed, the broker then read freed
// memory: valgrind). The session stays, as it did anyway (mosquitto keeps it
// until it expires; only a new login, checked as every login, reaches it).
TEST(MosquittoPlugin, ARemovedDevicesKeptSessionIsNotEndedAgainAtTheReload) {
  TwoDevices s;
  testing::Broker broker(s.options());
  ASSERT_TRUE(broker.running()) << broker.log();
  const std::string id = "device-8/kept";
  const int fd = testing::connect_loopback(broker.port(), 3000);
  ASSERT_GE(fd, 0);
  constexpr char kUsernamePasswordKeepSession = static_cast<char>(0xC0);
  constexpr char kSessionExpiryInterval = 0x11;
  const std::string properties = {kSessionExpiryInterval, 0, 0, 0, 60};
  const std::string connect5 = testing::mqtt_packet(
      0x10, testing::mqtt_string("MQTT") + std::string{5, kUsernamePasswordKeepSession, 0, 60} +
                static_cast<char>(properties.size()) + properties + testing::mqtt_string(id) +
                testing::mqtt_string("device-8") + testing::mqtt_string(s.token8(id)));
  ASSERT_TRUE(testing::send_all(fd, connect5));
  unsigned char connack[16] = {};
  ASSERT_GE(recv(fd, connack, sizeof connack, 0), 4);
  ASSERT_EQ(connack[3], 0) << broker.log();
  const char disconnect[] = {static_cast<char>(0xE0), 0};
  ASSERT_TRUE(testing::send_all(fd, std::string(disconnect, sizeof disconnect)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  close(fd);
  Credentials only7;
  testing::expect_ok(only7.add(s.device.record));
  testing::expect_ok(only7.save(s.credentials_file));
  chmod(s.credentials_file.c_str(), 0644);
  ASSERT_EQ(kill(broker.pid(), SIGHUP), 0);
  for (int i = 0; i < 50 && testing::read_file(broker.log_path()).find("mqseal: reload: 1 devices") == std::string::npos;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(broker.running()) << broker.log();
  const std::string log = testing::read_file(broker.log_path());
  const std::string ended = "Client " + id + " disconnected.";
  EXPECT_NE(log.find(ended), std::string::npos) << log;
  EXPECT_EQ(log.find(ended), log.rfind(ended)) << "the ended connection was ended again at the reload\n" << log;
  EXPECT_EQ(connect(broker, "device-8/kept", "device-8", s.token8("device-8/kept")), 5) << "removed: refused";
}

}  // namespace
}  // namespace mqseal
