#include "base/sodium_util.h"

#include <sodium.h>

namespace mqseal::internal {

Status ensure_sodium() {
  // sodium_init is thread-safe and idempotent; caching its answer keeps the
  // hot paths free of its internal lock.
  static const int result = sodium_init();
  if (result < 0) return Error(Errc::crypto_failure, "sodium_init failed");
  return {};
}

void wipe_out_of_line(void* data, size_t size) noexcept { sodium_memzero(data, size); }

}  // namespace mqseal::internal
