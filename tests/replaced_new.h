// For test binaries that count or refuse heap allocations: replaces
// operator new with malloc and operator delete with free (a matched pair;
// the array forms call these). Include in one file per binary.
#ifndef MQSEAL_TESTS_REPLACED_NEW_H_
#define MQSEAL_TESTS_REPLACED_NEW_H_

#include <cstddef>
#include <cstdlib>
#include <new>

// GCC, seeing the replacement inlined, would warn anyway.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// Heap allocations made by this thread (every operator new of the binary
// counts them): to show that a steady-state seal or open allocates nothing.
inline thread_local size_t t_allocations = 0;
// While 0 or more, each operator new of this thread counts it down, and at
// 0 throws std::bad_alloc: to see what a container that cannot grow leaves
// behind.
inline thread_local int t_news_before_bad_alloc = -1;

void* operator new(size_t size) {
  ++t_allocations;
  if (t_news_before_bad_alloc == 0) throw std::bad_alloc();
  if (t_news_before_bad_alloc > 0) --t_news_before_bad_alloc;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

#endif  // MQSEAL_TESTS_REPLACED_NEW_H_
