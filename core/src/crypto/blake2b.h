// Private: the one BLAKE2b of every mqseal derivation, the token MAC and suite
// 2's signed digest
// (docs/SPEC.md: topic, record and token keys, token MACs), no salt:
//   out = BLAKE2b(output out_size bytes, key, message, personal)
// Each use has its own 16-character personalisation.
#ifndef MQSEAL_SRC_CRYPTO_BLAKE2B_H_
#define MQSEAL_SRC_CRYPTO_BLAKE2B_H_

#include "mqseal/bytes.h"
#include "mqseal/error.h"

namespace mqseal::internal {

// A personalisation: a string literal of 16 characters (a longer one does not compile).
using Blake2bPersonal = char[16 + 1];

// crypto_failure if libsodium refuses the sizes (never for mqseal's constants).
[[nodiscard]] Status blake2b_personal(uint8_t* out, size_t out_size, ByteView key, ByteView message,
                                      const Blake2bPersonal& personal);

// The same, unkeyed, over the concatenation of `parts` without copying them
// (libsodium's incremental interface): the digest suite 2 signs
// (docs/SPEC.md, section 4a). out_size up to 64.
[[nodiscard]] Status blake2b_personal_parts(uint8_t* out, size_t out_size, const ByteView* parts,
                                            size_t part_count, const Blake2bPersonal& personal);

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_CRYPTO_BLAKE2B_H_
