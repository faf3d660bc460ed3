"""Known-answer calls: raw key bytes out, caller-chosen nonces in. Not for real traffic.

    from mqseal import hazmat   # explicit: `import mqseal` never brings these in

These reproduce the test vectors (tests/vectors, docs/SPEC.md section 13) and
nothing else. seal_with_header() seals under a caller-chosen sender and
sequence, that is, a caller-chosen nonce: sealing two payloads with the same
one destroys their confidentiality. derive_topic_key() returns a topic key's
bytes, which Python cannot wipe. make_connect_token_with_nonce() makes a token
whose nonce the caller chose: the same nonce twice is a replay. Seal with
mqseal.Sealer and make tokens with mqseal.make_connect_token.

The same calls as in C++ (mqseal::derive_topic_key, mqseal::seal_with_header,
mqseal::make_connect_token_with_nonce).
"""

from __future__ import annotations

from ._mqseal import derive_topic_key, make_connect_token_with_nonce, seal_with_header

__all__ = ["derive_topic_key", "make_connect_token_with_nonce", "seal_with_header"]
