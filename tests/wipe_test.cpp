// Key material an open leaves on its thread's stack: none of mqseal's.
// The Opener copies the topic key and the XChaCha20 subkey (HChaCha20(topic
// key, sender)) out of guarded memory onto its stack for each message, and
// the OpenSSL backend copies the subkey once more; each copy is wiped on
// scope exit (base/sodium_util.h, wipe()). A wipe the compiler dropped as a
// dead store, or one left out, leaves the key in the dead stack below the
// caller, where any later stack over-read, core dump or swapped page finds
// it. The open runs on a thread whose stack is memory this test owns, filled
// with a pattern first; after the thread has exited, the whole stack is
// searched for both keys.
//
// What this does not cover: CPU registers. A key may stay in a register after
// the call that used it, and whatever saves the register file on the stack
// then writes it there. The program is linked with -z now
// (as everything the build links: CMakeLists.txt; checked below) because lazy binding does exactly
// that: the first call of a function through the program's PLT runs the
// dynamic linker's _dl_runtime_resolve_xsavec, which saves every vector
// register on the thread's stack. Linked lazily, the sanitizer build
// (Debug, ASan) found the subkey on the stack after every first open on
// OpenSSL's path: its -O0 memcpy of the subkey into the resolver's cache
// (store_subkey) goes through ASan's interceptor to glibc's AVX-512 memmove,
// which leaves the 32 bytes in ymm17, a register nothing else here touches;
// at the thread's exit, ThreadContexts' destructor called EVP_CIPHER_CTX_free
// for the first time in the process, its lazy binding saved zmm17 on the
// stack (watched in gdb: the write was the XSAVEC in
// _dl_runtime_resolve_xsavec, at zmm17's place in the save area), and the
// test found it. With LD_BIND_NOW=1, or with glibc's AVX-512 string
// functions turned off, it found nothing. The optimized builds copy the
// subkey inline through xmm0 and xmm1, which the code after it overwrites:
// nothing found there, linked lazily or not, but by luck, not by design.
#include <mqseal/hazmat/envelope.h>
#include <mqseal/opener.h>
#include <mqseal/sealer.h>
#include <gtest/gtest.h>
#include <link.h>
#include <pthread.h>
#include <sodium.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "test_util.h"

namespace mqseal {
namespace {

using testing::expect_ok;
using testing::take;

constexpr const char* kTopic = "plant/42/sensors/temperature";
constexpr size_t kThreadStackSize = 1024 * 1024;
constexpr size_t kStackAlignment = 4096;
constexpr uint8_t kStackFill = 0xa5;

struct Fixture {
  std::shared_ptr<Keyring> keys = std::make_shared<Keyring>();
  TopicPolicy policy;
  uint8_t topic_key[kKeySize] = {};
  // `aes`: a suite 5 rule (AES-256-GCM), else suite 1.
  explicit Fixture(bool aes = false) {
    std::vector<uint8_t> raw(kKeySize);
    randombytes_buf(raw.data(), raw.size());
    Key key = take(Key::from_bytes(raw));
    expect_ok(hazmat::derive_topic_key(key, kTopic, topic_key));
    EXPECT_TRUE(keys->add("telemetry", std::move(key)));
    EXPECT_TRUE(aes ? policy.add_aes256gcm_rule("plant/+/sensors/#", "telemetry")
                    : policy.add_rule("plant/+/sensors/#", "telemetry"));
  }
};

// Where `needle` is in `stack`, as a depth below the stack's top (where the
// thread started), for the failure message; 0 if it is not there.
size_t depth_of(const std::vector<uint8_t>& stack, const uint8_t* needle, size_t size) {
  const auto at = std::search(stack.begin(), stack.end(), needle, needle + size);
  return at == stack.end() ? 0 : static_cast<size_t>(stack.end() - at);
}

// True if this program was linked with -z now: no lazy binding, so the
// dynamic linker never saves the register file on an opening thread's stack.
bool bound_at_load() {
  for (const ElfW(Dyn)* d = _DYNAMIC; d->d_tag != DT_NULL; ++d) {
    if (d->d_tag == DT_FLAGS && (d->d_un.d_val & DF_BIND_NOW) != 0) return true;
    if (d->d_tag == DT_FLAGS_1 && (d->d_un.d_val & DF_1_NOW) != 0) return true;
  }
  return false;
}

struct OpenJob {
  Opener* opener;
  const std::vector<uint8_t>* envelope;
  bool ok = false;
};

void* run_open(void* arg) {
  auto* job = static_cast<OpenJob*>(arg);
  Opened out;
  job->ok = static_cast<bool>(job->opener->open(kTopic, *job->envelope, Delivery{}, out));
  return nullptr;
}

// Opens `envelope` on a thread whose stack is a buffer of ours; returns that
// stack's bytes once the thread has exited (empty if the thread did not run).
std::vector<uint8_t> stack_after_open(Opener& opener, const std::vector<uint8_t>& envelope, bool& opened) {
  void* memory = nullptr;
  if (posix_memalign(&memory, kStackAlignment, kThreadStackSize) != 0) return {};
  std::unique_ptr<void, decltype(&std::free)> stack(memory, &std::free);
  std::memset(memory, kStackFill, kThreadStackSize);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  OpenJob job{&opener, &envelope};
  pthread_t thread;
  const bool started = pthread_attr_setstack(&attr, memory, kThreadStackSize) == 0 &&
                       pthread_create(&thread, &attr, run_open, &job) == 0;
  pthread_attr_destroy(&attr);
  if (!started) return {};
  pthread_join(thread, nullptr);
  opened = job.ok;
  const auto* bytes = static_cast<const uint8_t*>(memory);
  return std::vector<uint8_t>(bytes, bytes + kThreadStackSize);
}

// Sizes on each side of aead::kOpensslMinSize: libsodium's path and, in a
// core built with OpenSSL, OpenSSL's.
class WipeTest : public ::testing::TestWithParam<size_t> {};

// Seals two messages of `size` bytes under `f`'s rule and opens them, cold
// then warm, each on a stack of ours: neither the topic key nor `subkey` of
// the sender (the second message's header) may be left there.
void expect_no_key_left(Fixture& f, size_t size, bool aes);

TEST_P(WipeTest, AnOpenLeavesNeitherTheTopicKeyNorTheSubkeyOnItsStack) {
  Fixture f;
  expect_no_key_left(f, GetParam(), false);
}

// Suite 5: the subkey is the AES-256 key, and an expanded AES-256 key
// schedule begins with the key itself (round keys 0 and 1), so a schedule
// left on the stack is found as the subkey.
TEST_P(WipeTest, ASuite5OpenLeavesNeitherTheTopicKeyNorTheAesKeyOnItsStack) {
  if (sodium_init() < 0 || crypto_aead_aes256gcm_is_available() != 1) GTEST_SKIP() << "no AES-NI here";
  Fixture f(true);
  expect_no_key_left(f, GetParam(), true);
}

void expect_no_key_left(Fixture& f, size_t size, bool aes) {
  ASSERT_TRUE(bound_at_load()) << "wipe_test must be linked with -z now (see the comment at the top)";
  Sealer sealer = take(Sealer::create(f.policy, f.keys));
  Opener opener = take(Opener::create(f.policy, f.keys));
  const std::vector<uint8_t> payload(size, 0x42);
  std::vector<uint8_t> first;
  std::vector<uint8_t> second;
  expect_ok(sealer.seal(kTopic, payload, first));
  expect_ok(sealer.seal(kTopic, payload, second));
  const EnvelopeHeader header = take(parse_header(second));
  uint8_t subkey[kKeySize];
  if (aes) {
    // docs/SPEC.md, section 4e.
    static const unsigned char personal[crypto_generichash_blake2b_PERSONALBYTES] = {
        'm', 'q', 's', 'e', 'a', 'l', ' ', 'a', 'e', 's', '2', '5', '6', 'g', 'c', 'm'};
    ASSERT_EQ(crypto_generichash_blake2b_salt_personal(subkey, sizeof subkey, header.sender.data(),
                                                       header.sender.size(), f.topic_key, sizeof f.topic_key,
                                                       nullptr, personal),
              0);
  } else {
    ASSERT_EQ(crypto_core_hchacha20(subkey, header.sender.data(), f.topic_key, nullptr), 0);
  }

  // Cold (the topic key derived, then the subkey), then warm (both from the
  // resolver's cache): each copies both keys onto the stack.
  for (const std::vector<uint8_t>* envelope : {&first, &second}) {
    SCOPED_TRACE(envelope == &first ? "cold open" : "warm open");
    bool opened = false;
    const std::vector<uint8_t> stack = stack_after_open(opener, *envelope, opened);
    ASSERT_FALSE(stack.empty()) << "could not run a thread on a stack of ours";
    ASSERT_TRUE(opened);
    EXPECT_TRUE(std::count(stack.begin(), stack.end(), kStackFill) > 0) << "the stack was not ours";
    EXPECT_EQ(depth_of(stack, f.topic_key, sizeof f.topic_key), 0u)
        << "the topic key stayed on the stack, this many bytes below its top";
    EXPECT_EQ(depth_of(stack, subkey, sizeof subkey), 0u)
        << "the subkey stayed on the stack, this many bytes below its top";
  }
  sodium_memzero(subkey, sizeof subkey);
}

INSTANTIATE_TEST_SUITE_P(PayloadSizes, WipeTest, ::testing::Values(size_t{64}, size_t{16384}));

}  // namespace
}  // namespace mqseal
