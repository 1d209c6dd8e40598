"""The default Revisit home is ./revisit-data, whatever $HOME says (a newcomer's bug report).

With ``populate_by_name`` pydantic-settings also reads a field's own name from the
environment; case-insensitively the field ``home`` then read ``$HOME``, so every command
run without ``--home`` or ``$REVISIT_HOME`` wrote its MLflow store and lock into the
user's home folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from revisit.settings import Settings
from serving.config import ServingSettings


@pytest.mark.parametrize("settings_cls", [Settings, ServingSettings])
def test_the_default_home_ignores_the_users_home(
    settings_cls: type, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("REVISIT_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert settings_cls().home == Path("revisit-data")


@pytest.mark.parametrize("settings_cls", [Settings, ServingSettings])
def test_revisit_home_and_the_keyword_still_set_it(
    settings_cls: type, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REVISIT_HOME", str(tmp_path / "a"))
    assert settings_cls().home == tmp_path / "a"
    assert settings_cls(home=tmp_path / "b").home == tmp_path / "b"
