// Helpers for the examples: Paho MQTTAsync calls report completion through
// callbacks; examples often just want to wait. Not part of the library.
#ifndef MQSEAL_EXAMPLES_PAHO_WAIT_H_
#define MQSEAL_EXAMPLES_PAHO_WAIT_H_

#include <MQTTAsync.h>

#include <chrono>
#include <future>
#include <thread>

namespace example {

inline constexpr auto kTimeout = std::chrono::seconds(10);

// Runs `start(options)` with its completion callbacks wired to a promise, and
// waits. Works for MQTTAsync_connectOptions, MQTTAsync_responseOptions and
// MQTTAsync_disconnectOptions, which share these fields (for an MQTT 5
// client, set onSuccess5 and onFailure5 instead: Paho reports through those).
template <typename Options, typename Start>
bool wait_for(Options& options, Start start) {
  std::promise<bool> done;
  options.context = &done;
  options.onSuccess = [](void* c, MQTTAsync_successData*) {
    static_cast<std::promise<bool>*>(c)->set_value(true);
  };
  options.onFailure = [](void* c, MQTTAsync_failureData*) {
    static_cast<std::promise<bool>*>(c)->set_value(false);
  };
  auto result = done.get_future();
  if (start(options) != MQTTASYNC_SUCCESS) return false;
  return result.wait_for(kTimeout) == std::future_status::ready && result.get();
}

// Waits until every message sent on `client` has been acknowledged.
inline bool wait_for_pending(MQTTAsync client) {
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    MQTTAsync_token* pending = nullptr;
    if (MQTTAsync_getPendingTokens(client, &pending) != MQTTASYNC_SUCCESS) return false;
    const bool idle = pending == nullptr || pending[0] == -1;
    MQTTAsync_free(pending);
    if (idle) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace example

#endif  // MQSEAL_EXAMPLES_PAHO_WAIT_H_
