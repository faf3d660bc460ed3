// tests/fuzz/fuzz_support.h: what every fuzz target shares.
//
// Each target is one file defining LLVMFuzzerTestOneInput (the libFuzzer
// entry point) and fuzz_seeds() (its starting corpus, made deterministically:
// fixed keys, fixed headers, fixed nonces). It is linked twice:
//   - with -fsanitize=fuzzer into fuzz_<name> (MQSEAL_BUILD_FUZZERS, clang);
//   - with replay_main.cpp into fuzz_<name>_replay, which the CTest suite runs
//     over tests/fuzz/corpus/<name> and tests/fuzz/regressions/<name> in every
//     build, and which writes the seed corpus (--write-seeds DIR).
// docs/TESTING.md describes both.
#ifndef MQSEAL_TESTS_FUZZ_FUZZ_SUPPORT_H_
#define MQSEAL_TESTS_FUZZ_FUZZ_SUPPORT_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace mqseal::fuzz {

// A broken invariant (a forgery accepted, a message accepted twice): print
// what broke and stop the way libFuzzer and the replay runner both report.
[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "mqseal fuzz invariant broken: %s\n", what);
  std::fflush(stderr);
  __builtin_trap();
}

inline void check(bool condition, const char* what) {
  if (!condition) fail(what);
}

// Reads the fuzzer's bytes front to back; past the end every read gives 0,
// so any input is a valid program for the target.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool empty() const { return pos_ >= size_; }
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : uint8_t{0}; }
  // `count` bytes (at most 8), big endian.
  uint64_t number(size_t count) {
    uint64_t v = 0;
    for (size_t i = 0; i < count; ++i) v = (v << 8) | byte();
    return v;
  }
  size_t index(size_t n) { return byte() % n; }
  // A length byte, then up to that many bytes.
  std::string_view text() {
    const size_t want = byte();
    return take(want);
  }
  std::string_view take(size_t want) {
    const size_t remaining = size_ - pos_;  // pos_ never passes size_
    const size_t n = want < remaining ? want : remaining;
    std::string_view s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }
  std::string_view rest() { return take(size_ - pos_); }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

struct Seed {
  std::string name;  // file name in tests/fuzz/corpus/<target>/
  std::vector<uint8_t> bytes;
};

// The target's starting corpus (defined by each target).
std::vector<Seed> fuzz_seeds();

inline std::vector<uint8_t> bytes_of(std::string_view s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

}  // namespace mqseal::fuzz

#endif  // MQSEAL_TESTS_FUZZ_FUZZ_SUPPORT_H_
