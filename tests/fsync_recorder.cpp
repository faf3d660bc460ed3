#include "fsync_recorder.h"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace mqseal::testing {
namespace {

constexpr size_t kMaxPathSize = 4096;

std::mutex g_synced_mutex;
std::vector<std::string> g_synced;
constexpr long kNeverFail = -1;
// Directory fsyncs that still succeed before every later one fails, or
// kNeverFail. A program that preloads this file as a shared library
// (LD_PRELOAD) takes it from MQSEAL_TEST_FAIL_DIRECTORY_FSYNC_AFTER.
long initial_directory_passes() {
  const char* after = std::getenv("MQSEAL_TEST_FAIL_DIRECTORY_FSYNC_AFTER");
  return after != nullptr ? std::strtol(after, nullptr, 10) : kNeverFail;
}
std::atomic<long> g_directory_passes{initial_directory_passes()};

}  // namespace

std::vector<std::string> take_synced() {
  std::lock_guard<std::mutex> lock(g_synced_mutex);
  std::vector<std::string> synced;
  synced.swap(g_synced);
  return synced;
}

void fail_directory_fsync(bool fail) { g_directory_passes = fail ? 0 : kNeverFail; }

namespace {

void record_fsync(int fd) {
  char link[32];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char target[kMaxPathSize];
  const ssize_t n = ::readlink(link, target, sizeof target);
  if (n > 0) {
    std::lock_guard<std::mutex> lock(g_synced_mutex);
    g_synced.emplace_back(target, static_cast<size_t>(n));
  }
}

bool fsync_fails(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  long passes = g_directory_passes.load();
  while (passes > 0 && !g_directory_passes.compare_exchange_weak(passes, passes - 1)) {
  }
  return passes == 0;
}

}  // namespace
}  // namespace mqseal::testing

extern "C" int fsync(int fd) {
  mqseal::testing::record_fsync(fd);
  if (mqseal::testing::fsync_fails(fd)) {
    errno = EIO;
    return -1;
  }
  return static_cast<int>(::syscall(SYS_fsync, fd));
}
