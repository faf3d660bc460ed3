// The README's example: seal for a topic, open on the other side.
#include <mqseal/mqseal.h>

#include <cstdio>
#include <memory>

int main() {
  auto keys = std::make_shared<mqseal::Keyring>();
  if (!keys->generate("telemetry")) return 1;
  mqseal::TopicPolicy policy;
  if (!policy.add_rule("plant/+/telemetry", "telemetry")) return 1;

  // --- README begins ---
  auto sealer = mqseal::Sealer::create(policy, keys);
  auto envelope = sealer->seal("plant/7/telemetry", std::string_view("21.5 C"));
  auto opener = mqseal::Opener::create(policy, keys);
  auto opened = opener->open("plant/7/telemetry", *envelope);
  if (!opened) return std::printf("refused: %s\n", opened.error().message().c_str()), 1;
  // --- README ends ---

  std::printf("opened %zu bytes sealed in a %zu-byte envelope\n", opened->payload.size(),
              envelope->size());
  return 0;
}
