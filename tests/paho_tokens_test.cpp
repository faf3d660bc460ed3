// mqseal::paho::use_connect_tokens against a real mosquitto with mqseal_auth.so:
// the first connect and every automatic reconnect present a fresh token.
#include <MQTTAsync.h>
#include <gtest/gtest.h>
#include <mqseal/credentials.h>
#include <mqseal/paho/async.h>
#include <sys/stat.h>

#include <chrono>
#include <string>
#include <thread>
#include <utility>

#include "sanitizer_preload.h"
#include "broker.h"
#include "paho_test_util.h"
#include "test_util.h"

namespace mqseal {
namespace {

using testing::take;

TEST(PahoConnectTokens, EveryReconnectPresentsAFreshToken) {
  testing::TempDir dir;
  PassphraseParams params;
  params.opslimit = 1;
  params.memlimit = 8192;
  Provisioned device = take(provision("device-7", "a password", params));
  Credentials credentials;
  testing::expect_ok(credentials.add(device.record));
  const std::string credentials_file = dir.file("mqseal.credentials");
  testing::expect_ok(credentials.save(credentials_file));
  chmod(dir.path().c_str(), 0755);  // mosquitto reads it after dropping to its own user
  chmod(credentials_file.c_str(), 0644);
  testing::BrokerOptions options;
  options.extra_config = {"allow_anonymous false", "plugin " + std::string(MQSEAL_PLUGIN),
                          "plugin_opt_credentials_file " + credentials_file,
                          "plugin_opt_allow_insecure_permissions true"};
  testing::Broker broker(options);
  ASSERT_TRUE(broker.running()) << broker.log();

  auto keys = std::make_shared<Keyring>();
  testing::expect_ok(keys->add_with_id("connect", 1, take(device.device_secret.clone())));
  testing::AsyncTestClient client(broker.address(), "device-7");
  std::unique_ptr<paho::ConnectTokens> tokens =
      take(paho::use_connect_tokens(client.handle(), keys, "connect", "device-7", "device-7"));
  MQTTAsync_connectOptions connect = MQTTAsync_connectOptions_initializer;
  connect.automaticReconnect = 1;
  connect.minRetryInterval = 1;
  connect.maxRetryInterval = 1;
  testing::expect_ok(tokens->prepare(connect));
  ASSERT_TRUE(client.connect(connect)) << broker.log();
  EXPECT_EQ(tokens->tokens_made(), 1u);

  // Another connection with the same client ID takes the session over, so the
  // broker drops the first one and Paho reconnects by itself. The broker keeps
  // running, so a resent token would be refused as a replay: only a fresh one
  // gets back in.
  {
    testing::AsyncTestClient intruder(broker.address(), "device-7");
    const std::string token = take(make_connect_token(device.device_secret, "device-7", "device-7"));
    MQTTAsync_connectOptions takeover = MQTTAsync_connectOptions_initializer;
    takeover.username = "device-7";
    takeover.password = token.c_str();
    ASSERT_TRUE(intruder.connect(takeover)) << broker.log();
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!(MQTTAsync_isConnected(client.handle()) && tokens->tokens_made() >= 2) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(MQTTAsync_isConnected(client.handle())) << broker.log();
  EXPECT_GE(tokens->tokens_made(), 2u);
  EXPECT_EQ(testing::read_file(broker.log_path()).find("refused CONNECT"), std::string::npos) << broker.log();
}

TEST(PahoConnectTokens, NeedsAPrimaryKey) {
  auto keys = std::make_shared<Keyring>();
  MQTTAsync handle = nullptr;
  ASSERT_EQ(MQTTAsync_create(&handle, "tcp://127.0.0.1:1", "x", MQTTCLIENT_PERSISTENCE_NONE, nullptr), 0);
  EXPECT_EQ(paho::use_connect_tokens(handle, keys, "connect", "device-7", "x").error(), Errc::no_primary_key);
  EXPECT_EQ(paho::use_connect_tokens(handle, nullptr, "connect", "device-7", "x").error(), Errc::invalid_argument);
  MQTTAsync_destroy(&handle);
}

// Names no token could verify for (make_connect_token's rules) are refused
// when the tokens are set up, not at the connect: before, "device-7\0x" was
// taken, and each CONNECT carried username "device-7" (Paho sends C
// strings) with a token made for "device-7\0x", refused by the broker. So
// are client IDs mosquitto closes the connection for (a control character,
// a noncharacter), and an empty one, which mosquitto replaces with one of its
// own before the plugin checks the token (as the Python binding's
// ConnectTokens refuses it): all three were taken before.
TEST(PahoConnectTokens, RefusesNamesNoTokenCouldVerifyForAtOnce) {
  using namespace std::string_literals;
  auto keys = std::make_shared<Keyring>();
  (void)take(keys->add("connect", take(Key::generate())));
  MQTTAsync handle = nullptr;
  ASSERT_EQ(MQTTAsync_create(&handle, "tcp://127.0.0.1:1", "x", MQTTCLIENT_PERSISTENCE_NONE, nullptr), 0);
  for (const auto& [user, client] : {std::pair{"device-7\0x"s, "device-7"s}, std::pair{"device 7"s, "device 7"s},
                                     std::pair{"device-7"s, "device-7/\xff"s}, std::pair{"device-7"s, "device-7\0"s},
                                     std::pair{"device-7"s, "device-7/\x01"s},
                                     std::pair{"device-7"s, "device-7/\xef\xbf\xbf"s}, std::pair{"device-7"s, ""s}}) {
    Result<std::unique_ptr<paho::ConnectTokens>> tokens = paho::use_connect_tokens(handle, keys, "connect", user, client);
    ASSERT_FALSE(tokens) << user << " " << client;
    EXPECT_EQ(tokens.error(), Errc::invalid_argument) << tokens.error().message();
  }
  EXPECT_EQ(paho::use_connect_tokens(handle, keys, "connect", "device-7", "").error().message(),
            "invalid argument: CONNECT tokens need a client ID: the broker would assign one, which no token can name");
  std::unique_ptr<paho::ConnectTokens> tokens = take(paho::use_connect_tokens(handle, keys, "connect", "device-7", "device-7"));
  EXPECT_EQ(tokens->tokens_made(), 0u) << "the trial token is not counted";
  MQTTAsync_destroy(&handle);
}

}  // namespace
}  // namespace mqseal
