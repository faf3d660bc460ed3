"""Sealer, Opener and ReplayGuard: the C++ classes, constructed from options.

seal(), open() and check() are the extension module's own methods (no Python
frame on the hot path); only construction is Python, to take the options as
dataclasses (as in C++) or as keywords.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Optional

from . import _mqseal
from ._options import OpenerKeywords, OpenerOptions, ReplayKeywords, ReplayOptions, SealerOptions, opener_options

if TYPE_CHECKING:
    from typing_extensions import Unpack


class Sealer(_mqseal.Sealer):
    """Seals payloads for publishing. Keeps a snapshot of the keyring.

    seal(topic, payload, *, retain=False) returns the envelope for `payload` on `topic`
    (unchanged for plaintext-rule topics); retain=True seals the intent to publish it with
    MQTT's retain flag: publish it with retain exactly then. set_keyring() rotates.
    On signed rules (suites 2 and 4) it signs as `signer`, with that name's primary signing key
    (default: the keyring's only signer name; a keyring holding several needs one named). On
    recipient rules (suites 3 and 4) one ephemeral key pair serves a sealing session, replaced
    after recipient_session_max_age_ms (SealerOptions).
    """

    __slots__ = ()

    def __init__(
        self,
        policy: _mqseal.TopicPolicy,
        keyring: _mqseal.Keyring,
        options: Optional[SealerOptions] = None,
        *,
        topic_cache_capacity: Optional[int] = None,
        signer: Optional[str] = None,
        recipient_session_max_age_ms: Optional[int] = None,
    ) -> None:
        if options is None:
            options = SealerOptions()
        if topic_cache_capacity is not None:
            options = dataclasses.replace(options, topic_cache_capacity=topic_cache_capacity)
        if signer is not None:
            options = dataclasses.replace(options, signer=signer)
        if recipient_session_max_age_ms is not None:
            options = dataclasses.replace(options, recipient_session_max_age_ms=recipient_session_max_age_ms)
        super().__init__(policy, keyring, options)


class Opener(_mqseal.Opener):
    """Opens sealed payloads on receipt, with replay protection. Keeps a snapshot of the keyring.

    `options` (OpenerOptions) or keywords naming one of its fields (max_age_ms, retained,
    topic_cache_capacity, ...: keywords win). open(topic, envelope, *, retained=False,
    now_ms=0) authenticates and decrypts, and raises an mqseal.Error on any refusal; its
    `signer` names the verified signer if the refusal came after the signature verified
    (suites 2 and 4), else None (Error.signer).
    replay_store=store, replay_group="name" (a ReplayStore given to several Openers: the
    consumers of one shared subscription, all with the same group name, required) makes them
    accept each message once between them (docs/DEPLOY.md).
    """

    __slots__ = ()

    def __init__(
        self,
        policy: _mqseal.TopicPolicy,
        keyring: _mqseal.Keyring,
        options: Optional[OpenerOptions] = None,
        **changes: Unpack[OpenerKeywords],
    ) -> None:
        super().__init__(policy, keyring, opener_options(options, changes))


class ReplayGuard(_mqseal.ReplayGuard):
    """Duplicate, replay and age checks for authenticated messages (Opener has one built in).

    `options` (ReplayOptions) or keywords naming one of its fields (keywords win).
    """

    __slots__ = ()

    def __init__(self, options: Optional[ReplayOptions] = None, **changes: Unpack[ReplayKeywords]) -> None:
        base = ReplayOptions() if options is None else options
        super().__init__(dataclasses.replace(base, **changes))
