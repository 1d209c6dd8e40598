"""Token roles come from one list: the service, the CLI's help and its refusal agree."""

from __future__ import annotations

from typer.testing import CliRunner

from revisit.cli import app
from serving import auth
from serving.roles import ROLES, SCOPED_ROLES


def test_the_service_and_the_cli_use_the_same_roles() -> None:
    assert auth.ROLES is ROLES and auth.SCOPED_ROLES is SCOPED_ROLES
    assert "supervisor" in ROLES and set(SCOPED_ROLES) <= set(ROLES)


def test_token_issue_help_names_every_role() -> None:
    res = CliRunner().invoke(app, ["token", "issue", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    for role in ROLES:
        assert role in res.output


def test_token_issue_refuses_an_unknown_role_and_lists_the_known_ones(tmp_path) -> None:
    res = CliRunner().invoke(
        app, ["token", "issue", "--role", "chief", "--name", "x", "--home", str(tmp_path)]
    )
    assert res.exit_code == 2
    assert "chief" in res.output and "supervisor" in res.output
