// mqseal sub and mqseal pub, run as a user would (MQSEAL_CLI names the
// binary) against a real mosquitto on 127.0.0.1: the C++ device
// (examples/paho_publisher, MQSEAL_DEVICE) read by sub, a tampered and a
// duplicated message, pub read by sub, bad command lines, and a login with
// one-time CONNECT tokens through the mosquitto plugin (MQSEAL_PLUGIN).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <mqseal/credentials.h>
#include <mqseal/mqseal.h>
#include <mqseal/policy_file.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "sanitizer_preload.h"
#include "broker.h"
#include "test_util.h"

#ifndef MQSEAL_CLI
#error "MQSEAL_CLI must name the mqseal binary"
#endif
#ifndef MQSEAL_DEVICE
#error "MQSEAL_DEVICE must name the paho_publisher example"
#endif

namespace mqseal {
namespace {

using testing::CommandResult;
using testing::TempDir;

constexpr int kRunLimitMs = 30'000;  // far above what any command here needs
constexpr auto kSubscribeLimit = std::chrono::seconds(10);
constexpr auto kPoll = std::chrono::milliseconds(20);
constexpr const char* kTopic = "plant/7/telemetry";
constexpr const char* kPolicy =
    "version = 1\n"
    "\n"
    "[[rule]]\n"
    "filter = \"plant/+/telemetry\"\n"
    "key = \"telemetry\"\n";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A port on 127.0.0.1 that nothing listens on (bound, then released).
int unused_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  return ntohs(addr.sin_port);
}

// `mqseal sub ...` running in the background, its output in files.
class BackgroundSub {
 public:
  // A client ID as a file name ('/' as '_': device-7/sub).
  static std::string file_name(std::string client_id) {
    std::replace(client_id.begin(), client_id.end(), '/', '_');
    return client_id;
  }
  BackgroundSub(const TempDir& dir, const testing::Broker& broker, std::string client_id,
                const std::vector<std::string>& args)
      : broker_(broker), client_id_(std::move(client_id)),
        out_(dir.file(file_name(client_id_) + ".out")), err_(dir.file(file_name(client_id_) + ".err")) {
    std::vector<std::string> argv = {MQSEAL_CLI, "sub", "-h", "127.0.0.1", "-p", std::to_string(broker.port()),
                                     "-i", client_id_};
    argv.insert(argv.end(), args.begin(), args.end());
    const int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    const int out = open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int err = open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    std::string why;
    pid_ = testing::detail::spawn_process(argv, in, out, err, &why);
    EXPECT_GT(pid_, 0) << why;
    close(in);
    close(out);
    close(err);
  }
  ~BackgroundSub() {
    if (pid_ > 0) testing::detail::terminate_process(pid_, 2000);
  }
  BackgroundSub(const BackgroundSub&) = delete;
  BackgroundSub& operator=(const BackgroundSub&) = delete;

  // True once the broker has acknowledged its subscription `times` times
  // (mosquitto logs every packet; a restarted broker appends to its log).
  bool subscribed(size_t times = 1) {
    const auto deadline = std::chrono::steady_clock::now() + kSubscribeLimit;
    const std::string acknowledged = "Sending SUBACK to " + client_id_ + "\n";
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string log = broker_.log();
      size_t seen = 0;
      for (size_t at = log.find(acknowledged); at != std::string::npos; at = log.find(acknowledged, at + 1)) ++seen;
      if (seen >= times) return true;
      if (pid_ > 0 && !testing::detail::is_alive(pid_)) return false;
      std::this_thread::sleep_for(kPoll);
    }
    return false;
  }
  // Waits for it to end: its exit code (-1 if it did not end in time).
  int finish(int limit_ms = kRunLimitMs) {
    int status = 0;
    if (pid_ <= 0 || !testing::detail::wait_for_exit(pid_, limit_ms, &status)) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string out() const { return testing::detail::read_file_from(out_); }
  std::string err() const { return testing::detail::read_file_from(err_); }

 private:
  const testing::Broker& broker_;
  std::string client_id_, out_, err_;
  int pid_ = -1;
};

class CliMqtt : public ::testing::Test {
 protected:
  void SetUp() override {
    chmod(dir_.path().c_str(), 0755);  // mosquitto may read files here after dropping to its own user
    keys_ = std::make_shared<Keyring>();
    (void)testing::take(keys_->generate("telemetry"));
    testing::expect_ok(keys_->save(keyring_));
    testing::write_file(policy_, kPolicy, 0644);
  }

  // `mqseal provision device-7` (cheap Argon2id) into those two files.
  static void provision_device7(const std::string& device_keys, const std::string& creds) {
    CommandResult provisioned = testing::run_command(
        {"sh", "-c", "echo 'device password' | exec \"$0\" \"$@\"", MQSEAL_CLI, "provision", "device-7",
         "--device-keyring", device_keys, "--credentials", creds, "--opslimit", "1", "--memlimit", "8192"},
        kRunLimitMs);
    ASSERT_TRUE(provisioned.ok()) << provisioned.describe();
  }

  // `mqseal ARGS...`, to its end.
  static CommandResult run_mqseal(std::vector<std::string> args) {
    args.insert(args.begin(), MQSEAL_CLI);
    return testing::run_command(args, kRunLimitMs);
  }
  std::vector<std::string> files() const { return {"--keyring", keyring_, "--policy", policy_}; }
  std::vector<std::string> at(const testing::Broker& broker) const {
    return {"-h", "127.0.0.1", "-p", std::to_string(broker.port())};
  }
  template <typename... More>
  std::vector<std::string> args(std::vector<std::string> first, More... more) const {
    for (const std::vector<std::string>& m : {more...}) first.insert(first.end(), m.begin(), m.end());
    return first;
  }

  // An envelope sealed by another sender with the same keys, as raw bytes.
  std::string sealed(const std::string& payload) {
    if (!sealer_) {
      Result<TopicPolicy> policy = parse_policy(kPolicy);
      sealer_ = std::make_unique<Sealer>(testing::take(Sealer::create(*policy, keys_)));
    }
    std::vector<uint8_t> envelope = testing::take(sealer_->seal(kTopic, ByteView(std::string_view(payload))));
    return std::string(envelope.begin(), envelope.end());
  }

  TempDir dir_;
  std::string keyring_ = dir_.file("service.keys"), policy_ = dir_.file("policy.toml");
  std::shared_ptr<Keyring> keys_;
  std::unique_ptr<Sealer> sealer_;
};

TEST_F(CliMqtt, SubPrintsWhatTheCppDeviceSends) {
  testing::Broker broker;
  ASSERT_TRUE(broker.running());
  BackgroundSub sub(dir_, broker, "sub-device", args({"-t", "plant/+/telemetry", "-q", "1", "-v", "-C", "3"}, files()));
  ASSERT_TRUE(sub.subscribed()) << sub.err();

  CommandResult device = testing::run_command({MQSEAL_DEVICE, broker.address(), keyring_, policy_, kTopic, "3"});
  ASSERT_TRUE(device.ok()) << device.describe();
  EXPECT_EQ(sub.finish(), 0) << sub.err();
  EXPECT_EQ(sub.out(),
            "plant/7/telemetry signer= temperature=20.0 C\n"
            "plant/7/telemetry signer= temperature=21.1 C\n"
            "plant/7/telemetry signer= temperature=22.2 C\n");
  EXPECT_EQ(sub.err(), "");
}

// One byte of the tag flipped: refused with its reason on stderr, nothing on
// stdout; a duplicate is dropped quietly; the messages around them are shown.
TEST_F(CliMqtt, SubRefusesATamperedMessageAndDropsADuplicate) {
  testing::Broker broker;
  ASSERT_TRUE(broker.running());
  BackgroundSub sub(dir_, broker, "sub-tamper", args({"-t", kTopic, "-q", "1", "-C", "2"}, files()));
  ASSERT_TRUE(sub.subscribed()) << sub.err();

  const std::string first = sealed("reading one");
  std::string tampered = sealed("secret reading");
  tampered.back() = static_cast<char>(tampered.back() ^ 0x01);
  for (const std::string& raw : {first, tampered, first, sealed("reading three")}) {
    CommandResult sent = testing::publish(broker, kTopic, raw);
    ASSERT_TRUE(sent.ok()) << sent.describe();
  }
  EXPECT_EQ(sub.finish(), 0) << sub.err();
  EXPECT_EQ(sub.out(), "reading one\nreading three\n");
  EXPECT_EQ(sub.err(), "mqseal: refused authentication_failed on plant/7/telemetry: " +
                           std::string(message(Errc::authentication_failed)) + "\n");
  EXPECT_FALSE(contains(sub.out() + sub.err(), "secret"));
}

// Ctrl-C while the broker has not answered the CONNECT yet (a listener that
// never speaks MQTT) ends sub at once, not after the 10 s answer timeout.
TEST_F(CliMqtt, SubStopsOnSigintWhileConnecting) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  socklen_t length = sizeof address;
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::vector<std::string> argv = {MQSEAL_CLI, "sub", "-h", "127.0.0.1", "-p",
                                         std::to_string(ntohs(address.sin_port)), "-t", kTopic,
                                         "--keyring", keyring_, "--policy", policy_};
  const int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  std::string why;
  const pid_t pid = testing::detail::spawn_process(argv, devnull, devnull, devnull, &why);
  close(devnull);
  ASSERT_GT(pid, 0) << why;
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // connected at TCP, waiting for CONNACK
  const auto asked = std::chrono::steady_clock::now();
  ASSERT_EQ(kill(pid, SIGINT), 0);
  int status = 0;
  const bool ended = testing::detail::wait_for_exit(pid, 5000, &status);
  const auto took = std::chrono::steady_clock::now() - asked;
  if (!ended) testing::detail::terminate_process(pid, 2000);
  close(listener);
  ASSERT_TRUE(ended) << "sub did not end within 5 s of SIGINT";
  EXPECT_LT(took, std::chrono::seconds(3));
}

TEST_F(CliMqtt, PubSealsWhatSubOpens) {
  testing::Broker broker;
  ASSERT_TRUE(broker.running());
  BackgroundSub sub(dir_, broker, "sub-pub", args({"-t", "plant/#", "-q", "1", "-C", "3"}, files()));
  ASSERT_TRUE(sub.subscribed()) << sub.err();
  // On the wire: an envelope, not the payload.
  testing::Eavesdropper eavesdropper(broker, kTopic, 1, 10'000);
  ASSERT_TRUE(eavesdropper.subscribed());

  CommandResult one = run_mqseal(args({"pub", "-t", kTopic, "-q", "1", "-m", "21.5 C"}, at(broker), files()));
  ASSERT_TRUE(one.ok()) << one.describe();
  const std::vector<std::string> wire = eavesdropper.wait();
  ASSERT_EQ(wire.size(), 1u);
  EXPECT_FALSE(contains(wire[0], "21.5 C"));
  EXPECT_TRUE(testing::take(parse_policy(kPolicy)).resolve(kTopic).ok());

  const std::string lines = dir_.file("lines");
  testing::write_file(lines, "22.0 C\n\n22.5 C\n", 0600);
  CommandResult two = testing::run_command(
      {"sh", "-c", "exec \"$0\" \"$@\" < " + lines, MQSEAL_CLI, "pub", "-l", "-t", kTopic, "-q", "2", "-h",
       "127.0.0.1", "-p", std::to_string(broker.port()), "--keyring", keyring_, "--policy", policy_},
      kRunLimitMs);
  ASSERT_TRUE(two.ok()) << two.describe();
  EXPECT_EQ(sub.finish(), 0) << sub.err();
  EXPECT_EQ(sub.out(), "21.5 C\n22.0 C\n22.5 C\n");
  EXPECT_EQ(sub.err(), "");
}

// Suite 2: pub signs as --signer (a keyring with two signer names has no
// default), and sub opens what that signer may publish.
TEST_F(CliMqtt, PubSignsAsTheSignerItIsGiven) {
  testing::Broker broker;
  ASSERT_TRUE(broker.running());
  (void)testing::take(keys_->generate_signing_key("7"));
  (void)testing::take(keys_->generate_signing_key("8"));
  testing::expect_ok(keys_->save(keyring_));
  testing::write_file(policy_,
                      "[[rule]]\nfilter = \"plant/{signer}/telemetry\"\nkey = \"telemetry\"\nsuite = 2\n", 0644);
  BackgroundSub sub(dir_, broker, "sub-signed", args({"-t", "plant/#", "-q", "1", "-C", "1", "-v"}, files()));
  BackgroundSub payloads(dir_, broker, "sub-payloads", args({"-t", "plant/#", "-q", "1", "-C", "1"}, files()));
  ASSERT_TRUE(sub.subscribed()) << sub.err();
  ASSERT_TRUE(payloads.subscribed()) << payloads.err();

  CommandResult unsigned_pub = run_mqseal(args({"pub", "-t", kTopic, "-q", "1", "-m", "x"}, at(broker), files()));
  EXPECT_EQ(unsigned_pub.exit_code, 1) << unsigned_pub.describe();
  CommandResult other = run_mqseal(
      args({"pub", "--signer", "8", "-t", kTopic, "-q", "1", "-m", "x"}, at(broker), files()));
  EXPECT_EQ(other.exit_code, 1) << other.describe();
  EXPECT_TRUE(contains(other.err, message(Errc::unauthorized_signer))) << other.describe();
  // Device 8 signs for plant/7 under a policy of its own, and publishes it
  // raw: the signature verifies, the rule refuses 8 there, and the refused
  // line names the verified signer before the topic.
  TopicPolicy forging;
  testing::expect_ok(forging.add_signed_rule("plant/+/telemetry", "telemetry", {"8"}));
  SealerOptions as_8;
  as_8.signer = "8";
  Sealer thief = testing::take(Sealer::create(forging, keys_, as_8));
  const std::vector<uint8_t> forged = testing::take(thief.seal(kTopic, ByteView(std::string_view("open"))));
  CommandResult sent = testing::publish(broker, kTopic, std::string(forged.begin(), forged.end()));
  ASSERT_TRUE(sent.ok()) << sent.describe();
  CommandResult signed_pub = run_mqseal(
      args({"pub", "--signer", "7", "-t", kTopic, "-q", "1", "-m", "21.5 C"}, at(broker), files()));
  ASSERT_TRUE(signed_pub.ok()) << signed_pub.describe();
  EXPECT_EQ(sub.finish(), 0) << sub.err();
  EXPECT_EQ(sub.out(), "plant/7/telemetry signer=7 21.5 C\n");  // -v names the verified signer
  const std::string refusal = "mqseal: refused unauthorized_signer signer=8 on plant/7/telemetry: " +
                              std::string(message(Errc::unauthorized_signer)) + "\n";
  EXPECT_EQ(sub.err(), refusal);
  EXPECT_EQ(payloads.finish(), 0) << payloads.err();
  EXPECT_EQ(payloads.out(), "21.5 C\n");  // without -v, the payload alone, as mosquitto_sub
  EXPECT_EQ(payloads.err(), refusal);
}

// Suites 3 and 4, keys made and exchanged with the tool itself: the backend's
// recipient key pair (keygen --type recipient), its public half imported by
// the device, the device's signing key imported by the backend. pub seals to
// the recipient as the policy says; the backend's sub opens everything, the
// device's own sub (same symmetric key, only the recipient's public key)
// refuses both sealed messages with the reason and opens the suite 1 one.
TEST_F(CliMqtt, PubSealsToTheRecipientAndOnlyTheBackendsSubOpens) {
  testing::Broker broker;
  ASSERT_TRUE(broker.running());
  const std::string backend = dir_.file("backend.keys"), backend_pub = dir_.file("backend.pub"),
                    device_pub = dir_.file("device.pub");
  testing::expect_ok(keys_->save(backend));  // the telemetry key, as provisioning would copy it
  for (const std::vector<std::string>& made : std::vector<std::vector<std::string>>{
           {"keygen", "--type", "recipient", backend, "backend"}, {"keygen", "--type", "sign", keyring_, "7"}}) {
    CommandResult r = run_mqseal(made);
    ASSERT_TRUE(r.ok()) << r.describe();
  }
  CommandResult exported = run_mqseal({"pubkey", "export", backend});
  ASSERT_TRUE(exported.ok()) << exported.describe();
  testing::write_file(backend_pub, exported.out, 0644);
  exported = run_mqseal({"pubkey", "export", keyring_});
  ASSERT_TRUE(exported.ok()) << exported.describe();
  testing::write_file(device_pub, exported.out, 0644);
  for (const std::vector<std::string>& imported : std::vector<std::vector<std::string>>{
           {"pubkey", "import", keyring_, backend_pub}, {"pubkey", "import", backend, device_pub}}) {
    CommandResult r = run_mqseal(imported);
    ASSERT_TRUE(r.ok()) << r.describe();
  }
  testing::write_file(policy_,
                      std::string(kPolicy) +
                          "[[rule]]\nfilter = \"plant/+/report\"\nrecipient = \"backend\"\n"
                          "[[rule]]\nfilter = \"plant/{signer}/private\"\nrecipient = \"backend\"\nsuite = 4\n",
                      0644);

  BackgroundSub backend_sub(dir_, broker, "sub-backend",
                            std::vector<std::string>{"-t", "plant/#", "-q", "1", "-C", "3", "-v", "--keyring", backend,
                                                     "--policy", policy_});
  BackgroundSub device_sub(dir_, broker, "sub-device", args({"-t", "plant/#", "-q", "1", "-C", "1", "-v"}, files()));
  ASSERT_TRUE(backend_sub.subscribed()) << backend_sub.err();
  ASSERT_TRUE(device_sub.subscribed()) << device_sub.err();
  for (const auto& [topic, text] : std::vector<std::pair<std::string, std::string>>{
           {"plant/7/report", "valve 3 worn"}, {"plant/7/private", "door code changed"}, {kTopic, "21.5 C"}}) {
    CommandResult sent = run_mqseal(args({"pub", "-t", topic, "-q", "1", "-m", text}, at(broker), files()));
    ASSERT_TRUE(sent.ok()) << sent.describe();
  }
  EXPECT_EQ(backend_sub.finish(), 0) << backend_sub.err();
  EXPECT_EQ(backend_sub.out(), "plant/7/report signer= valve 3 worn\nplant/7/private signer=7 door code changed\n"
                               "plant/7/telemetry signer= 21.5 C\n");
  EXPECT_EQ(device_sub.finish(), 0) << device_sub.err();
  EXPECT_EQ(device_sub.out(), "plant/7/telemetry signer= 21.5 C\n");
  for (const char* topic : {"plant/7/report", "plant/7/private"}) {
    EXPECT_TRUE(contains(device_sub.err(), std::string("refused unknown_key on ") + topic + ": "))
        << device_sub.err();
  }
}

// TLS with client certificates; a retained message sealed to be retained is
// opened by a sub that starts later.
TEST_F(CliMqtt, PubAndSubOverTlsWithARetainedMessage) {
  testing::CertificateSet certs = testing::generate_certificates(dir_.file("certs"), "device-1");
  ASSERT_TRUE(certs.ok());
  testing::Broker broker(testing::tls_broker_options(certs, /*require_certificate=*/true));
  ASSERT_TRUE(broker.running()) << broker.log();
  const std::vector<std::string> tls = {"--cafile", certs.ca_cert, "--cert", certs.client_cert, "--key",
                                        certs.client_key};

  CommandResult sent = run_mqseal(args({"pub", "-t", kTopic, "-q", "1", "-r", "-m", "kept"}, at(broker), tls, files()));
  ASSERT_TRUE(sent.ok()) << sent.describe();
  CommandResult got = run_mqseal(args({"sub", "-t", kTopic, "-C", "1", "-W", "10"}, at(broker), tls, files()));
  EXPECT_EQ(got.exit_code, 0) << got.describe();
  EXPECT_EQ(got.out, "kept\n");

  // Without a client certificate, or trusting another CA: no connection.
  CommandResult anonymous =
      run_mqseal(args({"pub", "-t", kTopic, "-m", "x", "--cafile", certs.ca_cert}, at(broker), files()));
  EXPECT_EQ(anonymous.exit_code, 1) << anonymous.describe();
  CommandResult stranger = run_mqseal(args({"pub", "-t", kTopic, "-m", "x", "--cafile", certs.other_ca_cert},
                                           at(broker), files()));
  EXPECT_EQ(stranger.exit_code, 1) << stranger.describe();
  CommandResult unreadable = run_mqseal(
      args({"pub", "-t", kTopic, "-m", "x", "--cafile", dir_.file("no-such-ca.pem")}, at(broker), files()));
  EXPECT_EQ(unreadable.exit_code, 3) << unreadable.describe();
}

TEST_F(CliMqtt, PubRefusesBadInputBeforeConnecting) {
  const std::string nowhere = std::to_string(unused_port());
  const std::vector<std::string> to = {"-h", "127.0.0.1", "-p", nowhere};

  CommandResult wildcard = run_mqseal(args({"pub", "-t", "plant/+/telemetry", "-m", "x"}, to, files()));
  EXPECT_EQ(wildcard.exit_code, 1) << wildcard.describe();
  EXPECT_TRUE(contains(wildcard.err, "wildcard") || contains(wildcard.err, "topic")) << wildcard.err;

  CommandResult no_rule = run_mqseal(args({"pub", "-t", "other/topic", "-m", "x"}, to, files()));
  EXPECT_EQ(no_rule.exit_code, 1) << no_rule.describe();
  EXPECT_TRUE(contains(no_rule.err, message(Errc::no_rule))) << no_rule.err;

  CommandResult missing = run_mqseal(
      args({"pub", "-t", kTopic, "-m", "x", "--keyring", dir_.file("nope.keys"), "--policy", policy_}, to));
  EXPECT_EQ(missing.exit_code, 3) << missing.describe();

  chmod(keyring_.c_str(), 0644);
  CommandResult exposed = run_mqseal(args({"pub", "-t", kTopic, "-m", "x"}, to, files()));
  EXPECT_EQ(exposed.exit_code, 3) << exposed.describe();
  chmod(keyring_.c_str(), 0600);

  for (const std::vector<std::string>& wrong : std::vector<std::vector<std::string>>{
           {"pub", "-t", kTopic},                                        // no message
           {"pub", "-t", kTopic, "-m", "x", "-n"},                       // two messages
           {"pub", "-t", kTopic, "-m", "x", "-q", "3"},                  // no such QoS
           {"pub", "-t", kTopic, "-m", "x", "--device-keyring", keyring_},  // tokens need -u
           {"pub", "-t", kTopic, "-m", "x", "--cafile", policy_, "--cert", policy_},  // a certificate needs its key
           {"sub", "-m", "x"},                                           // sub has no -m, and needs -t
       }) {
    CommandResult r = run_mqseal(args(wrong, to, files()));
    EXPECT_EQ(r.exit_code, 2) << r.describe();
    EXPECT_TRUE(contains(r.err, "mqseal: ")) << r.describe();
  }

  CommandResult bad_filter = run_mqseal(args({"sub", "-t", "plant/#/x"}, to, files()));
  EXPECT_EQ(bad_filter.exit_code, 1) << bad_filter.describe();

  CommandResult unreachable = run_mqseal(args({"pub", "-t", kTopic, "-m", "x"}, to, files()));
  EXPECT_EQ(unreachable.exit_code, 1) << unreachable.describe();
  EXPECT_TRUE(contains(unreachable.err, "connect to tcp://127.0.0.1:" + nowhere)) << unreachable.err;
}

TEST_F(CliMqtt, SubEndsWithStatus4WhenItsTimeRunsOut) {
  testing::Broker broker;
  ASSERT_TRUE(broker.running());
  CommandResult r = run_mqseal(args({"sub", "-t", kTopic, "-W", "1"}, at(broker), files()));
  EXPECT_EQ(r.exit_code, 4) << r.describe();
  EXPECT_EQ(r.out, "");
}

TEST_F(CliMqtt, HelpDocumentsTheExitStatus) {
  for (const char* command : {"sub", "pub"}) {
    CommandResult r = run_mqseal({command, "--help"});
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_TRUE(contains(r.out, "Exit status")) << r.out;
  }
  CommandResult top = run_mqseal({"--help"});
  EXPECT_TRUE(contains(top.out, "4  sub: the -W time ran out")) << top.out;
}

#ifdef MQSEAL_PLUGIN
// A device provisioned with `mqseal provision` logs in with one-time CONNECT
// tokens through mqseal_auth.so; without a token the broker refuses it. sub
// reconnects to a restarted broker with a fresh token and subscribes again.
// The plugin refuses a device a client ID it does not own (device-7 owns
// device-7 and device-7/...): without -i, a device keyring's default ID is
// one of its own (device-7/mqseal-pub-PID).
TEST_F(CliMqtt, TokenLoginThroughThePlugin) {
  const std::string device_keys = dir_.file("device-7.keys"), creds = dir_.file("broker.creds");
  ASSERT_NO_FATAL_FAILURE(provision_device7(device_keys, creds));
  chmod(creds.c_str(), 0644);  // mosquitto's user reads it: allowed by the option below
  testing::BrokerOptions options;
  options.extra_config = {"allow_anonymous false", "plugin " + std::string(MQSEAL_PLUGIN),
                          "plugin_opt_credentials_file " + creds, "plugin_opt_allow_insecure_permissions true"};
  testing::Broker broker(options);
  ASSERT_TRUE(broker.running()) << broker.log();

  const std::vector<std::string> login = {"-u", "device-7", "--device-keyring", device_keys};
  BackgroundSub sub(dir_, broker, "device-7/sub", args({"-t", kTopic, "-q", "1", "-C", "2"}, login, files()));
  ASSERT_TRUE(sub.subscribed()) << sub.err() << broker.log();

  CommandResult refused = run_mqseal(args({"pub", "-t", kTopic, "-m", "no token", "-u", "device-7"}, at(broker), files()));
  EXPECT_EQ(refused.exit_code, 1) << refused.describe();
  EXPECT_TRUE(contains(refused.err, "not authorised")) << refused.err;

  CommandResult sent =
      run_mqseal(args({"pub", "-t", kTopic, "-q", "1", "-m", "with a token", "-i", "device-7/pub"}, login, at(broker), files()));
  ASSERT_TRUE(sent.ok()) << sent.describe();

  broker.restart();
  ASSERT_TRUE(sub.subscribed(2)) << sub.err() << broker.log();
  CommandResult again =
      run_mqseal(args({"pub", "-t", kTopic, "-q", "1", "-m", "after a restart"}, login, at(broker), files()));
  ASSERT_TRUE(again.ok()) << again.describe();
  EXPECT_EQ(sub.finish(), 0) << sub.err();
  EXPECT_EQ(sub.out(), "with a token\nafter a restart\n");
  EXPECT_TRUE(contains(sub.err(), "connection lost")) << sub.err();
}

// A subscription the broker refuses (SUBACK 0x80, which Paho reports as a
// failure with code 128) is named as such: before, sub said "Unknown error
// code 128 (128)". mosquitto 2.0 refuses every subscription when the plugin,
// asked with protected_topics, passes the question on and no acl_file allows.
TEST_F(CliMqtt, SubSaysTheBrokerRefusedTheSubscription) {
  const std::string creds = dir_.file("broker.creds");
  Credentials credentials;
  testing::expect_ok(credentials.add(testing::take(provision("device-7", "pw", testing::cheap_passphrase_params(3))).record));
  testing::expect_ok(credentials.save(creds));
  testing::BrokerOptions options;
  options.extra_config = {"plugin " + std::string(MQSEAL_PLUGIN), "plugin_opt_credentials_file " + creds,
                          "plugin_opt_protected_topics plant/#"};
  testing::Broker broker(options);
  ASSERT_TRUE(broker.running()) << broker.log();
  CommandResult r = run_mqseal(args({"sub", "-t", kTopic, "-W", "5"}, at(broker), files()));
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "subscribe: the broker refused the subscription")) << r.err;
  EXPECT_FALSE(contains(r.err, "Unknown error code")) << r.err;
}

// A device given a client ID it does not own (-i) is refused by the plugin
// (client_ids own); pub says why it may have been, not only "not authorised".
TEST_F(CliMqtt, ADeviceRefusedWithAClientIdItDoesNotOwnIsToldWhy) {
  const std::string device_keys = dir_.file("device-7.keys"), creds = dir_.file("broker.creds");
  ASSERT_NO_FATAL_FAILURE(provision_device7(device_keys, creds));
  testing::BrokerOptions options;
  options.extra_config = {"allow_anonymous false", "plugin " + std::string(MQSEAL_PLUGIN),
                          "plugin_opt_credentials_file " + creds};
  testing::Broker broker(options);
  ASSERT_TRUE(broker.running()) << broker.log();
  const std::vector<std::string> login = {"-u", "device-7", "--device-keyring", device_keys};
  CommandResult refused = run_mqseal(args({"pub", "-t", kTopic, "-m", "x", "-i", "sensor-7"}, login, at(broker), files()));
  EXPECT_EQ(refused.exit_code, 1) << refused.describe();
  EXPECT_TRUE(contains(refused.err, "not authorised")) << refused.err;
  EXPECT_TRUE(contains(refused.err, "client ID 'sensor-7' is neither device-7 nor device-7/...")) << refused.err;
  // The broker refused, not the client library; said once, plainly.
  EXPECT_EQ(refused.err.rfind("mqseal: connect to tcp://127.0.0.1:" + std::to_string(broker.port()) +
                                  ": the broker refused: not authorised (the client ID",
                              0),
            0u)
      << refused.err;
  EXPECT_FALSE(contains(refused.err, "client library")) << refused.err;
  EXPECT_FALSE(contains(refused.err, "CONNACK return code")) << refused.err;
  // An ID the device owns gets no such hint when it is refused for another reason (no token here).
  CommandResult own = run_mqseal(args({"pub", "-t", kTopic, "-m", "x", "-i", "device-7/x", "-u", "device-7"},
                                      at(broker), files()));
  EXPECT_EQ(own.exit_code, 1) << own.describe();
  EXPECT_FALSE(contains(own.err, "is neither")) << own.err;
}
#endif

}  // namespace
}  // namespace mqseal
