// The harness itself, against real mosquitto, mosquitto_pub, mosquitto_sub and openssl processes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "broker.h"
#include "certs.h"

namespace mqseal::testing {
namespace {

constexpr int kCollectTimeoutMs = 3'000;   // generous: the happy paths finish as soon as the messages arrive
constexpr int kSilenceTimeoutMs = 300;     // when no message is expected
constexpr int kAllByteValues = 256;

bool accepts_connections(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool connected = connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return connected;
}

std::string binary_payload() {
  std::string payload("a\0b\xff", 4);
  payload += '\n';
  for (int value = 0; value < kAllByteValues; ++value) payload += static_cast<char>(value);
  return payload;
}

TEST(Broker, PlainBrokerStartsAndAcceptsConnections) {
  Broker broker;
  ASSERT_TRUE(broker.running()) << broker.log();
  EXPECT_GT(broker.port(), 0);
  EXPECT_EQ(broker.address(), "tcp://127.0.0.1:" + std::to_string(broker.port()));
  const CommandResult result = publish(broker, "mqseal/test/hello", "hello");
  EXPECT_TRUE(result.ok()) << result.describe();
  EXPECT_NE(broker.log().find("mosquitto version"), std::string::npos) << broker.log();
}

TEST(Broker, TwoBrokersGetDifferentPorts) {
  Broker first;
  Broker second;
  ASSERT_TRUE(first.running()) << first.log();
  ASSERT_TRUE(second.running()) << second.log();
  EXPECT_NE(first.port(), second.port());
}

TEST(Broker, BinaryPayloadRoundTrip) {
  Broker broker;
  ASSERT_TRUE(broker.running()) << broker.log();
  const std::string topic = "mqseal/test/binary";
  Eavesdropper eavesdropper(broker, topic, 3, kCollectTimeoutMs);
  ASSERT_TRUE(eavesdropper.subscribed());
  const std::vector<std::string> sent = {binary_payload(), "", std::string(1, '\0')};
  for (const auto& payload : sent) {
    const CommandResult result = publish(broker, topic, payload);
    ASSERT_TRUE(result.ok()) << result.describe();
  }
  EXPECT_EQ(eavesdropper.wait(), sent) << eavesdropper.errors();
}

TEST(Broker, EavesdropperStopsAtItsTimeLimit) {
  Broker broker;
  ASSERT_TRUE(broker.running()) << broker.log();
  Eavesdropper eavesdropper(broker, "mqseal/test/silence", 1, kSilenceTimeoutMs);
  ASSERT_TRUE(eavesdropper.subscribed());
  ASSERT_TRUE(publish(broker, "mqseal/test/elsewhere", "not for it").ok());
  EXPECT_TRUE(eavesdropper.wait().empty()) << eavesdropper.errors();
}

TEST(Broker, StopAndRestartOnTheSamePort) {
  Broker broker;
  ASSERT_TRUE(broker.running()) << broker.log();
  const int port = broker.port();
  broker.stop();
  EXPECT_FALSE(broker.running());
  broker.stop();  // idempotent
  EXPECT_FALSE(publish(broker, "mqseal/test/down", "nobody there").ok());

  broker.restart();
  ASSERT_TRUE(broker.running()) << broker.log();
  EXPECT_EQ(broker.port(), port);
  Eavesdropper eavesdropper(broker, "mqseal/test/up", 1, kCollectTimeoutMs);
  ASSERT_TRUE(publish(broker, "mqseal/test/up", "back").ok());
  EXPECT_EQ(eavesdropper.wait(), std::vector<std::string>{"back"}) << eavesdropper.errors();
}

// A broker that never started is not started by restart() either (it used to
// try kRestartAttempts times more, each waiting for a broker that cannot come).
TEST(Broker, RestartAfterAFailedStartDoesNotTryAgain) {
  BrokerOptions options;
  options.extra_config = {"no_such_mosquitto_option 1"};
  std::unique_ptr<Broker> broker;
  EXPECT_NONFATAL_FAILURE(broker = std::make_unique<Broker>(options), "mosquitto did not start");
  ASSERT_NE(broker, nullptr);
  const std::string log_before = broker->log();
  EXPECT_NONFATAL_FAILURE(broker->restart(), "the broker never started");
  EXPECT_EQ(broker->log(), log_before) << "restart() launched mosquitto again";
  EXPECT_FALSE(broker->running());
}

TEST(Broker, DestructorLeavesNoProcess) {
  int pid = -1;
  int port = 0;
  {
    Broker broker;
    ASSERT_TRUE(broker.running()) << broker.log();
    pid = broker.pid();
    port = broker.port();
  }
  ASSERT_GT(pid, 0);
  errno = 0;
  EXPECT_EQ(kill(pid, 0), -1);  // reaped, not just a zombie
  EXPECT_EQ(errno, ESRCH);
  EXPECT_FALSE(accepts_connections(port));
}

TEST(Broker, ExtraConfigCanDisallowAnonymous) {
  BrokerOptions options;
  options.extra_config = {"allow_anonymous false"};
  Broker broker(options);
  ASSERT_TRUE(broker.running()) << broker.log();
  const CommandResult result = publish(broker, "mqseal/test/anonymous", "refused");
  EXPECT_FALSE(result.ok()) << result.describe();
}

// One CA and set of certificates for all TLS tests (openssl is fast, but not free).
class TlsBroker : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string pattern = (std::filesystem::temp_directory_path() / "mqseal-certs-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    certs_ = std::make_unique<CertificateSet>(generate_certificates(pattern));
  }
  static void TearDownTestSuite() {
    if (certs_ && !certs_->dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(certs_->dir, ec);
    }
    certs_.reset();
  }
  void SetUp() override { ASSERT_TRUE(certs_ && certs_->ok()); }

  static const CertificateSet& certs() { return *certs_; }

 private:
  static std::unique_ptr<CertificateSet> certs_;
};
std::unique_ptr<CertificateSet> TlsBroker::certs_;

TEST_F(TlsBroker, ServerCertificateVerifiesAgainstTheCa) {
  const CommandResult verified = run_command({"openssl", "verify", "-CAfile", certs().ca_cert, certs().server_cert});
  EXPECT_TRUE(verified.ok()) << verified.describe();
  const CommandResult client = run_command({"openssl", "verify", "-CAfile", certs().ca_cert, certs().client_cert});
  EXPECT_TRUE(client.ok()) << client.describe();
  const CommandResult other =
      run_command({"openssl", "verify", "-CAfile", certs().ca_cert, certs().other_client_cert});
  EXPECT_FALSE(other.ok()) << other.describe();
  const CommandResult names =
      run_command({"openssl", "x509", "-in", certs().server_cert, "-noout", "-subject", "-ext", "subjectAltName"});
  ASSERT_TRUE(names.ok()) << names.describe();
  EXPECT_NE(names.out.find("CN = localhost"), std::string::npos) << names.out;
  EXPECT_NE(names.out.find("IP Address:127.0.0.1"), std::string::npos) << names.out;
  EXPECT_NE(names.out.find("DNS:localhost"), std::string::npos) << names.out;
}

TEST_F(TlsBroker, RequiresAClientCertificateFromItsCa) {
  Broker broker(tls_broker_options(certs(), true, true));
  ASSERT_TRUE(broker.running()) << broker.log();
  EXPECT_EQ(broker.address(), "ssl://127.0.0.1:" + std::to_string(broker.port()));
  const std::string topic = "mqseal/test/tls";
  Eavesdropper eavesdropper(broker, certs(), topic, 2, kCollectTimeoutMs);
  ASSERT_TRUE(eavesdropper.subscribed());

  const CommandResult good = publish(broker, client_tls(certs()), topic, "with the right cert");
  EXPECT_TRUE(good.ok()) << good.describe() << broker.log();
  const CommandResult none = publish(broker, no_client_cert_tls(certs()), topic, "without a cert");
  EXPECT_FALSE(none.ok()) << none.describe();
  const CommandResult other = publish(broker, other_client_tls(certs()), topic, "with a cert from another CA");
  EXPECT_FALSE(other.ok()) << other.describe();
  const CommandResult last = publish(broker, client_tls(certs()), topic, binary_payload());
  EXPECT_TRUE(last.ok()) << last.describe();

  EXPECT_EQ(eavesdropper.wait(), (std::vector<std::string>{"with the right cert", binary_payload()}))
      << eavesdropper.errors();
  EXPECT_NE(broker.log().find("u'device-1'"), std::string::npos) << broker.log();  // use_identity_as_username
}

}  // namespace
}  // namespace mqseal::testing
