// Private, for tests and benchmarks: the memory this process has locked
// against swapping (Linux: VmLck in /proc/self/status), in KiB; -1 where
// there is no such line. sodium_malloc locks what it allocates where
// RLIMIT_MEMLOCK (or the privilege to exceed it) allows.
#ifndef MQSEAL_SRC_BASE_LOCKED_MEMORY_H_
#define MQSEAL_SRC_BASE_LOCKED_MEMORY_H_

#include <cstdio>

namespace mqseal::internal {

inline long locked_kib() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long kib = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "VmLck: %ld kB", &kib) == 1) break;
  }
  std::fclose(f);
  return kib;
}

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_BASE_LOCKED_MEMORY_H_
