// For test binaries that start mosquitto with mqseal_auth.so: in a sanitizer
// build the plugin is instrumented (ASan, or TSan) and mosquitto is not, so
// the broker must start with that sanitizer's runtime preloaded
// (MQSEAL_SANITIZER_RUNTIME, tests/CMakeLists.txt). The plugin then runs
// under the sanitizer inside the real broker. Include in one file per binary.
//
// ASan: preloaded into every program the test starts; the broker's own exit
// is not ours to judge (no leak check in it).
// TSan: preloaded into the broker alone (testing::mosquitto_command): the
// TSan runtime crashes uninstrumented programs such as dash, which the tests
// start too. TSAN_OPTIONS is inherited as it is, so that scripts/test's
// log_path collects a report from the broker as from the test (mosquitto's
// stderr goes to its log file, which nothing reads unless a test fails).
#ifndef MQSEAL_TESTS_SANITIZER_PRELOAD_H_
#define MQSEAL_TESTS_SANITIZER_PRELOAD_H_

#include <cstdlib>

#if defined(MQSEAL_SANITIZER_RUNTIME) && (defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__))
namespace {
struct PreloadSanitizerIntoTheBroker {
  PreloadSanitizerIntoTheBroker() {
#if defined(__SANITIZE_ADDRESS__)
    setenv("LD_PRELOAD", MQSEAL_SANITIZER_RUNTIME, 1);
    setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1", 1);  // mosquitto's own exit is not ours to judge
#else
    setenv("MQSEAL_TEST_BROKER_PRELOAD", MQSEAL_SANITIZER_RUNTIME, 1);
#endif
  }
} const g_preload_sanitizer;
}  // namespace
#endif

#endif  // MQSEAL_TESTS_SANITIZER_PRELOAD_H_
