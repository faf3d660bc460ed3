#include <mqseal/mqseal.h>
#include <mqseal/policy_file.h>

#include <cstdio>

int main() {
  auto policy = mqseal::parse_policy("[[rule]]\nfilter = \"a/#\"\nkey = \"k\"\n");
  auto keys = std::make_shared<mqseal::Keyring>();
  if (!policy || !keys->generate("k")) return 1;
  auto sealer = mqseal::Sealer::create(*policy, keys);
  auto opener = mqseal::Opener::create(*policy, keys);
  auto envelope = sealer->seal("a/b", std::string_view("installed"));
  auto opened = opener->open("a/b", *envelope);
  if (!opened) return 1;
  std::printf("consumer of mqseal %s: ok\n", MQSEAL_VERSION_STRING);
  return 0;
}
