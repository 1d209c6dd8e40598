"""Every ``/v1`` request is audited before its answer leaves, and request bodies are bounded.

:class:`AuditMiddleware` (pure ASGI, outermost of the app's own middleware):

* Body guard, before anything is parsed or authenticated: a body over
  ``max_body_bytes`` answers 413 (by ``Content-Length``, or while streaming a
  chunked body); a ``POST``/``PUT`` to ``/v1`` whose ``Content-Type`` is not JSON answers 415
  (the officers' pages under ``/ui/`` post forms).
* Audit: the route hands its detailed event (jurisdiction, household ids) to
  :meth:`serving.audit.AuditLog.record`, which, inside a request, parks it in
  :data:`serving.audit.PENDING`. When the response starts, the middleware writes
  that event, or a generic one for requests that never reached a route's audit
  (401, 403 by role, 413, 415, 422 validation, ``/v1/model``, ``/v1/score``),
  and waits until it is durable. Only then are the status line and body sent.
  If the row cannot be written, the client gets 503 and none of the answer.
* Every ``/v1`` answer carries ``Cache-Control: no-store`` (lists, sheets and
  households name households at risk: no browser or proxy may keep them).

A 401 row carries the presented token's id when the token has the
``rv_<8 hex>_...`` form (the id is not secret; the rest is never stored).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from serving.audit import PENDING, AuditEvent, AuditLog, AuditWriteError

logger = logging.getLogger(__name__)

AUDITED_PREFIX = "/v1/"
_TOKEN_ID = re.compile(r"^rv_([0-9a-f]{8})_")
_JSON_TYPES = ("application/json",)

_OUTCOME_OF_STATUS = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "invalid",
    413: "invalid",
    415: "invalid",
    422: "invalid",
}


def outcome_of(status: int) -> str:
    """The audit outcome of a response status (2xx/3xx ``ok``, 5xx ``error``)."""
    if status < 400:
        return "ok"
    return _OUTCOME_OF_STATUS.get(status, "error" if status >= 500 else "invalid")


def presented_token_id(headers: list[tuple[bytes, bytes]]) -> str | None:
    """Id of the bearer token in the request, when one of the ``rv_<id>_`` form is presented."""
    for name, value in headers:
        if name.lower() == b"authorization":
            text = value.decode("latin-1").strip()
            if text[:7].lower() == "bearer ":
                match = _TOKEN_ID.match(text[7:].strip())
                if match:
                    return match.group(1)
    return None


class BodyTooLarge(Exception):
    """The streamed body passed the limit."""


class AuditMiddleware:
    """See the module docstring.

    Parameters
    ----------
    app : ASGI app
    audit : AuditLog
        The app's audit log.
    max_body_bytes : int
        Largest request body accepted (bytes).
    """

    def __init__(self, app: Any, *, audit: AuditLog, max_body_bytes: int) -> None:
        self.app = app
        self.audit = audit
        self.max_body_bytes = int(max_body_bytes)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        audited = path.startswith(AUDITED_PREFIX)
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        pending: dict[str, object] = {}
        token = PENDING.set(pending) if audited else None
        started = {"done": False, "refused": False}
        over = {"body": False}

        async def send_audited(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and over["body"] and not started["done"]:
                # the app saw a body cut at the limit (and failed to parse it): answer 413
                started["refused"] = True
                await _respond_through(send_audited_start, 413, self._too_large())
                started["done"] = True
                return
            await send_audited_start(message)

        async def send_audited_start(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                if audited:
                    try:
                        await self.audit.arecord(self._event(scope, pending, message["status"]))
                    except AuditWriteError as err:
                        logger.error("read refused: its audit row could not be written: %s", err)
                        started["refused"] = True
                        await _plain(
                            send,
                            503,
                            "the read could not be written to the audit log, so it is not answered",
                        )
                        started["done"] = True
                        return
                started["done"] = True
                if audited:  # lists, sheets and households must not sit in caches
                    headers = [
                        (k, v)
                        for k, v in message.get("headers", [])
                        if k.lower() != b"cache-control"
                    ]
                    message = {**message, "headers": [*headers, (b"cache-control", b"no-store")]}
                await send(message)
            elif message["type"] == "http.response.body":
                if not started["refused"] or message.get("_revisit_own"):
                    await send({k: v for k, v in message.items() if k != "_revisit_own"})
            else:
                await send(message)

        try:
            refusal = self._refusal(scope, headers)
            if refusal is not None:
                await _respond_through(send_audited, *refusal)
                return
            try:
                await self.app(scope, self._bounded(receive, over), send_audited)
            except BodyTooLarge:
                if not started["done"]:
                    over["body"] = True
                    await send_audited({"type": "http.response.start", "status": 413})
        finally:
            if token is not None:
                PENDING.reset(token)

    # ------------------------------------------------------------ guards
    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_body_bytes} bytes"

    def _refusal(
        self, scope: dict[str, Any], headers: list[tuple[bytes, bytes]]
    ) -> tuple[int, str] | None:
        length = None
        content_type = None
        for name, value in headers:
            lname = name.lower()
            if lname == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    return 400, "the Content-Length header is not a number"
            elif lname == b"content-type":
                content_type = value.decode("latin-1").split(";", 1)[0].strip().lower()
        if length is not None and length > self.max_body_bytes:
            return 413, self._too_large()
        has_body = (length or 0) > 0 or any(n.lower() == b"transfer-encoding" for n, _ in headers)
        if (
            scope.get("method") in ("POST", "PUT", "PATCH")
            and str(scope.get("path", "")).startswith(
                AUDITED_PREFIX
            )  # the JSON API; /ui/ posts forms
            and has_body
            and content_type not in _JSON_TYPES
        ):
            return 415, f"expected Content-Type application/json, got {content_type!r}"
        return None

    def _bounded(self, receive: Any, over: dict[str, bool]) -> Any:
        """``receive`` that stops a body at the limit: the rest is never read or buffered."""
        limit = self.max_body_bytes
        seen = {"n": 0}

        async def bounded_receive() -> dict[str, Any]:
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                seen["n"] += len(message.get("body", b""))
                if seen["n"] > limit:
                    over["body"] = True
                    raise BodyTooLarge()
            return message

        return bounded_receive

    # ------------------------------------------------------------- audit
    def _event(self, scope: dict[str, Any], pending: dict[str, object], status: int) -> AuditEvent:
        event = pending.get("event")
        outcome = outcome_of(status)
        if isinstance(event, AuditEvent):
            if status >= 500 or (status >= 400 and event.outcome == "ok"):
                # the route audited a success, but the answer failed after: record what was sent
                return AuditEvent.make(
                    token_id=event.token_id,
                    role=event.role,
                    level=event.level,
                    jurisdiction=event.jurisdiction,
                    endpoint=event.endpoint,
                    household_ids=(),
                    model_version=event.model_version,
                    as_of=event.as_of,
                    outcome=outcome,
                    label=event.label,
                )
            return event
        user = pending.get("user")
        route = scope.get("route")
        endpoint = getattr(route, "path", None) or "unmatched"
        return AuditEvent.make(
            token_id=str(
                getattr(user, "token_id", None) or presented_token_id(scope["headers"]) or "-"
            ),
            role=str(getattr(user, "role", None) or "-"),
            level=getattr(user, "level", None),
            jurisdiction=getattr(user, "jurisdiction", None),
            endpoint=f"{scope.get('method', '?')} {endpoint}",
            household_ids=(),
            model_version=None,
            as_of=None,
            outcome=outcome,
            label=getattr(user, "label", None),
        )


def note_user(user: object) -> None:
    """Remember the authenticated caller of the current request for its audit row."""
    pending = PENDING.get()
    if pending is not None:
        pending["user"] = user


async def _plain(send: Any, status: int, detail: str, *, own: bool = False) -> None:
    """Send a small JSON answer; ``own`` marks its body as ours for the audited ``send``."""
    body = json.dumps({"detail": detail}).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    message: dict[str, Any] = {"type": "http.response.body", "body": body}
    if own:
        message["_revisit_own"] = True
    await send(message)


async def _respond_through(send: Any, status: int, detail: str) -> None:
    await _plain(send, status, detail, own=True)
