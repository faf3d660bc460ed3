// tests/fuzz/replay_main.cpp: a fuzz target without libFuzzer.
//
//   fuzz_<name>_replay FILE_OR_DIR...    runs every file through the target,
//                                        each in a child process; exit 1 if
//                                        any crashed (names the files)
//   fuzz_<name>_replay --write-seeds DIR writes the target's seed corpus
//   fuzz_<name>_replay --check-seeds DIR exit 1 unless DIR holds those seeds
//
// The CTest suite replays the committed corpus and every regression input
// this way in every build (so the normal and sanitizer builds run the fuzz
// code too); reproducing a crash needs no clang: see docs/TESTING.md.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_support.h"

namespace {

bool is_directory(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The files of a directory (sorted, hidden files and README skipped), or the path itself.
std::vector<std::string> expand(const std::string& path) {
  if (!is_directory(path)) return {path};
  std::vector<std::string> files;
  if (DIR* dir = opendir(path.c_str())) {
    while (const dirent* entry = readdir(dir)) {
      const std::string name = entry->d_name;
      if (name.empty() || name[0] == '.' || name == "README.md") continue;
      files.push_back(path + "/" + name);
    }
    closedir(dir);
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Runs one input in a child, so that a crash names its file and the rest still run.
bool replay(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", file.c_str());
    return false;
  }
  const std::vector<uint8_t> data{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::fflush(nullptr);
  const pid_t child = fork();
  if (child < 0) {
    std::fprintf(stderr, "fork failed: %s\n", std::strerror(errno));
    return false;
  }
  if (child == 0) {
    LLVMFuzzerTestOneInput(data.data(), data.size());
    std::exit(0);  // not _exit: LeakSanitizer checks at exit
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  std::fprintf(stderr, "CRASH: %s (%s %d)\n", file.c_str(), WIFSIGNALED(status) ? "signal" : "exit status",
               WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
  return false;
}

int write_seeds(const std::string& dir) {
  for (const mqseal::fuzz::Seed& seed : mqseal::fuzz::fuzz_seeds()) {
    const std::string path = dir + "/" + seed.name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(seed.bytes.data()), static_cast<std::streamsize>(seed.bytes.size()));
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      return 1;
    }
  }
  return 0;
}

int check_seeds(const std::string& dir) {
  int status = 0;
  for (const mqseal::fuzz::Seed& seed : mqseal::fuzz::fuzz_seeds()) {
    const std::string path = dir + "/" + seed.name;
    std::ifstream in(path, std::ios::binary);
    const bool opened = static_cast<bool>(in);
    const std::vector<uint8_t> committed{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (!opened || committed != seed.bytes) {
      std::fprintf(stderr, "%s is not what fuzz_seeds() makes: run --write-seeds %s\n", path.c_str(), dir.c_str());
      status = 1;
    }
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--write-seeds") == 0) return write_seeds(argv[2]);
  if (argc == 3 && std::strcmp(argv[1], "--check-seeds") == 0) return check_seeds(argv[2]);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIR... | --write-seeds DIR | --check-seeds DIR\n", argv[0]);
    return 2;
  }
  size_t runs = 0;
  size_t crashes = 0;
  for (int i = 1; i < argc; ++i) {
    for (const std::string& file : expand(argv[i])) {
      ++runs;
      if (!replay(file)) ++crashes;
    }
  }
  std::printf("%zu inputs replayed, %zu crashed\n", runs, crashes);
  return runs > 0 && crashes == 0 ? 0 : 1;  // no input at all is a broken test too
}
