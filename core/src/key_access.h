// Private: the only way core code reaches key bytes.
#ifndef MQSEAL_SRC_KEY_ACCESS_H_
#define MQSEAL_SRC_KEY_ACCESS_H_

#include "mqseal/key.h"

namespace mqseal {

struct KeyAccess {
  static const uint8_t* bytes(const Key& key) noexcept { return key.bytes_; }
};

}  // namespace mqseal

#endif  // MQSEAL_SRC_KEY_ACCESS_H_
