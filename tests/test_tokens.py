"""Tokens file: only hashes stored, roles and jurisdictions kept, revocation, CLI issue/revoke."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from revisit.cli import app
from serving.auth import TokenStore, hash_token
from serving.errors import AuthError, TokenStoreError
from tests.warehouse_factory import random_warehouse, write_warehouse


def warehouse_home(home: Path) -> Path:
    """A small warehouse under ``home``: county C1, townships T0 and T1, villages V0-V2."""
    visits, incidents = random_warehouse(1, n_households=12, n_villages=3)
    write_warehouse(home, visits, incidents)
    return home


def issue_args(home: Path, *jurisdiction: str, role: str = "officer") -> list[str]:
    return ["token", "issue", "--role", role, *jurisdiction, "--name", "unit", "--home", str(home)]


def test_tokens_file_stores_only_the_hash_never_the_token(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    token, record = store.issue("officer", level="township", jurisdiction="Dingxiao", label="dx")
    text = (tmp_path / "tokens.json").read_text()
    assert token not in text
    assert token.split("_", 2)[2] not in text
    saved = json.loads(text)["tokens"][0]
    assert saved["sha256"] == hash_token(token) == record.sha256
    assert saved | {"created": None, "expires": None} == {
        "token_id": record.token_id,
        "sha256": record.sha256,
        "role": "officer",
        "level": "township",
        "jurisdiction": "Dingxiao",
        "label": "dx",
        "created": None,
        "revoked": None,
        "expires": None,
    }


def test_token_resolves_to_its_role_and_jurisdiction(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    token, record = store.issue("officer", level="village", jurisdiction="Bajie", label="post")
    user = store.authenticate(token)
    assert (user.token_id, user.role, user.level, user.jurisdiction) == (
        record.token_id,
        "officer",
        "village",
        "Bajie",
    )
    assert not user.unrestricted
    assert store.authenticate(store.issue("analyst", label="desk")[0]).unrestricted


def test_each_issued_token_is_distinct(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    tokens = {store.issue("analyst", label=f"a{i}")[0] for i in range(20)}
    assert len(tokens) == 20
    assert len(store.records()) == 20


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t + "x",
        lambda t: t[:-1],
        lambda t: "rv_00000000_" + t.split("_", 2)[2],
        lambda t: "",
    ],
)
def test_altered_tokens_are_refused(tmp_path: Path, mangle) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    token, _ = store.issue("admin", label="ops")
    with pytest.raises(AuthError):
        store.authenticate(mangle(token))


def test_revoked_token_is_refused_by_a_store_that_read_the_file_before(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    server_side = TokenStore(path)
    token, record = TokenStore(path).issue("analyst", label="desk")
    assert server_side.authenticate(token).role == "analyst"
    TokenStore(path).revoke(record.token_id)
    with pytest.raises(AuthError, match="revoked"):
        server_side.authenticate(token)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"role": "chief", "label": "x"}, "role"),
        ({"role": "officer", "label": "x"}, "needs a jurisdiction"),
        ({"role": "officer", "level": "province", "jurisdiction": "G", "label": "x"}, "level"),
        ({"role": "analyst", "label": "  "}, "label"),
    ],
)
def test_issue_rejects_bad_requests_with_a_clear_message(
    tmp_path: Path, kwargs, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TokenStore(tmp_path / "tokens.json").issue(**kwargs)


def test_unreadable_tokens_file_is_a_domain_error(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("not json")
    with pytest.raises(TokenStoreError, match="tokens file"):
        TokenStore(path).records()


def test_cli_issue_prints_the_token_once_and_revoke_disables_it(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, issue_args(warehouse_home(tmp_path), "--township", "T1"))
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("rv_")
    store = TokenStore(tmp_path / "tokens.json")
    assert store.authenticate(token).jurisdiction == "C1/T1"  # tokens hold the path
    token_id = token.split("_")[1]
    revoked = runner.invoke(app, ["token", "revoke", token_id, "--home", str(tmp_path)])
    assert revoked.exit_code == 0, revoked.output
    with pytest.raises(AuthError):
        store.authenticate(token)
    missing = runner.invoke(app, ["token", "revoke", "ffffffff", "--home", str(tmp_path)])
    assert missing.exit_code == 1 and "no token" in missing.output


def test_cli_issue_refuses_two_jurisdictions(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "token",
            "issue",
            "--role",
            "officer",
            "--county",
            "A",
            "--village",
            "B",
            "--name",
            "x",
            "--home",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 1
    assert "at most one" in result.output
    assert not (tmp_path / "tokens.json").exists()


def test_cli_issue_refuses_a_jurisdiction_the_warehouse_lacks_and_suggests_close_names(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(
        app, issue_args(warehouse_home(tmp_path), "--township", "NoSuchPlace")
    )
    assert result.exit_code == 1
    assert "no township named 'NoSuchPlace'" in result.output
    assert not (tmp_path / "tokens.json").exists()
    typo = CliRunner().invoke(app, issue_args(tmp_path, "--village", "V1x"))
    assert typo.exit_code == 1 and "did you mean" in typo.output and "'C1/T1/V1'" in typo.output
    analyst = CliRunner().invoke(app, issue_args(tmp_path, "--county", "C9", role="analyst"))
    assert analyst.exit_code == 1 and "no county named 'C9'" in analyst.output


def test_cli_issue_with_a_jurisdiction_on_an_empty_warehouse_needs_force(tmp_path: Path) -> None:
    refused = CliRunner().invoke(app, issue_args(tmp_path, "--township", "Dingxiao"))
    assert refused.exit_code == 1
    assert "no visits" in refused.output and "--force" in refused.output
    assert not (tmp_path / "tokens.json").exists()
    forced = CliRunner().invoke(app, [*issue_args(tmp_path, "--township", "Dingxiao"), "--force"])
    assert forced.exit_code == 0, forced.output
    token = forced.stdout.strip().splitlines()[-1]
    assert TokenStore(tmp_path / "tokens.json").authenticate(token).jurisdiction == "Dingxiao"


def test_cli_issue_refuses_an_officer_token_without_jurisdiction(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, issue_args(warehouse_home(tmp_path)))
    assert result.exit_code == 1 and "needs a jurisdiction" in result.output
    assert not (tmp_path / "tokens.json").exists()


def test_tokens_expire_after_their_validity_and_list_shows_expiry_and_last_use(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime, timedelta

    from serving.auth import parse_validity

    assert parse_validity("90d") == timedelta(days=90) == parse_validity("90")
    assert parse_validity("2w") == timedelta(days=14)
    for bad in ("0d", "-3d", "soon", "99999d"):
        with pytest.raises(ValueError):
            parse_validity(bad)
    store = TokenStore(tmp_path / "tokens.json")
    token, record = store.issue("analyst", label="desk")
    created = datetime.fromisoformat(record.created)
    assert datetime.fromisoformat(str(record.expires)) - created == timedelta(days=180)
    assert not record.expired()
    assert record.expired(created + timedelta(days=180, seconds=1))
    short, _ = store.issue("analyst", label="short", valid_for=timedelta(seconds=-1))
    with pytest.raises(AuthError, match="expired"):
        store.authenticate(short)
    assert store.authenticate(token).role == "analyst"
    _, forever = store.issue("admin", label="ops", valid_for=None)
    assert forever.expires is None and not forever.expired(datetime.now(UTC) + timedelta(days=9999))

    runner = CliRunner()
    issued = runner.invoke(
        app,
        [
            "token",
            "issue",
            "--role",
            "analyst",
            "--name",
            "q",
            "--expires",
            "90d",
            "--home",
            str(tmp_path),
        ],
    )
    assert issued.exit_code == 0 and "expires" in issued.stderr
    listed = runner.invoke(app, ["token", "list", "--home", str(tmp_path)])
    assert listed.exit_code == 0, listed.output
    assert record.token_id in listed.stdout and "expired" in listed.stdout
    assert token not in listed.stdout
    bad = runner.invoke(
        app,
        [
            "token",
            "issue",
            "--role",
            "analyst",
            "--name",
            "q",
            "--expires",
            "soon",
            "--home",
            str(tmp_path),
        ],
    )
    assert bad.exit_code == 2


def test_a_corrupt_tokens_file_answers_503_in_plain_words(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from serving.app import create_app
    from tests.test_serving_support import fake_loader, settings_for

    token, _ = TokenStore(tmp_path / "tokens.json").issue("analyst", label="desk")
    (tmp_path / "tokens.json").write_text("{not json", encoding="utf-8")
    with TestClient(create_app(settings_for(tmp_path), state_loader=fake_loader())) as client:
        r = client.get("/v1/model", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 503
    assert r.json() == {"detail": "the tokens file cannot be read; an administrator must repair it"}


def test_a_short_id_secret_is_refused_in_plain_words(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["ingest", str(tmp_path), "--home", str(tmp_path)],
        env={"REVISIT_ID_SECRET": "short-secret"},
    )
    assert result.exit_code == 1
    assert "REVISIT_ID_SECRET is too short: expected at least 32 bytes, got 12" in result.output
    assert "short-secret" not in result.output and "Traceback" not in result.output
