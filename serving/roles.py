"""The roles of API tokens: one list for the service, the CLI and the docs.

Kept free of FastAPI so that ``revisit token`` can name the roles in its help
without importing the web stack.
"""

from __future__ import annotations

from typing import Final

#: Every role a token may carry, and what it may do.
ROLE_TEXTS: Final[dict[str, str]] = {
    "officer": "lists and tasks of its jurisdiction",
    "supervisor": "lists, tasks, bulletins and the officer review of its jurisdiction",
    "analyst": "lists, bulletins and the model's figures",
    "admin": "all of it, and reloading the service",
}
#: Roles, in order of reach.
ROLES: Final[tuple[str, ...]] = tuple(ROLE_TEXTS)
#: Roles held to their token's jurisdiction (supervisors: station chief, county command).
SCOPED_ROLES: Final[tuple[str, ...]] = ("officer", "supervisor")


def roles_help() -> str:
    """One line naming every role (for ``--role`` help texts)."""
    return "; ".join(f"{role}: {text}" for role, text in ROLE_TEXTS.items())
