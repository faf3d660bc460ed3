// For test binaries that start mosquitto with mqseal_auth.so: in the
// sanitizer build the plugin is instrumented with ASan and mosquitto is not,
// so the broker must start with the ASan runtime preloaded. The plugin then
// runs under ASan inside the real broker. Include in one file per binary.
#ifndef MQSEAL_TESTS_ASAN_PRELOAD_H_
#define MQSEAL_TESTS_ASAN_PRELOAD_H_

#include <cstdlib>

#if defined(__SANITIZE_ADDRESS__) && defined(MQSEAL_ASAN_RUNTIME)
namespace {
struct PreloadAsanIntoTheBroker {
  PreloadAsanIntoTheBroker() {
    setenv("LD_PRELOAD", MQSEAL_ASAN_RUNTIME, 1);
    setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1", 1);  // mosquitto's own exit is not ours to judge
  }
} const g_preload_asan;
}  // namespace
#endif

#endif  // MQSEAL_TESTS_ASAN_PRELOAD_H_
