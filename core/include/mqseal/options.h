// mqseal/options.h: how a Sealer and an Opener are set up.
//
// Kept apart from sealer.h and opener.h so that code needing only a setting
// (the topic cache bounds, say) does not depend on either class.
#ifndef MQSEAL_OPTIONS_H_
#define MQSEAL_OPTIONS_H_

#include <cstddef>
#include <string>

#include "mqseal/clock.h"
#include "mqseal/replay_guard.h"

namespace mqseal {

// Concrete topics whose derived keys a Sealer or Opener keeps cached (least
// recently used go): a warm topic pays no policy scan and no derivation.
inline constexpr size_t kDefaultTopicCacheCapacity = 1024;
inline constexpr size_t kMaxTopicCacheCapacity = 1 << 20;

struct SealerOptions {
  // Concrete topics whose derived keys stay cached, 1..kMaxTopicCacheCapacity.
  size_t topic_cache_capacity = kDefaultTopicCacheCapacity;
  // Where timestamps come from (mqseal/clock.h); empty: system_time_ms().
  // Whatever it returns, a session's timestamps never decrease.
  Clock clock;
  // The signer name this sealer signs as on signed rules (suite 2), with
  // that name's primary signing key. Empty: the keyring's only signer name,
  // if its signing key pairs that are not retired are all of one name (a
  // device's keyring).
  std::string signer;
};

struct OpenerOptions {
  ReplayOptions replay;
  // Concrete topics whose derived keys stay cached, 1..kMaxTopicCacheCapacity.
  size_t topic_cache_capacity = kDefaultTopicCacheCapacity;
};

}  // namespace mqseal

#endif  // MQSEAL_OPTIONS_H_
