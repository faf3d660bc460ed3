// The Paho adapter's declined messages (paho/src/attachment.h), driven
// directly: Paho offers a declined message again at the same address, but a
// message Paho freed without offering it again (a clean session's queue when
// the session ends) can leave that address to the next message. Nothing but
// the message that was opened and declined may skip opening.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "attachment.h"
#include "mqseal/paho/async.h"
#include "test_util.h"

namespace mqseal {
namespace {

// The adapter's Api for MQTTAsync (as in paho/src/async.cpp), with messages
// this test allocates itself.
struct TestApi {
  using Message = MQTTAsync_message;
  using Callbacks = paho::AsyncCallbacks;
  using Token = MQTTAsync_token;
  using AttachmentBase = paho::AsyncAttachment;
  static void free_message(Message** message) {
    std::free((*message)->payload);
    (*message)->payload = nullptr;
    *message = nullptr;  // the struct is the test's
  }
  static void free_topic(char*) {}
  static std::string describe(int rc) { return std::to_string(rc); }
};

struct Seen {
  std::vector<std::string> delivered;
  std::vector<Errc> refused;
  int decline_next = 0;
};

int arrived(void* context, char*, int, MQTTAsync_message* message) {
  auto* seen = static_cast<Seen*>(context);
  seen->delivered.emplace_back(static_cast<const char*>(message->payload), static_cast<size_t>(message->payloadlen));
  if (seen->decline_next > 0) {
    --seen->decline_next;
    return 0;
  }
  return 1;  // the test owns and frees its messages
}

void refused(void* context, const paho::RefusedMessage& message) {
  static_cast<Seen*>(context)->refused.push_back(message.error.code());
}

void set_payload(MQTTAsync_message& message, const void* bytes, size_t size) {
  std::free(message.payload);
  message.payload = std::malloc(size);
  std::memcpy(message.payload, bytes, size);
  message.payloadlen = static_cast<int>(size);
}

class Declined : public ::testing::Test {
 protected:
  void SetUp() override {
    std::shared_ptr<Keyring> keys = testing::plant_keys();
    sealer_ = std::make_unique<Sealer>(testing::take(Sealer::create(testing::plant_policy(), keys)));
    paho::AsyncCallbacks callbacks;
    callbacks.context = &seen_;
    callbacks.message_arrived = &arrived;
    callbacks.refused = &refused;
    callbacks.refused_context = &seen_;
    attachment_ = std::make_unique<paho::internal::Attachment<TestApi>>(
        std::make_shared<Opener>(testing::take(Opener::create(testing::plant_policy(), keys))), callbacks);
    ASSERT_TRUE(attachment_->ready());
  }
  void TearDown() override { std::free(message_.payload); }

  // Seals `text` for kTopic into message_ and offers it.
  int offer_sealed(const std::string& text) {
    std::vector<uint8_t> sealed;
    testing::expect_ok(sealer_->seal(kTopic, testing::bytes_of(text), sealed));
    set_payload(message_, sealed.data(), sealed.size());
    return offer();
  }
  int offer() {
    MQTTAsync_message* m = &message_;
    return paho::internal::Attachment<TestApi>::on_message(attachment_.get(), topic_.data(),
                                                           static_cast<int>(std::strlen(kTopic)), m);
  }

  static constexpr const char* kTopic = "plant/2/telemetry";
  std::string topic_ = kTopic;
  Seen seen_;
  std::unique_ptr<Sealer> sealer_;
  std::unique_ptr<paho::internal::Attachment<TestApi>> attachment_;
  MQTTAsync_message message_ = MQTTAsync_message_initializer;
};

TEST_F(Declined, TheDeclinedMessageOfferedAgainIsHandedOverOpenedOnce) {
  seen_.decline_next = 1;
  EXPECT_EQ(offer_sealed("21.5 C"), 0);
  EXPECT_EQ(offer(), 1);  // Paho offers the same message again: already plaintext
  EXPECT_EQ(seen_.delivered, (std::vector<std::string>{"21.5 C", "21.5 C"}));
  EXPECT_TRUE(seen_.refused.empty());
}

TEST_F(Declined, AnotherMessageAtADeclinedMessagesAddressIsOpenedNotTrusted) {
  seen_.decline_next = 1;
  EXPECT_EQ(offer_sealed("21.5 C"), 0);
  // Paho frees the declined message without offering it again; the next one,
  // an unsealed forgery, arrives in the same struct.
  const std::string forged = "open the valve";
  set_payload(message_, forged.data(), forged.size());
  EXPECT_EQ(offer(), 1);
  EXPECT_EQ(seen_.delivered, (std::vector<std::string>{"21.5 C"}));
  ASSERT_EQ(seen_.refused.size(), 1u);
  // What still skips opening is only a message identical to the declined
  // one: the same payload buffer, length, topic and plaintext.
}

TEST_F(Declined, APlaintextAlteredInPlaceIsOpenedNotTrusted) {
  seen_.decline_next = 1;
  EXPECT_EQ(offer_sealed("21.5 C"), 0);
  static_cast<char*>(message_.payload)[0] = '9';  // same buffer and length, other bytes
  EXPECT_EQ(offer(), 1);
  EXPECT_EQ(seen_.delivered, (std::vector<std::string>{"21.5 C"}));
  EXPECT_EQ(seen_.refused.size(), 1u);
}

TEST_F(Declined, AMessageDeclinedTwiceComesBackTwice) {
  seen_.decline_next = 2;
  EXPECT_EQ(offer_sealed("21.5 C"), 0);
  EXPECT_EQ(offer(), 0);
  EXPECT_EQ(offer(), 1);
  EXPECT_EQ(seen_.delivered, (std::vector<std::string>{"21.5 C", "21.5 C", "21.5 C"}));
  EXPECT_TRUE(seen_.refused.empty());
}

}  // namespace
}  // namespace mqseal
