"""Sessions of the officers' pages: a signed cookie that names a token, and CSRF tokens.

Sign-in exchanges a bearer token for a session cookie ``rv_session`` (HttpOnly,
SameSite=Strict, ``Secure`` over HTTPS, path ``/ui``, 12 hours). The cookie holds the
token id, the SHA-256 of the token (as the tokens file stores it, so a revoked or
replaced token ends the session at once) and a random CSRF nonce, signed with
itsdangerous (HMAC-SHA1 over the payload with the server's session key); never the
token itself. Every form carries the nonce; a POST whose nonce does not match the
session's is refused. The sign-in form itself uses a double-submit cookie.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from serving.auth import TokenStore, User

SESSION_COOKIE = "rv_session"
LOGIN_CSRF_COOKIE = "rv_login_csrf"
LANG_COOKIE = "rv_lang"
SESSION_MAX_AGE_S = 12 * 3600
COOKIE_PATH = "/ui"


@dataclass(frozen=True)
class Session:
    """A signed-in user and the CSRF nonce of their forms."""

    user: User
    csrf: str


def serializer(key: str) -> URLSafeTimedSerializer:
    """The cookie signer for ``key``."""
    return URLSafeTimedSerializer(key, salt="revisit-ui-session")


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    """Set a cookie HttpOnly, SameSite=Strict, path ``/ui``, Secure over HTTPS."""
    response.set_cookie(
        name, value, max_age=max_age, path=COOKIE_PATH, httponly=True, samesite="strict",
        secure=_secure(request),
    )  # fmt: skip


def start_session(
    request: Request, response: Response, key: str, token_id: str, sha256: str
) -> None:
    """Write the session cookie for a token just authenticated."""
    value = serializer(key).dumps({"t": token_id, "h": sha256, "c": secrets.token_urlsafe(24)})
    set_cookie(request, response, SESSION_COOKIE, value, SESSION_MAX_AGE_S)


def end_session(response: Response) -> None:
    """Delete the session cookie."""
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)


def read_session(request: Request, key: str, tokens: TokenStore) -> Session | None:
    """The request's session, or ``None`` (no cookie, bad signature, expired, or revoked token)."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data = serializer(key).loads(raw, max_age=SESSION_MAX_AGE_S)
        token_id, digest, csrf = str(data["t"]), str(data["h"]), str(data["c"])
    except (BadSignature, KeyError, TypeError):
        return None
    record = tokens.records().get(token_id)
    if record is None or record.revoked or not hmac.compare_digest(record.sha256, digest):
        return None
    user = User(
        token_id=record.token_id, role=record.role, level=record.level,
        jurisdiction=record.jurisdiction, label=record.label,
    )  # fmt: skip
    return Session(user=user, csrf=csrf)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of CSRF nonces (missing ones never match)."""
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
