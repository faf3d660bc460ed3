// mqseal_auth.so's options (plugin_opt_ lines): a real mosquitto on
// 127.0.0.1 refuses to start with any bad one, and its log names the option;
// good options at the ends of their ranges start it.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <mqseal/credentials.h>

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "sanitizer_preload.h"
#include "broker.h"
#include "redis_server.h"
#include "test_util.h"

namespace mqseal {
namespace {

using testing::take;

constexpr const char* kNeedsAnAclFile =
    "mqseal: protected topics: mosquitto asks the plugin about every publish and subscription, and it allows "
    "none itself: mosquitto denies what no acl_file or other plugin allows";

// A credentials file with one device, mode 0600 (the broker runs as root).
struct CredentialsFile {
  testing::TempDir dir;
  std::string path = dir.file("mqseal.credentials");
  CredentialsFile() {
    Credentials credentials;
    testing::expect_ok(credentials.add(take(provision("device-7", "pw", testing::cheap_passphrase_params(3))).record));
    testing::expect_ok(credentials.save(path));
  }
};

testing::BrokerOptions plugin_options(const std::vector<std::string>& plugin_lines) {
  testing::BrokerOptions o;
  o.extra_config = {"allow_anonymous false", "plugin " + std::string(MQSEAL_PLUGIN)};
  o.extra_config.insert(o.extra_config.end(), plugin_lines.begin(), plugin_lines.end());
  return o;
}

// Starts mosquitto with these plugin lines, expecting it to refuse to start;
// its log.
std::string refused_start(const std::vector<std::string>& plugin_lines) {
  std::unique_ptr<testing::Broker> broker;
  EXPECT_NONFATAL_FAILURE(broker = std::make_unique<testing::Broker>(plugin_options(plugin_lines)),
                          "mosquitto did not start");
  if (broker == nullptr) return {};
  EXPECT_FALSE(broker->running());
  return broker->log();
}

// "f/0, f/1, ...": `count` distinct topic filters.
std::string filters(size_t count) {
  std::string list;
  for (size_t i = 0; i < count; ++i) list += (i == 0 ? "f/" : ", f/") + std::to_string(i);
  return list;
}

TEST(PluginOptions, EveryKindOfBadOptionStopsTheBrokerWithALogLineNamingIt) {
  CredentialsFile file;
  const std::string credentials = "plugin_opt_credentials_file " + file.path;
  // A replay store in a directory every user may write (as /tmp is).
  const std::string open_dir = file.dir.file("open");
  EXPECT_EQ(mkdir(open_dir.c_str(), 0700), 0);
  EXPECT_EQ(chmod(open_dir.c_str(), 01777), 0);
  struct Case {
    std::vector<std::string> lines;
    std::string log_says;
  };
  const Case cases[] = {
      // unknown option name
      {{credentials, "plugin_opt_max_clock_skew_s 30"}, "unknown option plugin_opt_max_clock_skew_s"},
      // not a number, or not strictly one
      {{credentials, "plugin_opt_max_clock_skew thirty"}, "bad plugin_opt_max_clock_skew 'thirty'"},
      {{credentials, "plugin_opt_max_clock_skew +30"}, "bad plugin_opt_max_clock_skew '+30'"},
      {{credentials, "plugin_opt_max_clock_skew -1"}, "bad plugin_opt_max_clock_skew '-1'"},
      {{credentials, "plugin_opt_max_clock_skew 30s"}, "bad plugin_opt_max_clock_skew '30s'"},
      {{credentials, "plugin_opt_max_token_lifetime 0x10"}, "bad plugin_opt_max_token_lifetime '0x10'"},
      // out of range: 2^64-1 wrapped a sum and let a token from 1970 in
      {{credentials, "plugin_opt_max_clock_skew 18446744073709551615"}, "bad plugin_opt_max_clock_skew"},
      {{credentials, "plugin_opt_max_clock_skew 18446744073709551616"}, "bad plugin_opt_max_clock_skew"},
      {{credentials, "plugin_opt_max_clock_skew 3601"}, "out of range: a whole number from 0 to 3600"},
      {{credentials, "plugin_opt_max_token_lifetime 0"}, "bad plugin_opt_max_token_lifetime '0'"},
      {{credentials, "plugin_opt_max_token_lifetime 86401"}, "bad plugin_opt_max_token_lifetime '86401'"},
      {{credentials, "plugin_opt_max_devices 0"}, "bad plugin_opt_max_devices '0'"},
      // mosquitto.conf has no comments after a value: the README once showed some
      {{credentials, "plugin_opt_protected_topics plant/#   # refuse unsealed payloads there"},
       "not a topic filter (mosquitto.conf has no comment after a value: the '#' and what follows are part of it)"},
      {{credentials + "   # from mqseal provision"},
       "No such file or directory (mosquitto.conf has no comment after a value: the '#' and what follows are part of "
       "it)"},
      {{credentials, "plugin_opt_max_devices 1000001"}, "bad plugin_opt_max_devices '1000001'"},
      {{credentials, "plugin_opt_max_tokens_per_user 0"}, "bad plugin_opt_max_tokens_per_user '0'"},
      {{credentials, "plugin_opt_max_tokens_per_user 65537"}, "bad plugin_opt_max_tokens_per_user '65537'"},
      {{credentials, "plugin_opt_allow_insecure_permissions yes"}, "bad plugin_opt_allow_insecure_permissions"},
      // client IDs: own or any, nothing else
      {{credentials, "plugin_opt_client_ids Own"}, "bad plugin_opt_client_ids 'Own': neither own nor any"},
      {{credentials, "plugin_opt_client_ids none"}, "bad plugin_opt_client_ids 'none': neither own nor any"},
      {{credentials, "plugin_opt_client_ids own "}, "bad plugin_opt_client_ids 'own ': neither own nor any"},
      {{credentials, "plugin_opt_client_ids own", "plugin_opt_client_ids any"},
       "plugin_opt_client_ids is given more than once"},
      // empty protected topic
      {{credentials, "plugin_opt_protected_topics plant/#,,factory/#"}, "bad plugin_opt_protected_topics"},
      {{credentials, "plugin_opt_protected_topics plant/#,"}, "bad plugin_opt_protected_topics"},
      {{credentials, "plugin_opt_protected_topics  , "}, "bad plugin_opt_protected_topics"},
      // one filter more than kMaxProtectedFilters (256)
      {{credentials, "plugin_opt_protected_topics " + filters(257)}, "more than 256 topic filters"},
      // bad filter
      {{credentials, "plugin_opt_protected_topics plant/#/x"}, "'plant/#/x' is not a topic filter"},
      {{credentials, "plugin_opt_protected_topics plant/#, fac+tory/#"}, "'fac+tory/#' is not a topic filter"},
      // missing credentials file, or none named
      {{"plugin_opt_credentials_file " + file.dir.file("none")}, "plugin_opt_credentials_file: "},
      {{"plugin_opt_max_clock_skew 30"}, "plugin_opt_credentials_file is required"},
      // the replay store: memory, file:/absolute/path or redis://...; a bad
      // URL part is named, a password never logged, Redis must answer
      {{credentials, "plugin_opt_replay_store redis://127.0.0.1:0/0"},
       "plugin_opt_replay_store 'redis://***': invalid argument: redis URL: port: not a whole number"},
      {{credentials, "plugin_opt_replay_store rediss://127.0.0.1:6380"}, "redis URL: scheme: rediss:// (TLS)"},
      {{credentials, "plugin_opt_replay_store redis://:top-secret@127.0.0.1:1/0"},
       "plugin_opt_replay_store 'redis://***@127.0.0.1:1/0': input/output failed: Redis 127.0.0.1:1/0: cannot "
       "connect"},
      {{credentials, "plugin_opt_replay_store redis://:top-secret@127.0.0.1:1/x"},
       "plugin_opt_replay_store 'redis://***@127.0.0.1:1/x': invalid argument: redis URL: database: not a whole number"},
      // '/' and '@' in the password: masked to the last '@'; a redis:/ typo
      // is refused without echoing it
      {{credentials, "plugin_opt_replay_store redis://:top-secret/x@127.0.0.1:1/0"},
       "plugin_opt_replay_store 'redis://***@127.0.0.1:1/0': input/output failed: Redis 127.0.0.1:1/0: cannot "
       "connect"},
      {{credentials, "plugin_opt_replay_store redis://u:top-secret@x/y@127.0.0.1:1/z"},
       "plugin_opt_replay_store 'redis://***@127.0.0.1:1/z': invalid argument: redis URL: database: not a whole number"},
      {{credentials, "plugin_opt_replay_store redis:/:top-secret@127.0.0.1:1/0"},
       "bad plugin_opt_replay_store '***@127.0.0.1:1/0': not a redis:// URL"},
      {{credentials, "plugin_opt_replay_store redis:top-secret@127.0.0.1"}, "not a redis:// URL"},
      // No '@' (user:password typed without a host): everything after "://" is masked,
      // and the store's error does not quote it either.
      {{credentials, "plugin_opt_replay_store redis://user:top-secret"},
       "plugin_opt_replay_store 'redis://***': invalid argument: redis URL: port: not a whole number"},
      {{credentials, "plugin_opt_replay_store redis://:top-secret/0"},
       "plugin_opt_replay_store 'redis://***': invalid argument: redis URL: host: empty"},
      {{credentials, "plugin_opt_replay_store redis://top-secret_x:1/0"},
       "plugin_opt_replay_store 'redis://***': invalid argument: redis URL: host: neither"},
      {{credentials, "plugin_opt_replay_store redis:/user:top-secret"}, "bad plugin_opt_replay_store 'redis***': not a redis:// URL"},
      {{credentials, "plugin_opt_replay_store memory", "plugin_opt_replay_namespace plant-a"},
       "plugin_opt_replay_namespace is only for a redis:// replay store"},
      {{credentials, "plugin_opt_replay_store file:"},
       "bad plugin_opt_replay_store 'file:': file: takes an absolute path"},
      {{credentials, "plugin_opt_replay_store file:replay"}, "file: takes an absolute path"},
      {{credentials, "plugin_opt_replay_store Memory"}, "bad plugin_opt_replay_store 'Memory': neither memory, "},
      {{credentials, "plugin_opt_replay_store /var/lib/replay"},
       "neither memory, file:/absolute/path nor redis://host:port/db"},
      {{credentials, "plugin_opt_replay_store file:" + file.dir.file("no/such/dir/replay")},
       "plugin_opt_replay_store: input/output failed: cannot open " + file.dir.file("no/such/dir/replay")},
      {{credentials, "plugin_opt_replay_store file:" + file.path}, "not an mqseal replay store file (foreign)"},
      {{credentials, "plugin_opt_replay_store file:" + open_dir + "/replay"},
       "plugin_opt_replay_store: unsafe file permissions or owner: the directory of " + open_dir + "/replay: " + open_dir +
           " is writable by group or others"},
      {{credentials, "plugin_opt_replay_store memory", "plugin_opt_replay_store file:/x"},
       "plugin_opt_replay_store is given more than once"},
      // the same option twice: which one would win?
      {{credentials, credentials}, "plugin_opt_credentials_file is given more than once"},
      {{credentials, "plugin_opt_max_clock_skew 30", "plugin_opt_max_clock_skew 3000"},
       "plugin_opt_max_clock_skew is given more than once"},
  };
  for (const Case& c : cases) {
    std::string lines;
    for (const std::string& line : c.lines) lines += line + "\n";
    SCOPED_TRACE(lines);
    const std::string log = refused_start(c.lines);
    EXPECT_NE(log.find(c.log_says), std::string::npos) << "expected in the log: " << c.log_says << "\n" << log;
    EXPECT_EQ(log.find("top-secret"), std::string::npos) << "a password in the log:\n" << log;
  }
}

TEST(PluginOptions, OptionsAtTheEndsOfTheirRangesStartTheBroker) {
  CredentialsFile file;
  for (const auto& [skew, lifetime, tokens] :
       {std::tuple<uint64_t, uint64_t, size_t>{0, 1, 1},
        std::tuple<uint64_t, uint64_t, size_t>{kMaxClockSkewLimitS, kMaxTokenLifetimeLimitS, kMaxTokensPerUserLimit}}) {
    testing::Broker broker(plugin_options({"plugin_opt_credentials_file " + file.path,
                                           "plugin_opt_allow_insecure_permissions false",
                                           "plugin_opt_max_clock_skew " + std::to_string(skew),
                                           "plugin_opt_max_token_lifetime " + std::to_string(lifetime),
                                           "plugin_opt_max_tokens_per_user " + std::to_string(tokens),
                                           "plugin_opt_protected_topics \tplant/#, factory/+/cmd/# ,x"}));
    ASSERT_TRUE(broker.running()) << broker.log();
    EXPECT_NE(broker.log().find("mqseal: 1 devices, 3 protected topic filters: 'plant/#', 'factory/+/cmd/#', 'x'"),
              std::string::npos)
        << broker.log();
    // mosquitto 2.0 denies what every plugin passes on: without an acl_file
    // every publish and subscription is denied. The log says so at start.
    EXPECT_NE(broker.log().find(kNeedsAnAclFile), std::string::npos) << broker.log();
  }
  // Both client ID rules; own by default.
  for (const std::string value : {"", "own", "any"}) {
    SCOPED_TRACE(value);
    std::vector<std::string> lines = {"plugin_opt_credentials_file " + file.path};
    if (!value.empty()) lines.push_back("plugin_opt_client_ids " + value);
    testing::Broker broker(plugin_options(lines));
    ASSERT_TRUE(broker.running()) << broker.log();
    EXPECT_NE(broker.log().find("mqseal: client IDs: " + (value.empty() ? std::string("own") : value) + " ("),
              std::string::npos)
        << broker.log();
  }
  // Each replay store the build has.
  {
    testing::Broker broker(
        plugin_options({"plugin_opt_credentials_file " + file.path, "plugin_opt_replay_store memory"}));
    ASSERT_TRUE(broker.running()) << broker.log();
    EXPECT_NE(broker.log().find("mqseal: replay store: memory"), std::string::npos) << broker.log();
    EXPECT_EQ(broker.log().find(kNeedsAnAclFile), std::string::npos) << "no protected topics:\n" << broker.log();
  }
  {
    const std::string store = file.dir.file("replay");
    testing::Broker broker(plugin_options({"plugin_opt_credentials_file " + file.path,
                                           "plugin_opt_max_tokens_per_user 5",
                                           "plugin_opt_replay_store file:" + store}));
    ASSERT_TRUE(broker.running()) << broker.log();
    EXPECT_NE(broker.log().find("mqseal: replay store: file " + store + " (0 live tokens, room for 5)"),
              std::string::npos)
        << broker.log();
  }
  {
    // Room for a million devices (plugin_opt_max_devices at its bound).
    const std::string store = file.dir.file("replay-million");
    testing::Broker broker(plugin_options({"plugin_opt_credentials_file " + file.path,
                                           "plugin_opt_max_tokens_per_user 5", "plugin_opt_max_devices 1000000",
                                           "plugin_opt_replay_store file:" + store}));
    ASSERT_TRUE(broker.running()) << broker.log();
    EXPECT_NE(broker.log().find("mqseal: replay store: file " + store + " (0 live tokens, room for 5000000)"),
              std::string::npos)
        << broker.log();
  }
#if MQSEAL_TEST_REDIS
  {
    testing::RedisServer redis;
    ASSERT_TRUE(redis.running()) << redis.log();
    testing::Broker broker(plugin_options({"plugin_opt_credentials_file " + file.path,
                                           "plugin_opt_max_tokens_per_user 5",
                                           "plugin_opt_replay_store " + redis.url(15),
                                           "plugin_opt_replay_namespace " + std::string(64, 'n')}));
    ASSERT_TRUE(broker.running()) << broker.log();
    EXPECT_NE(broker.log().find("mqseal: replay store: redis " + redis.url(15) + ", namespace " + std::string(64, 'n') +
                                " (0 live tokens, room for 5)"),
              std::string::npos)
        << broker.log();
    // A bad namespace stops it.
    const std::string log = refused_start({"plugin_opt_credentials_file " + file.path,
                                           "plugin_opt_replay_store " + redis.url(), "plugin_opt_replay_namespace a:b"});
    EXPECT_NE(log.find("namespace is 1 to 64 characters of A-Z a-z 0-9 . _ -"), std::string::npos) << log;
  }
#endif
  // Exactly kMaxProtectedFilters (256) protected topic filters.
  testing::Broker broker(
      plugin_options({"plugin_opt_credentials_file " + file.path, "plugin_opt_protected_topics " + filters(256)}));
  ASSERT_TRUE(broker.running()) << broker.log();
  EXPECT_NE(broker.log().find("mqseal: 1 devices, 256 protected topic filters"), std::string::npos) << broker.log();
}

// mosquitto started as root switches to its own user before it loads
// plugins, and reloads as that user: a root-owned 0600 credentials file, or a
// replay store in a root-owned directory, cannot be read or made then. The
// log line names the user the broker runs as (before: only "Permission
// denied", which puzzles an operator who is root); the files the README says
// to install (owned by mosquitto) start it.
TEST(PluginOptions, RunningAsItsOwnUserTheBrokerNamesThatUserWhenAFileIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: mosquitto drops privileges only when started as root";
  const struct passwd* mosquitto = getpwnam("mosquitto");
  if (mosquitto == nullptr) GTEST_SKIP() << "no mosquitto user";
  CredentialsFile file;
  ASSERT_EQ(chmod(file.dir.path().c_str(), 0755), 0);
  const std::string store_dir = file.dir.file("lib");
  ASSERT_EQ(mkdir(store_dir.c_str(), 0755), 0);
  const std::string hint = "(mosquitto runs as user 'mosquitto', uid " + std::to_string(mosquitto->pw_uid) + ")";
  auto as_mosquitto = [&](const std::vector<std::string>& lines) {
    testing::BrokerOptions o = plugin_options(lines);
    o.drop_privileges = true;
    return o;
  };
  {
    std::unique_ptr<testing::Broker> broker;
    EXPECT_NONFATAL_FAILURE(
        broker = std::make_unique<testing::Broker>(as_mosquitto({"plugin_opt_credentials_file " + file.path})),
        "mosquitto did not start");
    const std::string log = broker->log();
    EXPECT_NE(log.find("Permission denied " + hint), std::string::npos) << log;
  }
  ASSERT_EQ(chown(file.path.c_str(), mosquitto->pw_uid, mosquitto->pw_gid), 0);
  const std::string store = "plugin_opt_replay_store file:" + store_dir + "/replay";
  {
    std::unique_ptr<testing::Broker> broker;
    EXPECT_NONFATAL_FAILURE(broker = std::make_unique<testing::Broker>(
                                as_mosquitto({"plugin_opt_credentials_file " + file.path, store})),
                            "mosquitto did not start");
    const std::string log = broker->log();
    EXPECT_NE(log.find("Permission denied " + hint), std::string::npos) << log;
  }
  ASSERT_EQ(chown(store_dir.c_str(), mosquitto->pw_uid, mosquitto->pw_gid), 0);
  testing::Broker broker(as_mosquitto({"plugin_opt_credentials_file " + file.path, store}));
  ASSERT_TRUE(broker.running()) << broker.log();
  // A credentials file rewritten by root (as `mqseal provision` run as root
  // writes it: owned by root, 0600) is refused at the reload, saying why.
  CredentialsFile rewritten;
  ASSERT_EQ(rename(rewritten.path.c_str(), file.path.c_str()), 0);
  ASSERT_EQ(kill(broker.pid(), SIGHUP), 0);
  const std::string reload_failed = "mqseal: reload: plugin_opt_credentials_file: ";
  for (int i = 0; i < 100 && broker.log().find(reload_failed) == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::string log = broker.log();
  const size_t at = log.find(reload_failed);
  ASSERT_NE(at, std::string::npos) << log;
  EXPECT_NE(log.find("Permission denied " + hint, at), std::string::npos) << log;
}

}  // namespace
}  // namespace mqseal
