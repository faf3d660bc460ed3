// mqseal/mqseal.h: the core library's everyday API, for those who want one include.
//
// Start with sealer.h (publishing) and opener.h (receiving); policy.h says
// which key protects which topic, keyring.h holds the keys. Not included, on
// purpose: mqseal/hazmat/ (target mqseal::hazmat), the deterministic cores
// for known-answer tests (chosen nonces, raw per-topic keys), and
// mqseal/policy_file.h (target mqseal::policy_file).
#ifndef MQSEAL_MQSEAL_H_
#define MQSEAL_MQSEAL_H_

#include "mqseal/bytes.h"
#include "mqseal/credentials.h"
#include "mqseal/envelope.h"
#include "mqseal/error.h"
#include "mqseal/key.h"
#include "mqseal/keyring.h"
#include "mqseal/opener.h"
#include "mqseal/options.h"
#include "mqseal/policy.h"
#include "mqseal/record_cipher.h"
#include "mqseal/replay_guard.h"
#include "mqseal/replay_store.h"
#include "mqseal/sealer.h"
#include "mqseal/topic.h"
#include "mqseal/version.h"

#endif  // MQSEAL_MQSEAL_H_
