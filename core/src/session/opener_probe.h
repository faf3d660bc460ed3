// Tests only: a seam in Opener::open, to run another call at one exact point
// of it (deterministically, no sleeping threads).
#ifndef MQSEAL_SESSION_OPENER_PROBE_H_
#define MQSEAL_SESSION_OPENER_PROBE_H_

#include <functional>

#include "mqseal/opener.h"

namespace mqseal::internal {

struct OpenerProbe {
  // `between` runs in each later suite 3 or 4 open() of `opener` whose
  // envelope opened, outside the Opener's lock, just before the session's
  // keys go into the cache: where a set_keyring() of another thread may
  // land. Empty: nothing runs.
  static void set_before_session_commit(Opener& opener, std::function<void()> between);
};

}  // namespace mqseal::internal

#endif  // MQSEAL_SESSION_OPENER_PROBE_H_
