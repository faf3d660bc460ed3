// Built against the installed core with nothing but
// `c++ -std=c++17 pkgconfig_consumer.cpp $(pkg-config --cflags --libs mqseal)`
// (tests/install_test.cmake), as a Makefile or meson build would.
#include <mqseal/mqseal.h>

#include <cstdio>
#include <memory>
#include <vector>

int main() {
  auto keys = std::make_shared<mqseal::Keyring>();
  mqseal::TopicPolicy policy;
  if (!keys->generate("k") || !policy.add_rule("a/#", "k")) return 1;
  auto sealer = mqseal::Sealer::create(policy, keys);
  auto opener = mqseal::Opener::create(policy, keys);
  auto envelope = sealer->seal("a/b", std::string_view("pkg-config"));
  auto opened = opener->open("a/b", *envelope);
  if (!opened) return 1;
  // A bulk payload: the OpenSSL backend in a core built with it, whose
  // libcrypto a static libmqseal needs on the link line (mqseal.pc says so).
  const std::vector<uint8_t> bulk(64 * 1024, 0x5a);
  auto bulk_envelope = sealer->seal("a/b", bulk);
  auto bulk_opened = opener->open("a/b", *bulk_envelope);
  if (!bulk_opened || bulk_opened->payload != bulk) return 1;
  // The Redis replay store: in a core built with it (MQSEAL_WITH_REDIS), its
  // hiredis, which a static libmqseal needs on the link line (mqseal.pc says
  // so). Nothing listens on 127.0.0.1:1: refused either way, io_error with
  // Redis, invalid_argument (saying so) without.
  mqseal::RedisReplayStoreOptions redis_options;
  redis_options.capacity = 1;
  auto redis = mqseal::open_redis_replay_store("redis://127.0.0.1:1/0", redis_options);
  if (redis) return 1;
  std::printf("redis: %s\n", redis.error().message().c_str());
  std::printf("pkg-config consumer of mqseal %s: ok\n", MQSEAL_VERSION_STRING);
  return 0;
}
