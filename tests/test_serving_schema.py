"""Property-based run over the OpenAPI schema (schemathesis): no request makes the API answer
5xx, and every answer conforms to the schema (status code, content type, headers, body)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from serving.app import create_app
from serving.auth import TokenStore
from tests.test_serving_support import fake_loader, settings_for


@pytest.mark.slow
@pytest.mark.parametrize("who", ["admin", "officer"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_generated_request_is_answered_with_a_server_error(
    tmp_path: Path, who: str, mode: GenerationMode
) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    token, _ = (
        store.issue("admin", label="ops")
        if who == "admin"
        else store.issue("officer", level="township", jurisdiction="Dingxiao", label="dx")
    )
    app = create_app(settings_for(tmp_path), state_loader=fake_loader())
    # What the lifespan does, done here because schemathesis calls the ASGI app without it.
    app.state.audit.start()
    app.state.holder.reload()
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    checked = []
    try:
        for result in schema.get_all_operations():
            operation = result.ok()  # type: ignore[union-attr]

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=15,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                # Every check of schemathesis (no 5xx, status codes, content types, headers and
                # bodies conform to the schema, invalid data rejected) except one: OpenAPI cannot
                # say "exactly one of county/township/village" nor "rows name the model's
                # features", so schema-valid requests that break those rules get 422, rightly.
                # The token replaces whatever Authorization the case holds; a negative case
                # that left the header out is sent without it (and must be refused), not
                # given a valid token that turns it into an authorised, valid request.
                sent = {k.lower() for k in (case.headers or {})}
                auth = {"Authorization": f"Bearer {token}"}
                if mode == GenerationMode.NEGATIVE and "authorization" not in sent:
                    auth = {}
                response = case.call_and_validate(
                    headers=auth,
                    excluded_checks=[positive_data_acceptance],
                )
                assert "Traceback" not in response.text

            try:
                run()
            except Unsatisfiable:
                # negative mode: an operation without parameters has no invalid input
                assert mode == GenerationMode.NEGATIVE
                continue
            checked.append(f"{operation.method.upper()} {operation.path}")
    finally:
        app.state.audit.close()
    assert {"GET /v1/priority-list", "POST /v1/score"} <= set(checked)
