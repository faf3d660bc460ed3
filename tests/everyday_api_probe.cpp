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

// A using-declaration names the call whether it has one overload or several
// (hazmat::open_with_key has two), and fails to compile if there is none.
using probe::PROBE_NAME;

int main() { return 0; }
