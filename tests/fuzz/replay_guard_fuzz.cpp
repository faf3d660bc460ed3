// Fuzz target: ReplayGuard under adversarial delivery order and clock steps.
//
// Honest senders seal each (sender, topic, sequence) once, with one
// timestamp and one intent (sealed as live, or to be retained); the
// adversary delivers any message sealed so far, any number of times, in any
// order, with the retain flag set or not, while the receiver's clock steps
// forward and back. As the Opener does, a delivery is judged as retained
// only when the message was sealed to be retained and arrives with the
// retain flag. Topics 0 and 1 are under the key name "telemetry", topic 2
// under "commands" (separate replay partitions). The input is a program:
//
//   byte 0   options: max_streams 1..8 (bits 0-2), retained refused (bit 3),
//            retained_max_age 7 days or 30 minutes (bit 4)
//   then ops, the low 2 bits of the first byte saying which:
//     0 seal-and-deliver: bits 2-3 sender, 4-5 topic, 6 sealed to be
//       retained (and so delivered the first time), 7 the timestamp's unit
//       (1 s or 5 min); 3-byte sequence; timestamp = now + int8 * unit
//     1 deliver again one message delivered before (2-byte index; bit 2:
//       the retain flag on delivery)
//     2 step the receiver's clock by int8 * unit (bits 2-3: 1 s, 10 s,
//       5 min, 1 day), forward or back
//     3 as 0, with the sequence an int16 away from the stream's last
//
// Crashes on: a message accepted as live (or young enough to count as live)
// after it was accepted once in any way (an old retained message may be
// accepted again and again: that is what MQTT's retained store is for); an
// accepted message outside the age limits or a retained one under `refuse`;
// an error code the guard does not document.
//
// MessageFacts fields are set by name, so fields added later with defaults
// need no change here.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <vector>

#include "fuzz_support.h"
#include "mqseal/replay_guard.h"

namespace {

using mqseal::fuzz::check;
using mqseal::fuzz::fail;

constexpr uint64_t kStartMs = 1'800'000'000'000;
constexpr uint64_t kUnitsMs[] = {1000, 10'000, 5 * 60'000, 24 * 60 * 60'000};
const char* const kTopics[] = {"plant/7/telemetry", "plant/8/telemetry", "plant/7/cmd/valve"};
const char* const kKeyNames[] = {"telemetry", "telemetry", "commands"};
constexpr size_t kTopicCount = sizeof kTopics / sizeof kTopics[0];
constexpr size_t kMaxOps = 256;

using MessageId = std::tuple<size_t, size_t, uint64_t>;  // sender, topic, sequence

uint64_t step(uint64_t t, int8_t steps, uint64_t unit) {
  const uint64_t d = static_cast<uint64_t>(steps < 0 ? -static_cast<int64_t>(steps) : steps) * unit;
  if (steps >= 0) return t + d;
  return t > d ? t - d : 1;
}

struct Run {
  mqseal::ReplayOptions options;
  uint64_t now = kStartMs;
  struct Sealed {
    uint64_t timestamp_ms;
    bool retain_intent;
  };
  std::map<MessageId, Sealed> sealed;
  std::vector<MessageId> delivered;
  std::set<MessageId> accepted;
  std::map<std::pair<size_t, size_t>, uint64_t> last_sequence;  // per stream

  void deliver(const MessageId& id, bool retain_flag) {
    const Sealed& message = sealed.at(id);
    mqseal::MessageFacts facts;
    facts.topic = kTopics[std::get<1>(id)];
    facts.key_name = kKeyNames[std::get<1>(id)];
    facts.sender.fill(0);
    facts.sender[0] = static_cast<uint8_t>(std::get<0>(id) + 1);
    facts.sequence = std::get<2>(id);
    facts.timestamp_ms = message.timestamp_ms;
    facts.retained = retain_flag && message.retain_intent;
    delivered.push_back(id);
    last_sequence[{std::get<0>(id), std::get<1>(id)}] = facts.sequence;
    const mqseal::Status status = guard->check(facts, now);
    if (std::getenv("MQSEAL_FUZZ_VERBOSE") != nullptr) {  // docs/TESTING.md: what an input does
      std::fprintf(stderr, "now %+lld ms: sender %zu topic %zu seq %llu ts %+lld ms intent %s flag %d: %s\n",
                   static_cast<long long>(now - kStartMs), std::get<0>(id), std::get<1>(id),
                   static_cast<unsigned long long>(facts.sequence),
                   static_cast<long long>(facts.timestamp_ms - kStartMs), message.retain_intent ? "retain" : "live",
                   retain_flag ? 1 : 0, status ? "accepted" : status.error().message().c_str());
    }
    judge(id, facts, status);
  }

  void judge(const MessageId& id, const mqseal::MessageFacts& facts, const mqseal::Status& status) {
    if (!status) {
      switch (status.error().code()) {
        case mqseal::Errc::duplicate:
        case mqseal::Errc::replay:
        case mqseal::Errc::expired:
        case mqseal::Errc::not_yet_valid:
        case mqseal::Errc::retained_refused:
          return;
        default:
          fail("an error code ReplayGuard::check does not document");
      }
    }
    const uint64_t ts = facts.timestamp_ms;
    check(ts <= now || ts - now <= options.max_future_skew_ms, "accepted a message from too far ahead");
    const uint64_t age = now > ts ? now - ts : 0;
    if (facts.retained) {
      check(options.retained != mqseal::RetainedPolicy::refuse, "accepted a retained message under refuse");
      check(age <= options.retained_max_age_ms, "accepted a retained message past retained_max_age");
    } else {
      check(age <= options.max_age_ms, "accepted a live message past max_age");
    }
    const bool old_retained = facts.retained && age > options.max_age_ms;
    if (!accepted.insert(id).second && !old_retained) {
      fail("a (sender, topic, sequence) accepted again as live or young enough to count as live");
    }
  }

  std::optional<mqseal::ReplayGuard> guard;
};

}  // namespace

// Encoders for the op format above, for readable seeds.
namespace {

struct Program {
  std::vector<uint8_t> bytes;
  explicit Program(uint8_t config) : bytes{config} {}
  Program& seal(int sender, int topic, bool retained, bool minutes, uint32_t sequence, int8_t offset) {
    bytes.push_back(static_cast<uint8_t>(0 | sender << 2 | topic << 4 | (retained ? 0x40 : 0) | (minutes ? 0x80 : 0)));
    bytes.insert(bytes.end(), {static_cast<uint8_t>(sequence >> 16), static_cast<uint8_t>(sequence >> 8),
                               static_cast<uint8_t>(sequence), static_cast<uint8_t>(offset)});
    return *this;
  }
  Program& near(int sender, int topic, bool retained, int16_t delta, int8_t offset) {
    bytes.push_back(static_cast<uint8_t>(3 | sender << 2 | topic << 4 | (retained ? 0x40 : 0)));
    const auto d = static_cast<uint16_t>(delta);
    bytes.insert(bytes.end(), {static_cast<uint8_t>(d >> 8), static_cast<uint8_t>(d), static_cast<uint8_t>(offset)});
    return *this;
  }
  Program& again(uint16_t which, bool retained) {
    bytes.insert(bytes.end(), {static_cast<uint8_t>(1 | (retained ? 4 : 0)), static_cast<uint8_t>(which >> 8),
                               static_cast<uint8_t>(which)});
    return *this;
  }
  Program& clock(int unit, int8_t steps) {
    bytes.insert(bytes.end(), {static_cast<uint8_t>(2 | unit << 2), static_cast<uint8_t>(steps)});
    return *this;
  }
};

}  // namespace

std::vector<mqseal::fuzz::Seed> mqseal::fuzz::fuzz_seeds() {
  constexpr uint8_t kOneStream = 0;
  constexpr uint8_t kFourStreams = 3;
  constexpr uint8_t kRefuseRetained = 8;
  return {
      {"duplicate", Program(kFourStreams).seal(0, 0, false, false, 5, 0).again(0, false).bytes},
      {"retained-later",
       Program(kFourStreams).seal(0, 0, false, false, 7, 0).clock(2, 2).again(0, true).again(0, true).bytes},
      {"evict-and-step-back", Program(kOneStream)
                                  .seal(0, 0, false, false, 1, 0)
                                  .seal(1, 0, false, false, 1, 0)
                                  .clock(2, -1)
                                  .again(0, false)
                                  .bytes},
      {"window-edge", Program(kFourStreams)
                          .seal(2, 1, false, false, 2048, 0)
                          .near(2, 1, false, -1023, 0)
                          .near(2, 1, false, -1024, 0)
                          .near(2, 1, false, 1, 1)
                          .again(1, false)
                          .bytes},
      {"future", Program(kFourStreams).seal(0, 2, false, true, 1, 1).seal(0, 2, false, false, 2, 50).bytes},
      {"refuse-retained", Program(kRefuseRetained).seal(3, 0, true, false, 9, 0).again(0, false).bytes},
  };
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mqseal::fuzz::Input in(data, size);
  Run run;
  const uint8_t config = in.byte();
  run.options.max_streams = 1 + (config & 7);
  if ((config & 8) != 0) run.options.retained = mqseal::RetainedPolicy::refuse;
  if ((config & 16) != 0) run.options.retained_max_age_ms = 30 * 60'000;
  mqseal::Result<mqseal::ReplayGuard> guard = mqseal::ReplayGuard::create(run.options);
  check(guard.ok(), "ReplayGuard::create");
  run.guard.emplace(std::move(*guard));

  for (size_t op = 0; op < kMaxOps && !in.empty(); ++op) {
    const uint8_t head = in.byte();
    switch (head & 3) {
      case 0:
      case 3: {
        const size_t sender = (head >> 2) & 3;
        const size_t topic = ((head >> 4) & 3) % kTopicCount;
        const bool retained = (head & 0x40) != 0;
        const uint64_t unit = (head & 0x80) != 0 ? kUnitsMs[2] : kUnitsMs[0];
        uint64_t sequence = 0;
        if ((head & 3) == 0) {
          sequence = in.number(3);
        } else {
          const auto last = run.last_sequence.find({sender, topic});
          const int16_t delta = static_cast<int16_t>(in.number(2));
          sequence = (last == run.last_sequence.end() ? 0 : last->second) + static_cast<uint64_t>(int64_t{delta});
        }
        const MessageId id{sender, topic, sequence};
        const int8_t offset = static_cast<int8_t>(in.byte());
        // Sealed once: a later op naming the same message delivers that one again.
        run.sealed.emplace(id, Run::Sealed{step(run.now, offset, unit), retained});
        run.deliver(id, retained);
        break;
      }
      case 1: {
        if (run.delivered.empty()) break;
        const MessageId id = run.delivered[static_cast<size_t>(in.number(2)) % run.delivered.size()];
        run.deliver(id, (head & 4) != 0);
        break;
      }
      default:
        run.now = step(run.now, static_cast<int8_t>(in.byte()), kUnitsMs[(head >> 2) & 3]);
        break;
    }
  }
  return 0;
}
