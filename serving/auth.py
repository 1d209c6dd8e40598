"""Bearer tokens: a tokens file that stores only SHA-256 hashes, roles and jurisdictions.

Token format: ``rv_<token_id>_<secret>`` where ``token_id`` is 8 hex digits and
``secret`` comes from :func:`secrets.token_urlsafe`. The file keeps, per token,
``token_id``, ``sha256`` (hex digest of the whole token), ``role``, ``level``,
``jurisdiction`` (a full path, county/township/village), ``label``, ``created``
(UTC ISO), ``revoked`` (UTC ISO or null) and ``expires`` (UTC ISO; 180 days after
issue by default; null: never, as for tokens issued before expiry existed).
The plain token is shown once, at issue, and never stored or logged.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from serving.audit_middleware import note_user
from serving.errors import AuthError, ForbiddenError, TokenStoreError
from serving.roles import ROLES, SCOPED_ROLES

logger = logging.getLogger(__name__)

LEVELS: tuple[str, str, str] = ("county", "township", "village")
TOKEN_PREFIX = "rv"


@dataclass(frozen=True)
class TokenRecord:
    """One issued token as the tokens file stores it (never the token itself)."""

    token_id: str
    sha256: str
    role: str
    level: str | None
    jurisdiction: str | None
    label: str
    created: str
    revoked: str | None = None
    expires: str | None = None

    def expired(self, now: datetime | None = None) -> bool:
        """Whether the token has passed its expiry (UTC; tokens without one never expire)."""
        if not self.expires:
            return False
        moment = now if now is not None else datetime.now(UTC)
        try:
            return moment >= datetime.fromisoformat(self.expires)
        except ValueError:
            return True  # an unreadable expiry is no licence to use the token


#: Validity of a new token unless ``--expires`` says otherwise (days).
DEFAULT_TOKEN_DAYS = 180


def parse_validity(text: str) -> timedelta:
    """A token validity such as ``90d``, ``12w`` or ``180`` (days) as a ``timedelta``.

    Raises
    ------
    ValueError
        When the text is not a positive number of days (``d``) or weeks (``w``).
    """
    raw = str(text).strip().lower()
    unit = 7 if raw.endswith("w") else 1
    number = raw[:-1] if raw[-1:] in ("d", "w") else raw
    try:
        count = int(number)
    except ValueError as err:
        raise ValueError(f"expected a validity such as 90d or 12w, got {text!r}") from err
    if count < 1 or count * unit > 3660:
        raise ValueError(f"expected a validity of 1 day to 10 years, got {text!r}")
    return timedelta(days=count * unit)


@dataclass(frozen=True)
class User:
    """The caller of a request, as resolved from its bearer token."""

    token_id: str
    role: str
    level: str | None
    jurisdiction: str | None
    label: str

    @property
    def unrestricted(self) -> bool:
        """Admins, and analysts without a jurisdiction, see every place; officers and supervisors only their own."""
        return self.role == "admin" or (self.role == "analyst" and self.level is None)


def hash_token(token: str) -> str:
    """SHA-256 hex digest of a token (what the tokens file stores)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _parse_token_id(token: str) -> str:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or len(parts[1]) != 8 or not parts[2]:
        raise AuthError("malformed bearer token")
    return parts[1]


class TokenStore:
    """The tokens file (``<home>/tokens.json``), re-read when it changes on disk.

    Parameters
    ----------
    path : Path
        JSON file ``{"tokens": [TokenRecord, ...]}``; a missing file means no tokens.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._records: dict[str, TokenRecord] = {}
        self._stamp: tuple[int, int] | None = None

    # ---------------------------------------------------------------- reading
    def _read(self) -> dict[str, TokenRecord]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {r["token_id"]: TokenRecord(**r) for r in data.get("tokens", [])}
        except (OSError, ValueError, TypeError, KeyError) as err:
            raise TokenStoreError(
                f"expected a tokens file {{'tokens': [...]}} at {str(self.path)!r}, could not read it"
            ) from err

    def records(self) -> dict[str, TokenRecord]:
        """All records by token id, re-read when the file's mtime or size changed."""
        try:
            st = self.path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._records = self._read()
                self._stamp = stamp
            return self._records

    def authenticate(self, token: str) -> User:
        """Resolve a bearer token to its user.

        Raises
        ------
        AuthError
            When the token is malformed, unknown, does not match its hash, or is revoked.
        """
        token_id = _parse_token_id(token)
        record = self.records().get(token_id)
        if record is None:
            # Compare anyway so that unknown and wrong tokens take the same time.
            hmac.compare_digest(hash_token(token), "0" * 64)
            raise AuthError("unknown bearer token")
        if not hmac.compare_digest(hash_token(token), record.sha256):
            raise AuthError("unknown bearer token")
        if record.revoked:
            raise AuthError("revoked bearer token")
        if record.expired():
            raise AuthError("expired bearer token")
        return User(
            token_id=record.token_id,
            role=record.role,
            level=record.level,
            jurisdiction=record.jurisdiction,
            label=record.label,
        )

    # ---------------------------------------------------------------- writing
    @contextlib.contextmanager
    def _writer_lock(self) -> Iterator[None]:
        """Serialise this process's writers of the tokens file.

        Across processes, the ``revisit token`` commands hold the home lock
        (``warehouse.home.locked_home``) around every write.
        """
        with self._lock:
            yield

    def _write(self, records: dict[str, TokenRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"tokens": [asdict(r) for r in records.values()]}
        fd, tmp = tempfile.mkstemp(prefix=".tokens-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(payload, fh, ensure_ascii=False, indent=2)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except OSError as err:
            Path(tmp).unlink(missing_ok=True)
            raise TokenStoreError(f"could not write the tokens file {str(self.path)!r}") from err

    def issue(
        self,
        role: str,
        *,
        level: str | None = None,
        jurisdiction: str | None = None,
        label: str,
        valid_for: timedelta | None = timedelta(days=DEFAULT_TOKEN_DAYS),
    ) -> tuple[str, TokenRecord]:
        """Create a token and store its hash.

        Parameters
        ----------
        role : {"officer", "supervisor", "analyst", "admin"}
        level : {"county", "township", "village"} or None
            Required for officers and supervisors; optional (informative) otherwise.
        jurisdiction : str or None
            Name of the jurisdiction at ``level``.
        label : str
            Who or what the token is for (a unit or service name; avoid personal names).
        valid_for : timedelta or None
            Validity from now (default 180 days); ``None``: never expires.

        Returns
        -------
        token : str
            The plain token, to be shown once.
        record : TokenRecord
            What was stored.

        Raises
        ------
        ValueError
            When the role or level is unknown, or an officer has no jurisdiction.
        TokenStoreError
            When the file cannot be read or written.
        """
        if role not in ROLES:
            raise ValueError(f"expected a role in {ROLES!r}, got {role!r}")
        if (level is None) != (jurisdiction is None):
            raise ValueError("expected both a jurisdiction level and a name, or neither")
        if level is not None and level not in LEVELS:
            raise ValueError(f"expected a level in {LEVELS!r}, got {level!r}")
        if role in SCOPED_ROLES and level is None:
            raise ValueError(
                f"{'an' if role[0] in 'aeiou' else 'a'} {role} token needs a jurisdiction (--county, --township or --village)"
            )
        if not label.strip():
            raise ValueError("expected a non-empty label, got an empty one")
        with self._writer_lock():
            records = dict(self._read())
            token_id = secrets.token_hex(4)
            while token_id in records:
                token_id = secrets.token_hex(4)
            token = f"{TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
            now = datetime.now(UTC)
            record = TokenRecord(
                token_id=token_id,
                sha256=hash_token(token),
                role=role,
                level=level,
                jurisdiction=jurisdiction,
                label=label,
                created=now.isoformat(timespec="seconds"),
                expires=(now + valid_for).isoformat(timespec="seconds") if valid_for else None,
            )
            records[token_id] = record
            self._write(records)
            self._stamp = None
        logger.info("issued token %s with role %s", token_id, role)
        return token, record

    def revoke(self, token_id: str) -> TokenRecord:
        """Mark a token revoked (kept in the file for the audit trail).

        Raises
        ------
        KeyError
            When no token has this id.
        """
        with self._writer_lock():
            records = dict(self._read())
            if token_id not in records:
                raise KeyError(f"no token with id {token_id!r}")
            old = records[token_id]
            new = TokenRecord(
                **{**asdict(old), "revoked": datetime.now(UTC).isoformat(timespec="seconds")}
            )
            records[token_id] = new
            self._write(records)
            self._stamp = None
        logger.info("revoked token %s", token_id)
        return new


# ------------------------------------------------------------ FastAPI wiring
_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": "Bearer"}


class BearerUser(HTTPBearer):
    """The ``HTTPBearer`` security scheme that also resolves the token to its :class:`User`.

    One dependency instead of two (scheme, then lookup): FastAPI's resolver costs
    about 10 µs per dependency per request. The OpenAPI scheme stays ``HTTPBearer``.

    Parameters
    ----------
    description : str
        Shown in the OpenAPI security scheme.
    """

    def __init__(self, description: str) -> None:
        super().__init__(scheme_name="HTTPBearer", description=description, auto_error=False)

    async def __call__(self, request: Request) -> User:  # type: ignore[override]
        """Resolve the caller from ``Authorization: Bearer``; 401 with ``WWW-Authenticate`` otherwise."""
        credentials: HTTPAuthorizationCredentials | None = await super().__call__(request)
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "a bearer token is required",
                headers=_UNAUTHORIZED_HEADERS,
            )
        store: TokenStore = request.app.state.tokens
        try:
            user = store.authenticate(credentials.credentials)
        except AuthError as err:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "invalid or revoked bearer token",
                headers=_UNAUTHORIZED_HEADERS,
            ) from err
        note_user(user)  # for the audit row of a request refused later (e.g. 403 by role)
        return user


get_current_user = BearerUser(description="`Authorization: Bearer rv_<id>_<secret>`")


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_role(*roles: str) -> Any:
    """A dependency that lets only ``roles`` through (403 otherwise)."""

    async def _check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this endpoint needs the role {' or '.join(roles)}"
            )
        return user

    return Depends(_check)


AnalystUser = Annotated[User, require_role("analyst", "admin")]
AdminUser = Annotated[User, require_role("admin")]


def check_jurisdiction(user: User, allowed: bool) -> None:
    """Raise :class:`ForbiddenError` for an officer asking outside their jurisdiction."""
    if not user.unrestricted and not allowed:
        raise ForbiddenError("outside the token's jurisdiction")
