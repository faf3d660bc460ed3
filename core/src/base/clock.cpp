#include "mqseal/clock.h"

#include <chrono>
#include <ctime>

namespace mqseal {

uint64_t system_time_ms() noexcept {
#if defined(CLOCK_REALTIME_COARSE)
  // The coarse clock is read from the vDSO without a system call and costs a
  // third of the precise one; its resolution (a few ms) is far finer than any
  // age limit it is compared with.
  timespec ts{};
  if (clock_gettime(CLOCK_REALTIME_COARSE, &ts) == 0) {
    return static_cast<uint64_t>(ts.tv_sec) * 1000u + static_cast<uint64_t>(ts.tv_nsec) / 1000000u;
  }
#endif
  using namespace std::chrono;
  return static_cast<uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

}  // namespace mqseal
