// Compiled by tests/everyday_api_test.cmake, once per known-answer call
// (PROBE_NAME): with MQSEAL_PROBE_HAZMAT it must compile (the call is in
// mqseal/hazmat/, namespace mqseal::hazmat); without, it must not (mqseal.h,
// the everyday API, has no such call).
#include <mqseal/mqseal.h>

#ifdef MQSEAL_PROBE_HAZMAT
#include <mqseal/hazmat/credentials.h>
#include <mqseal/hazmat/envelope.h>
namespace probe = mqseal::hazmat;
#else
namespace probe = mqseal;
#endif

int main() {
  auto* call = &probe::PROBE_NAME;
  return call != nullptr ? 0 : 1;
}
