// An fsync for a test binary that links tests/fsync_recorder.cpp: the
// executable's definition is the one every call in it reaches (ELF symbol
// interposition; the library is linked in statically). It records the path
// of each file or directory synced, then syncs it for real, or fails for a
// directory when asked to. Built as a shared library too
// (mqseal_fsync_recorder), for preloading into a program the test runs, with
// MQSEAL_TEST_FAIL_DIRECTORY_FSYNC_AFTER=N in its environment: its first N
// directory fsyncs succeed, every later one fails with EIO.
#ifndef MQSEAL_TESTS_FSYNC_RECORDER_H_
#define MQSEAL_TESTS_FSYNC_RECORDER_H_

#include <string>
#include <vector>

namespace mqseal::testing {

// The paths synced since the last call (in order), and forgets them.
std::vector<std::string> take_synced();
// While true, fsync of a directory fails with EIO (recorded all the same).
void fail_directory_fsync(bool fail);

}  // namespace mqseal::testing

#endif  // MQSEAL_TESTS_FSYNC_RECORDER_H_
