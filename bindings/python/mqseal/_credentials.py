"""TokenVerifier: the C++ class, constructed from VerifierOptions or keywords."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Optional

from . import _mqseal
from ._options import VerifierKeywords, VerifierOptions

if TYPE_CHECKING:
    from typing_extensions import Unpack


class TokenVerifier(_mqseal.TokenVerifier):
    """Checks CONNECT tokens; each is accepted once. Keeps a snapshot of the credentials.

    `options` (VerifierOptions) or keywords naming one of its fields (keywords win).
    verify(username, client_id, token, *, now_s=0) returns if the token is good and raises
    an mqseal.Error saying which check failed otherwise. replay_store=store remembers tokens
    there: a file store across restarts, a Redis store across verifiers (docs/DEPLOY.md).
    """

    __slots__ = ()

    def __init__(
        self,
        credentials: _mqseal.Credentials,
        options: Optional[VerifierOptions] = None,
        **changes: Unpack[VerifierKeywords],
    ) -> None:
        base = VerifierOptions() if options is None else options
        super().__init__(credentials, dataclasses.replace(base, **changes))
