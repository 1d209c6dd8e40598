"""What a token may see: its jurisdiction resolved to a full path in the loaded snapshot."""

from __future__ import annotations

from serving.auth import User
from serving.errors import AmbiguousJurisdiction, ForbiddenError, UnknownJurisdiction
from serving.state import ServingState


def token_scope(state: ServingState, user: User) -> tuple[str, str] | None:
    """The (level, full path) a token is confined to, or ``None`` for an unrestricted one.

    Admins, and analysts issued without a jurisdiction, see everything; officers,
    and analysts issued with ``--county`` etc., see their place only. Tokens hold
    full paths; one issued before paths with a bare name is honoured only while
    that name names exactly one place.

    Raises
    ------
    ForbiddenError
        When a confined token's jurisdiction names no place of the snapshot, or several.
    """
    if user.unrestricted:
        return None
    if user.level is None or user.jurisdiction is None:
        raise ForbiddenError("this token has no jurisdiction")
    try:
        return user.level, state.resolve(user.level, user.jurisdiction)
    except (AmbiguousJurisdiction, UnknownJurisdiction) as err:
        raise ForbiddenError(
            f"the token's {user.level} {user.jurisdiction!r} does not name one place: reissue it "
            f"with the place's path"
        ) from err


def may_see(state: ServingState, user: User, level: str, path: str) -> bool:
    """Whether ``user`` may read the place (``level``, full ``path``)."""
    try:
        scope = token_scope(state, user)
    except ForbiddenError:
        return False
    return scope is None or state.contains(scope[0], scope[1], level, path)


def may_see_household(state: ServingState, user: User, position: int) -> bool:
    """Whether ``user`` may read the household at ``position`` of the snapshot."""
    try:
        scope = token_scope(state, user)
    except ForbiddenError:
        return False
    return scope is None or state.household_in(scope[0], scope[1], position)


def token_scope_or_none(state: ServingState, user: User) -> tuple[str, str] | None:
    """:func:`token_scope`, with a token whose place does not resolve confined to nothing.

    Returns ``None`` only for unrestricted tokens; a confined token whose place
    cannot be resolved gets ``("", "")``, inside which nothing lies.
    """
    try:
        return token_scope(state, user)
    except ForbiddenError:
        return ("", "")
