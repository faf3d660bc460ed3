#include <mqseal/policy.h>
#include <mqseal/replay_guard.h>
#include <gtest/gtest.h>

#include <cstring>
#include <ctime>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "session/replay_guard_probe.h"
#include "test_util.h"

namespace mqseal {
namespace {

using testing::take;
constexpr uint64_t kNow = 1'800'000'000'000;

MessageFacts msg(uint8_t sender, uint64_t seq, uint64_t ts = kNow, bool retained = false,
                 std::string_view topic = "t/1") {
  MessageFacts m;
  m.topic = topic;
  m.sender.fill(sender);
  m.sequence = seq;
  m.timestamp_ms = ts;
  m.retained = retained;
  return m;
}

Errc code(const Status& s) { return s ? static_cast<Errc>(0) : s.error().code(); }

TEST(ReplayGuard, AcceptsFreshReorderedAndFlagsDuplicates) {
  ReplayGuard g = take(ReplayGuard::create());
  testing::expect_ok(g.check(msg(1, 10), kNow));
  testing::expect_ok(g.check(msg(1, 12), kNow));
  testing::expect_ok(g.check(msg(1, 11), kNow));  // reordered
  EXPECT_EQ(code(g.check(msg(1, 11), kNow)), Errc::duplicate);
  EXPECT_EQ(code(g.check(msg(1, 12), kNow)), Errc::duplicate);
  testing::expect_ok(g.check(msg(1, 9), kNow));  // below the first, inside the window
  testing::expect_ok(g.check(msg(2, 11), kNow));  // another sender has its own window
}

// A topic keeps its stream whatever topics come between its messages, the
// empty topic included (the guard remembers the previous topic's hash).
TEST(ReplayGuard, ATopicKeepsItsStreamAcrossOtherTopics) {
  ReplayGuard g = take(ReplayGuard::create());
  for (const std::string_view first : {"", "t/1"}) {
    testing::expect_ok(g.check(msg(first.empty() ? 3 : 4, 10, kNow, false, first), kNow));
    testing::expect_ok(g.check(msg(first.empty() ? 3 : 4, 10, kNow, false, "t/2"), kNow));
    EXPECT_EQ(code(g.check(msg(first.empty() ? 3 : 4, 10, kNow, false, first), kNow)), Errc::duplicate)
        << "topic '" << first << "'";
  }
}

TEST(ReplayGuard, WindowEdges) {
  ReplayGuard g = take(ReplayGuard::create());
  testing::expect_ok(g.check(msg(1, 5000), kNow));
  testing::expect_ok(g.check(msg(1, 5000 - (kReplayWindow - 1)), kNow));  // oldest in window
  EXPECT_EQ(code(g.check(msg(1, 5000 - kReplayWindow), kNow)), Errc::replay);
  testing::expect_ok(g.check(msg(1, 5000 + 70), kNow));  // slide by a non-multiple of 64
  EXPECT_EQ(code(g.check(msg(1, 5000), kNow)), Errc::duplicate);
  testing::expect_ok(g.check(msg(1, 5001), kNow));
  EXPECT_EQ(code(g.check(msg(1, 5001), kNow)), Errc::duplicate);
  testing::expect_ok(g.check(msg(1, 100000), kNow));  // jump past the whole window
  EXPECT_EQ(code(g.check(msg(1, 5070), kNow)), Errc::replay);
  testing::expect_ok(g.check(msg(1, 99999), kNow));
}

TEST(ReplayGuard, SlidingKeepsEveryBit) {
  // Accept every even sequence up to 3000, then every odd one still inside
  // the window must be accepted and every even one must be a duplicate.
  ReplayGuard g = take(ReplayGuard::create());
  for (uint64_t s = 0; s <= 3000; s += 2) testing::expect_ok(g.check(msg(1, s), kNow));
  for (uint64_t s = 3000 - kReplayWindow + 1; s <= 3000; ++s) {
    EXPECT_EQ(code(g.check(msg(1, s), kNow)), s % 2 == 0 ? Errc::duplicate : static_cast<Errc>(0)) << s;
  }
}

// Slides by whole words (64 and 128 sequence numbers) move words without a
// carry between them: after them exactly the accepted sequences are
// duplicates, every other one in the window is still accepted.
TEST(ReplayGuard, WholeWordSlidesKeepExactlyTheAcceptedBits) {
  ReplayGuard g = take(ReplayGuard::create());
  const std::set<uint64_t> accepted = {2000, 2064, 2192, 2256};
  for (uint64_t s : accepted) testing::expect_ok(g.check(msg(1, s), kNow));
  const uint64_t top = *accepted.rbegin();
  for (uint64_t s = top - (kReplayWindow - 1); s <= top; ++s) {
    EXPECT_EQ(code(g.check(msg(1, s), kNow)), accepted.count(s) ? Errc::duplicate : static_cast<Errc>(0))
        << s;
  }
}

// The window is a ring of words: after any jump of the top, every sequence
// the window holds is a duplicate exactly when it was accepted before, so a
// word the jump passed over must be cleared (no stale bits from an earlier
// lap of the ring) and a word it did not pass must keep its bits. Checked
// against a plain set, for jumps of every size around the word and ring edges,
// from a top in the middle of a word and at its edges.
TEST(ReplayGuard, EveryJumpKeepsExactlyTheAcceptedBits) {
  const uint64_t jumps[] = {1, 2, 63, 64, 65, 127, 128, 129, 960, 1023, 1024, 1025, 1087, 1088, 1089,
                            1152, 64 * 40 + 7, 1'000'000};
  for (const uint64_t start : {uint64_t{4096}, uint64_t{4096 + 63}, uint64_t{4096 + 31}}) {
    for (const uint64_t jump : jumps) {
      ReplayGuard g = take(ReplayGuard::create());
      std::set<uint64_t> accepted;
      // Every third sequence of a full window below `start`, so that every
      // word of the ring has bits set.
      for (uint64_t s = start - (kReplayWindow - 1); s <= start; ++s) {
        if (s % 3 == 0 || s == start) {
          testing::expect_ok(g.check(msg(1, s), kNow));
          accepted.insert(s);
        }
      }
      const uint64_t top = start + jump;
      testing::expect_ok(g.check(msg(1, top), kNow));
      accepted.insert(top);
      for (uint64_t s = top - (kReplayWindow - 1); s <= top; ++s) {
        ASSERT_EQ(code(g.check(msg(1, s), kNow)), accepted.count(s) ? Errc::duplicate : static_cast<Errc>(0))
            << "start " << start << ", jump " << jump << ", sequence " << s;
      }
    }
  }
}

TEST(ReplayGuard, AgeAndSkew) {
  ReplayOptions o;
  o.max_age_ms = 1000;
  o.max_future_skew_ms = 100;
  ReplayGuard g = take(ReplayGuard::create(o));
  EXPECT_EQ(code(g.check(msg(1, 0, kNow - 1001), kNow)), Errc::expired);
  testing::expect_ok(g.check(msg(1, 1, kNow - 1000), kNow));
  testing::expect_ok(g.check(msg(1, 2, kNow + 100), kNow));
  EXPECT_EQ(code(g.check(msg(1, 3, kNow + 101), kNow)), Errc::not_yet_valid);
  EXPECT_EQ(code(g.check(msg(1, 4, 0), kNow)), Errc::expired);
  EXPECT_EQ(code(g.check(msg(1, 5, UINT64_MAX), kNow)), Errc::not_yet_valid);
}

TEST(ReplayGuard, RetainedMessagesHaveTheirOwnPolicy) {
  ReplayOptions o;
  o.max_age_ms = 1000;
  o.retained_max_age_ms = 10'000;
  ReplayGuard g = take(ReplayGuard::create(o));
  // Old but within the retained age; delivered again to a second subscriber.
  testing::expect_ok(g.check(msg(1, 0, kNow - 5000, true), kNow));
  testing::expect_ok(g.check(msg(1, 0, kNow - 5000, true), kNow));
  EXPECT_EQ(code(g.check(msg(1, 0, kNow - 5000, false), kNow)), Errc::expired);
  EXPECT_EQ(code(g.check(msg(1, 0, kNow - 10'001, true), kNow)), Errc::expired);
  testing::expect_ok(g.check(msg(2, 0, kNow - 10'000, true), kNow));  // exactly its max age
  o.retained = RetainedPolicy::refuse;
  ReplayGuard strict = take(ReplayGuard::create(o));
  EXPECT_EQ(code(strict.check(msg(1, 0, kNow, true), kNow)), Errc::retained_refused);
}

TEST(ReplayGuard, WindowsArePerTopicBecauseMqttOrdersPerTopic) {
  ReplayGuard g = take(ReplayGuard::create());
  // One session seals on two topics; topic b's message is delayed while
  // 2000 messages on topic a go by.
  testing::expect_ok(g.check(msg(1, 0, kNow, false, "a"), kNow));
  for (uint64_t s = 2; s < 2002; ++s) testing::expect_ok(g.check(msg(1, s, kNow, false, "a"), kNow));
  testing::expect_ok(g.check(msg(1, 1, kNow, false, "b"), kNow));
  EXPECT_EQ(code(g.check(msg(1, 1, kNow, false, "b"), kNow)), Errc::duplicate);
  EXPECT_EQ(code(g.check(msg(1, 0, kNow, false, "a"), kNow)), Errc::replay);
  EXPECT_EQ(g.tracked_streams(), 2u);
}

TEST(ReplayGuard, RetainedFlagDoesNotLetARecentMessageThroughTwice) {
  ReplayGuard g = take(ReplayGuard::create());
  testing::expect_ok(g.check(msg(1, 10), kNow));
  // The same message again, now flagged retained by whoever relays it.
  EXPECT_EQ(code(g.check(msg(1, 10, kNow, true), kNow)), Errc::duplicate);
  // A retained message the window holds but has not seen: accepted once.
  testing::expect_ok(g.check(msg(1, 9, kNow, true), kNow));
  EXPECT_EQ(code(g.check(msg(1, 9, kNow, true), kNow)), Errc::duplicate);
  EXPECT_EQ(code(g.check(msg(1, 9, kNow, false), kNow)), Errc::duplicate);
  // Retained first, live copy second: the live copy is the duplicate.
  testing::expect_ok(g.check(msg(1, 20, kNow, true), kNow));
  EXPECT_EQ(code(g.check(msg(1, 20), kNow)), Errc::duplicate);
  testing::expect_ok(g.check(msg(2, 0, kNow, true), kNow));  // starts a stream ...
  EXPECT_EQ(code(g.check(msg(2, 0), kNow)), Errc::duplicate);  // ... so this repeat is caught
  EXPECT_EQ(g.tracked_streams(), 2u);
}

TEST(ReplayGuard, OldRetainedMessagesOnlyConsultTheWindow) {
  ReplayOptions o;
  o.max_age_ms = 1000;
  ReplayGuard g = take(ReplayGuard::create(o));
  const uint64_t old = kNow - 5000;  // past max_age, within retained_max_age
  testing::expect_ok(g.check(msg(1, 100, kNow), kNow));
  // Old retained messages never slide a window or start one ...
  testing::expect_ok(g.check(msg(1, 5000, old, true), kNow));
  testing::expect_ok(g.check(msg(1, 101), kNow));  // the window did not move to 5000
  testing::expect_ok(g.check(msg(2, 0, old, true), kNow));
  EXPECT_EQ(g.tracked_streams(), 1u);
  // ... but one the window holds is recorded, and a second copy is a duplicate.
  testing::expect_ok(g.check(msg(1, 99, old, true), kNow));
  EXPECT_EQ(code(g.check(msg(1, 99, old, true), kNow)), Errc::duplicate);
  // Below the window, an old retained message is accepted (SECURITY.md) ...
  testing::expect_ok(g.check(msg(1, 5000), kNow));
  testing::expect_ok(g.check(msg(1, 1, old, true), kNow));
  // ... but a young one is checked as a live one: a replay.
  EXPECT_EQ(code(g.check(msg(1, 1, kNow, true), kNow)), Errc::replay);
}

TEST(ReplayGuard, LiveThenRetainedAfterTheWindowMovedIsAReplay) {
  ReplayGuard g = take(ReplayGuard::create());
  testing::expect_ok(g.check(msg(1, 0), kNow));
  for (uint64_t s = 1; s <= kReplayWindow; ++s) testing::expect_ok(g.check(msg(1, s), kNow));
  EXPECT_EQ(code(g.check(msg(1, 0, kNow, true), kNow)), Errc::replay);
}

TEST(ReplayGuard, RebootedSenderIsANewSender) {
  ReplayGuard g = take(ReplayGuard::create());
  for (uint64_t s = 0; s < 100; ++s) testing::expect_ok(g.check(msg(1, s, kNow), kNow));
  // After a reboot the device has a new sender ID and starts again at 0.
  testing::expect_ok(g.check(msg(2, 0, kNow + 10), kNow + 10));
  // The pre-reboot messages stay refused.
  EXPECT_EQ(code(g.check(msg(1, 50, kNow), kNow + 10)), Errc::duplicate);
  // And once past the maximum age they are refused as expired.
  EXPECT_EQ(code(g.check(msg(1, 50, kNow), kNow + g.options().max_age_ms + 1)), Errc::expired);
}

TEST(ReplayGuard, BoundedMemoryWithoutReopeningReplays) {
  ReplayOptions o;
  o.max_streams = 8;
  ReplayGuard g = take(ReplayGuard::create(o));
  for (uint8_t s = 1; s <= 8; ++s) testing::expect_ok(g.check(msg(s, 0, kNow + s), kNow + s));
  EXPECT_EQ(g.tracked_streams(), 8u);
  // A ninth sender evicts the least recently seen (sender 1) ...
  testing::expect_ok(g.check(msg(9, 0, kNow + 9), kNow + 9));
  EXPECT_EQ(g.tracked_streams(), 8u);
  EXPECT_EQ(g.watermark_ms(), kNow + 1);
  // ... and a replay of sender 1's message is still refused.
  EXPECT_EQ(code(g.check(msg(1, 0, kNow + 1), kNow + 10)), Errc::replay);
  // A fresh message from a sender it forgot is accepted.
  testing::expect_ok(g.check(msg(1, 1, kNow + 11), kNow + 11));
}

TEST(ReplayGuard, AStreamRestartedAfterEvictionRefusesItsOldMessages) {
  ReplayOptions o;
  o.max_streams = 1;
  ReplayGuard g = take(ReplayGuard::create(o));
  testing::expect_ok(g.check(msg(1, 0, kNow), kNow));      // stream 1: message m0
  testing::expect_ok(g.check(msg(2, 0, kNow + 1), kNow + 1));  // evicts stream 1
  EXPECT_EQ(g.watermark_ms(), kNow);
  testing::expect_ok(g.check(msg(1, 5, kNow + 2), kNow + 2));  // stream 1 again, newer
  // m0 would now sit inside stream 1's new window, unseen: the floor refuses it.
  EXPECT_EQ(code(g.check(msg(1, 0, kNow), kNow + 3)), Errc::replay);
  EXPECT_EQ(code(g.check(msg(1, 0, kNow, true), kNow + 3)), Errc::replay);
}

// Suite 3's partitions (anyone with the recipient's public key seals into
// them): an evicted stream leaves a tombstone, so the flood that evicted it
// raises no watermark, and the stream comes back as it was.
constexpr char kOpenPartition[] = "\x03" "backend";  // as the Opener names a recipient's

MessageFacts open_msg(uint8_t sender, uint64_t seq, uint64_t ts) {
  MessageFacts m = msg(sender, seq, ts);
  m.key_name = kOpenPartition;
  m.public_sealers = true;
  return m;
}

TEST(ReplayGuard, APublicSealersPartitionRemembersEachEvictedStream) {
  ReplayOptions o;
  o.max_streams = 1;
  o.max_evicted_streams = 2;
  ReplayGuard g = take(ReplayGuard::create(o));
  testing::expect_ok(g.check(open_msg(1, 2000, kNow), kNow));
  testing::expect_ok(g.check(open_msg(2, 0, kNow + 50'000), kNow + 1));  // evicts stream 1 to a tombstone
  EXPECT_EQ(g.watermark_ms(kOpenPartition), 0u);
  EXPECT_EQ(g.tracked_streams(), 1u);
  testing::expect_ok(g.check(open_msg(3, 0, kNow + 2), kNow + 2));  // a new stream, dated before the flood's
  // Stream 1 comes back: everything up to its top counts as seen, nothing above.
  EXPECT_EQ(code(g.check(open_msg(1, 2000, kNow), kNow + 3)), Errc::duplicate);
  EXPECT_EQ(code(g.check(open_msg(1, 1999, kNow), kNow + 3)), Errc::duplicate);
  EXPECT_EQ(code(g.check(open_msg(1, 1990, kNow), kNow + 3)), Errc::duplicate);
  EXPECT_EQ(code(g.check(open_msg(1, 2000 - kReplayWindow, kNow), kNow + 3)), Errc::replay);
  testing::expect_ok(g.check(open_msg(1, 2002, kNow + 4), kNow + 4));
  testing::expect_ok(g.check(open_msg(1, 2001, kNow + 4), kNow + 4));  // reordered, above the old top
  EXPECT_EQ(code(g.check(open_msg(1, 2001, kNow + 4), kNow + 5)), Errc::duplicate);
  EXPECT_EQ(code(g.check(open_msg(1, 1500, kNow), kNow + 5)), Errc::duplicate);
  // Full, the tombstone with the lowest bar goes into the watermark: stream
  // 3's (kNow + 2), then stream 1's (kNow + 4); stream 2's (kNow + 50 s) stays.
  testing::expect_ok(g.check(open_msg(4, 0, kNow + 6), kNow + 6));
  EXPECT_EQ(g.watermark_ms(kOpenPartition), kNow + 2);
  testing::expect_ok(g.check(open_msg(5, 0, kNow + 7), kNow + 7));
  EXPECT_EQ(g.watermark_ms(kOpenPartition), kNow + 4);
  EXPECT_EQ(code(g.check(open_msg(3, 0, kNow + 2), kNow + 8)), Errc::replay);
  EXPECT_EQ(code(g.check(open_msg(2, 0, kNow + 50'000), kNow + 8)), Errc::duplicate);  // from its tombstone
  // Without public_sealers (suite 1's key names) the watermark rises at once.
  testing::expect_ok(g.check(msg(1, 0, kNow), kNow));
  testing::expect_ok(g.check(msg(2, 0, kNow + 1), kNow + 1));
  EXPECT_EQ(g.watermark_ms(), kNow);
}

// An old retained message of an evicted suite 3 stream raises its
// tombstone's bar: after the receiver's clock steps back, the same envelope is
// not accepted again live (a tombstone is revived whatever the watermark).
TEST(ReplayGuard, AnOldRetainedMessageOfATombstonedStreamStaysRefusedAfterAClockStepBack) {
  ReplayOptions o;
  o.max_streams = 1;
  ReplayGuard g = take(ReplayGuard::create(o));
  testing::expect_ok(g.check(open_msg(1, 0, kNow), kNow));
  testing::expect_ok(g.check(open_msg(2, 0, kNow + 1), kNow + 1));  // stream 1 to a tombstone
  const uint64_t later = kNow + 2 * o.max_age_ms;
  MessageFacts retained = open_msg(1, 5, kNow + 2);
  retained.retained = true;
  testing::expect_ok(g.check(retained, later));  // older than max_age: retained rules
  EXPECT_EQ(code(g.check(open_msg(1, 5, kNow + 2), kNow + 10)), Errc::replay);  // clock stepped back
  testing::expect_ok(g.check(open_msg(1, 6, kNow + 11), kNow + 11));  // the stream goes on
}

// A guard with max_age 1 s whose full table of `streams` holds streams 1 to
// `streams`, stream s seen once, at kNow + s.
ReplayGuard full_of_one_second_streams(uint8_t streams) {
  ReplayOptions o;
  o.max_streams = streams;
  o.max_age_ms = 1000;
  ReplayGuard g = take(ReplayGuard::create(o));
  for (uint8_t s = 1; s <= streams; ++s) testing::expect_ok(g.check(msg(s, 0, kNow + s), kNow + s));
  return g;
}

TEST(ReplayGuard, EvictsAgedStreamsFirst) {
  ReplayGuard g = full_of_one_second_streams(4);
  testing::expect_ok(g.check(msg(5, 0, kNow + 5000), kNow + 5000));
  EXPECT_EQ(g.tracked_streams(), 1u);        // the four aged-out streams went ...
  EXPECT_EQ(g.watermark_ms(), kNow + 4);     // ... raising the watermark to their newest
}

// Making room follows each stream's latest message: its newest timestamp
// (a stream refreshed since it began is not aged out with its first
// message), and when it was last seen (a stream seen again goes after one
// seen since its first message).
TEST(ReplayGuard, MakingRoomGoesByEachStreamsLatestMessage) {
  ReplayGuard g = full_of_one_second_streams(3);
  testing::expect_ok(g.check(msg(1, 1, kNow + 1500), kNow + 1500));  // stream 1: newest kNow + 1500
  // Streams 2 and 3 are past max_age: both go; stream 1 stays.
  testing::expect_ok(g.check(msg(4, 0, kNow + 1600), kNow + 1600));
  EXPECT_EQ(g.watermark_ms(), kNow + 3);
  EXPECT_EQ(g.tracked_streams(), 2u);
  EXPECT_EQ(code(g.check(msg(1, 0, kNow + 1500), kNow + 1600)), Errc::duplicate);  // still tracked
  testing::expect_ok(g.check(msg(1, 2, kNow + 1700), kNow + 1700));
  testing::expect_ok(g.check(msg(5, 0, kNow + 1800), kNow + 1800));
  // Stream 4 was last seen before streams 1 and 5 were: it goes.
  testing::expect_ok(g.check(msg(6, 0, kNow + 1900), kNow + 1900));
  EXPECT_EQ(g.watermark_ms(), kNow + 1600);
  EXPECT_EQ(code(g.check(msg(1, 1, kNow + 1500), kNow + 1900)), Errc::duplicate);
}

TEST(ReplayGuard, AClockSteppingBackDoesNotReopenAReplay) {
  ReplayOptions o;
  o.max_streams = 1;
  o.max_age_ms = 1000;
  ReplayGuard g = take(ReplayGuard::create(o));
  testing::expect_ok(g.check(msg(1, 0, kNow), kNow));
  // A new stream at now = kNow + 1001 drops stream 1 as aged out ...
  testing::expect_ok(g.check(msg(2, 0, kNow + 1001), kNow + 1001));
  // ... then the receiver's clock reads 2 ms earlier: stream 1's message is
  // within max_age again, but it was accepted once and stays refused.
  EXPECT_EQ(code(g.check(msg(1, 0, kNow), kNow + 999)), Errc::replay);
}

TEST(ReplayGuard, AnOldRetainedMessageStaysRefusedWhenTheClockStepsBack) {
  ReplayOptions o;
  o.max_age_ms = 1000;
  ReplayGuard g = take(ReplayGuard::create(o));
  // Accepted as an old retained message on an untracked stream ...
  testing::expect_ok(g.check(msg(1, 0, kNow, true), kNow + 1001));
  // ... then the clock reads 2 ms earlier and the same message comes live.
  EXPECT_EQ(code(g.check(msg(1, 0, kNow), kNow + 999)), Errc::replay);
  // On a tracked stream, above its top: the stream's floor rises.
  testing::expect_ok(g.check(msg(2, 0, kNow + 5000), kNow + 5000));
  testing::expect_ok(g.check(msg(2, 9, kNow + 3000, true), kNow + 5000));
  EXPECT_EQ(code(g.check(msg(2, 9, kNow + 3000), kNow + 3999)), Errc::replay);
}

TEST(ReplayGuard, ARaisedFloorSurvivesItsStreamBeingDropped) {
  ReplayOptions o;
  o.max_streams = 1;
  o.max_age_ms = 1000;
  ReplayGuard g = take(ReplayGuard::create(o));
  testing::expect_ok(g.check(msg(1, 0, kNow - 1), kNow - 1));
  testing::expect_ok(g.check(msg(1, 1, kNow, true), kNow + 1001));  // old retained: floor = kNow
  testing::expect_ok(g.check(msg(2, 0, kNow + 1001), kNow + 1001));  // drops stream 1 for its age
  EXPECT_EQ(g.watermark_ms(), kNow);
  EXPECT_EQ(code(g.check(msg(1, 1, kNow), kNow + 999)), Errc::replay);  // clock stepped back
}

TEST(ReplayGuard, ANewStreamsFirstMessageIsADuplicateNotAReplayOnRedelivery) {
  ReplayOptions o;
  o.max_streams = 1;
  ReplayGuard g = take(ReplayGuard::create(o));
  testing::expect_ok(g.check(msg(1, 0, kNow + 10), kNow + 10));
  // Stream 2's first message is older than stream 1's newest: making room for
  // it raises the watermark above its own timestamp.
  testing::expect_ok(g.check(msg(2, 0, kNow + 5), kNow + 11));
  EXPECT_EQ(code(g.check(msg(2, 0, kNow + 5), kNow + 11)), Errc::duplicate);
}

// State is per key name: evictions in one partition never raise another's
// watermark, and the same sender ID under two key names is two streams.
TEST(ReplayGuard, KeyNamesArePartitions) {
  ReplayOptions o;
  o.max_streams = 2;
  ReplayGuard g = take(ReplayGuard::create(o));
  auto under = [](std::string_view key_name, MessageFacts m) {
    m.key_name = key_name;
    return m;
  };
  EXPECT_TRUE(g.check(under("b", msg(1, 0)), kNow));
  for (uint8_t s = 10; s < 20; ++s) {
    (void)g.check(under("a", msg(s, 0, kNow + 59'000)), kNow);
  }
  EXPECT_EQ(g.watermark_ms("a"), kNow + 59'000);
  EXPECT_EQ(g.watermark_ms("b"), 0u);
  EXPECT_TRUE(g.check(under("b", msg(1, 1)), kNow + 1));
  EXPECT_TRUE(g.check(under("b", msg(2, 0)), kNow + 2));  // a new sender under b
  EXPECT_EQ(code(g.check(under("a", msg(3, 0, kNow + 3)), kNow + 3)), Errc::replay);
  // One sender ID, two key names: two streams.
  EXPECT_TRUE(g.check(under("c", msg(1, 1)), kNow + 4));
  EXPECT_EQ(code(g.check(under("b", msg(1, 1)), kNow + 5)), Errc::duplicate);
}

// A stream whose newest message is exactly max_age old may still receive
// messages that old: making room must not drop it as aged out (here the least
// recently seen stream goes instead).
TEST(ReplayGuard, MakingRoomKeepsAStreamExactlyMaxAgeOld) {
  ReplayOptions o;
  o.max_streams = 2;
  o.max_age_ms = 1000;
  ReplayGuard g = take(ReplayGuard::create(o));
  testing::expect_ok(g.check(msg(3, 0, kNow + 1800), kNow + 1800));
  testing::expect_ok(g.check(msg(1, 0, kNow + 1000), kNow + 1900));  // seen later than stream 3
  testing::expect_ok(g.check(msg(2, 0, kNow + 2000), kNow + 2000));  // the table is full
  EXPECT_EQ(g.watermark_ms(), kNow + 1800);                           // stream 3 was evicted
  testing::expect_ok(g.check(msg(1, 1, kNow + 1000), kNow + 2000));  // age exactly max_age
  EXPECT_EQ(code(g.check(msg(1, 0, kNow + 1000), kNow + 2000)), Errc::duplicate);
}

// A reordered message with an older timestamp does not lower its stream's
// newest timestamp: when the stream is evicted, the watermark rises to the
// newest one, so its newest message stays refused.
TEST(ReplayGuard, AReorderedOlderMessageDoesNotLowerTheWatermarkOnEviction) {
  ReplayOptions o;
  o.max_streams = 1;
  ReplayGuard g = take(ReplayGuard::create(o));
  testing::expect_ok(g.check(msg(1, 2, kNow), kNow));
  testing::expect_ok(g.check(msg(1, 1, kNow - 500), kNow));       // reordered, sealed earlier
  testing::expect_ok(g.check(msg(2, 0, kNow + 1), kNow + 1));     // evicts stream 1
  EXPECT_EQ(g.watermark_ms(), kNow);
  EXPECT_EQ(code(g.check(msg(1, 2, kNow), kNow + 2)), Errc::replay);
}

// At most kMaxPolicyRules key names have replay state (a policy cannot name
// more); one more is refused, and the names that have it keep working.
TEST(ReplayGuard, KeyNamesAreBoundedByThePolicyRuleLimit) {
  ReplayGuard g = take(ReplayGuard::create());
  std::vector<std::string> names;
  for (size_t i = 0; i <= kMaxPolicyRules; ++i) names.push_back("k" + std::to_string(i));
  auto under = [&](size_t i, uint64_t seq) {
    MessageFacts m = msg(1, seq);
    m.key_name = names[i];
    return m;
  };
  for (size_t i = 0; i < kMaxPolicyRules; ++i) testing::expect_ok(g.check(under(i, 0), kNow));
  EXPECT_EQ(code(g.check(under(kMaxPolicyRules, 0), kNow)), Errc::capacity_exceeded);
  testing::expect_ok(g.check(under(0, 1), kNow));
  EXPECT_EQ(code(g.check(under(kMaxPolicyRules - 1, 0), kNow)), Errc::duplicate);
}

// Signers come and go over a receiver's life (set_keyring), so the 4096
// signer partitions are not a bound on the signers ever heard from: a new
// signer takes the partition of the one whose latest message is the oldest once all
// of that one's messages are past max_age; nothing it accepted is accepted
// again, as its bar becomes the watermark every later signer partition
// starts with. Only 4096 signers each heard from within max_age refuse the
// next one (capacity_exceeded).
TEST(ReplayGuard, SignerPartitionsPastMaxAgeGiveWayToNewSigners) {
  constexpr size_t kSigners = 4096;  // kMaxSignerPartitions
  ReplayOptions o;
  o.max_age_ms = 10'000;  // more than the kNow .. kNow + 4095 the signers are heard at
  ReplayGuard g = take(ReplayGuard::create(o));
  std::vector<std::string> names;
  for (size_t i = 0; i <= kSigners + 1; ++i) names.push_back("s" + std::to_string(i));
  auto by = [&](size_t i, uint8_t sender, uint64_t ts) {
    MessageFacts m = msg(sender, 0, ts);
    m.key_name = "k";
    m.signer = names[i];
    return m;
  };
  // Signer i is heard from at kNow + i: s0 least recently.
  for (size_t i = 0; i < kSigners; ++i) testing::expect_ok(g.check(by(i, 1, kNow + i), kNow + i));
  // All within max_age: one more signer is refused, and changes nothing.
  const uint64_t live = kNow + kSigners;
  EXPECT_EQ(code(g.check(by(kSigners, 1, live), live)), Errc::capacity_exceeded);
  EXPECT_EQ(code(g.check(by(0, 1, kNow), live)), Errc::duplicate);  // s0's partition is still there
  // Once s0's messages are past max_age, the new signer takes its partition.
  const uint64_t later = kNow + o.max_age_ms + 1;
  testing::expect_ok(g.check(by(kSigners, 1, later), later));
  EXPECT_EQ(g.signer_watermark_ms(names[0]), 0u);  // s0 has no partition now
  // s0 is heard from again: it takes s1's (past max_age too) and starts at
  // s0's bar, so its message accepted before is refused even by a receiver
  // whose clock stepped back to when it was young.
  const uint64_t much_later = kNow + 1 + o.max_age_ms + 1;
  testing::expect_ok(g.check(by(0, 2, much_later), much_later));
  EXPECT_GE(g.signer_watermark_ms(names[0]), kNow);
  EXPECT_EQ(code(g.check(by(0, 1, kNow), kNow)), Errc::replay);
  // A signer with a message within max_age keeps its partition: s4095's
  // duplicate is still one.
  EXPECT_EQ(code(g.check(by(kSigners - 1, 1, kNow + kSigners - 1), much_later)), Errc::duplicate);
}

// Found by fuzzing (tests/fuzz/regressions/replay_guard): an old retained
// message inside a tracked window, whose timestamp is above the stream's
// newest (an insider can seal timestamps that do not grow with the
// sequence), must stay refused as a young one after its stream is dropped
// and the receiver's clock steps back.
TEST(ReplayGuard, AnOldRetainedMessageStaysRefusedAfterEvictionAndAClockStepBack) {
  ReplayOptions o;
  o.max_streams = 1;
  ReplayGuard g = take(ReplayGuard::create(o));
  EXPECT_TRUE(g.check(msg(1, 10, kNow), kNow));
  const uint64_t ts = kNow + 1000;
  const uint64_t later = ts + o.max_age_ms + 1;
  EXPECT_TRUE(g.check(msg(1, 5, ts, true), later));  // old, retained, in the window
  EXPECT_TRUE(g.check(msg(2, 0, later), later));     // another stream: sender 1's is dropped
  EXPECT_GE(g.watermark_ms(), ts);
  EXPECT_EQ(code(g.check(msg(1, 5, ts), ts)), Errc::replay);  // the clock stepped back
}

// The stream table's hash before it was keyed: the sender ID's first eight
// bytes, XOR the topic's hash times a constant. A sealer chooses its sender
// ID (suite 1: any key holder; suite 3: anyone with the recipient's public
// key, through the stream ID it derives), so it could make every stream of
// a partition hash alike and every lookup there walk all of them.
size_t unkeyed_stream_hash(const SenderId& sender, std::string_view topic) {
  size_t h;
  std::memcpy(&h, sender.data(), sizeof h);
  return h ^ (std::hash<std::string_view>{}(topic) * 0x9e3779b97f4a7c15ull);
}

TEST(ReplayGuard, StreamsChosenToCollideDoNotShareABucket) {
  ReplayGuard g = take(ReplayGuard::create());  // max_streams 4096
  const size_t streams = g.options().max_streams;
  MessageFacts first = msg(0x5a, 0);
  for (size_t i = 0; i < streams; ++i) {
    MessageFacts m = msg(0x5a, 0, kNow);
    std::memcpy(m.sender.data() + 8, &i, sizeof i);  // only the last eight bytes differ
    ASSERT_EQ(unkeyed_stream_hash(m.sender, m.topic), unkeyed_stream_hash(first.sender, first.topic));
    testing::expect_ok(g.check(m, kNow));
  }
  ASSERT_EQ(g.tracked_streams(), streams);
  // Unkeyed, all 4096 shared one bucket. Keyed, 4096 random hashes in at
  // least 4096 buckets: the fullest holds about 6, and more than 24 has
  // probability below 2^-60.
  EXPECT_LE(internal::ReplayGuardProbe::largest_stream_bucket(g, ""), 24u);
}

// CPU seconds to check `count` new streams (each making room in a full
// table once it is full), the i-th dated kNow + first + i.
double track_new_streams(ReplayGuard& g, uint32_t first, uint32_t count) {
  const std::clock_t start = std::clock();
  for (uint32_t i = first; i < first + count; ++i) {
    MessageFacts m = msg(0, 0, kNow + i);
    std::memcpy(m.sender.data(), &i, sizeof i);
    testing::expect_ok(g.check(m, kNow + i));
  }
  return static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
}

TEST(ReplayGuard, EvictionCostsTheSameWhateverTheTableHolds) {
  // Full, a table of 2^18 streams makes room as fast as one of 1024: neither
  // the streams past max_age nor the least recently seen one is found by a
  // scan of every stream.
  constexpr uint32_t kSmall = 1024;
  constexpr uint32_t kLarge = 1u << 18;
  ReplayOptions o;
  o.max_streams = kSmall;
  ReplayGuard small = take(ReplayGuard::create(o));
  o.max_streams = kLarge;
  ReplayGuard large = take(ReplayGuard::create(o));
  track_new_streams(small, 0, kSmall);
  track_new_streams(large, 0, kLarge);  // 262 s of timestamps: none past max_age
  ASSERT_EQ(large.tracked_streams(), kLarge);
  constexpr uint32_t kEvictions = 2000;
  const double small_s = track_new_streams(small, kLarge, kEvictions);
  const double large_s = track_new_streams(large, kLarge, kEvictions);
  EXPECT_LT(large_s, 20 * small_s + 0.05) << "1024: " << small_s << " s, 2^18: " << large_s << " s";
  // The same choice as ever, the least recently seen first: the watermark is
  // the newest timestamp of the last stream evicted.
  EXPECT_EQ(large.watermark_ms(), kNow + kEvictions - 1);
  EXPECT_EQ(small.watermark_ms(), kNow + kLarge + kEvictions - kSmall - 1);
  EXPECT_EQ(large.tracked_streams(), kLarge);
}

TEST(ReplayGuard, OptionsAreValidated) {
  ReplayOptions o;
  o.max_age_ms = 0;
  EXPECT_EQ(ReplayGuard::create(o).error(), Errc::invalid_argument);
  o = ReplayOptions{};
  o.max_streams = 0;
  EXPECT_EQ(ReplayGuard::create(o).error(), Errc::invalid_argument);
  o.max_streams = (size_t{1} << 24) + 1;
  EXPECT_EQ(ReplayGuard::create(o).error(), Errc::invalid_argument);
}

}  // namespace
}  // namespace mqseal
