"""The console script exposes every command of DESIGN.md, and each is built."""

import pytest
from typer.testing import CliRunner

from revisit.cli import app

DESIGN_COMMANDS = [
    ["simulate"],
    ["simulate-policy"],
    ["ingest"],
    ["features"],
    ["train"],
    ["promote"],
    ["rank"],
    ["serve"],
    ["token", "issue"],
    ["token", "revoke"],
    ["audit", "export"],
]


@pytest.mark.parametrize("command", DESIGN_COMMANDS, ids=" ".join)
def test_every_design_command_has_help_and_is_built(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Not built yet" not in result.output
