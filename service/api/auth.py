"""Bearer tokens: writes need a write token; reads are open unless read tokens are set.

Tokens come from the settings (BACKCHANNEL_WRITE_TOKENS, BACKCHANNEL_READ_TOKENS),
are compared in constant time, and are never logged or echoed.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from infra.settings import Settings
from service.api.errors import FORBIDDEN, UNAUTHORIZED, ApiProblem

SCHEME = "bearer"
bearer = HTTPBearer(
    auto_error=False,
    scheme_name=SCHEME,
    description="A token from BACKCHANNEL_WRITE_TOKENS (writes and reads) or "
    "BACKCHANNEL_READ_TOKENS (reads, when set).",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="backchannel"'}


def token_in(token: str, accepted: Iterable[str]) -> bool:
    """True if `token` is one of `accepted`; every comparison runs, in constant time."""
    given = token.encode("utf-8")
    matches = [hmac.compare_digest(given, t.encode("utf-8")) for t in accepted]
    return any(matches)


def require_write(request: Request, credentials: Credentials) -> None:
    """Let the request through only with a write token: 401 without one, 403 with a read token."""
    settings: Settings = request.app.state.settings
    token = credentials.credentials if credentials else None
    if token is None:
        raise ApiProblem(
            401, "writes need Authorization: Bearer <token>", type=UNAUTHORIZED, headers=CHALLENGE
        )
    if token_in(token, settings.write_token_set):
        return
    if token_in(token, settings.read_token_set):
        raise ApiProblem(403, "this token may read but not write", type=FORBIDDEN)
    raise ApiProblem(401, "the bearer token is not accepted", type=UNAUTHORIZED, headers=CHALLENGE)


def require_read(request: Request, credentials: Credentials) -> None:
    """Reads are open unless read tokens are set; then a read or a write token is needed."""
    settings: Settings = request.app.state.settings
    if not settings.read_token_set:
        return
    token = credentials.credentials if credentials else None
    if token is None:
        raise ApiProblem(
            401, "reads need Authorization: Bearer <token>", type=UNAUTHORIZED, headers=CHALLENGE
        )
    if not token_in(token, (*settings.read_token_set, *settings.write_token_set)):
        raise ApiProblem(
            401, "the bearer token is not accepted", type=UNAUTHORIZED, headers=CHALLENGE
        )
