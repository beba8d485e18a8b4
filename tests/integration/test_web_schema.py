"""Property tests of the API against its own OpenAPI schema (schemathesis): whatever request
the schema allows, or nearly allows, the answer is never a 500, always matches the schema
(problem details included), and its content type is the documented one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from newsingest.web import actions, create_app
from newsingest.web.problems import Problem
from schemas.settings import load_settings
from tests.support.webapp import TOKEN, RecordingEnqueuer, bearer, build_newsroom

pytestmark = pytest.mark.integration
EXAMPLES = 20


async def no_network(_settings: Any, urls: list[str]) -> dict[str, list[str]]:
    """Generated URLs must not be fetched (tests never leave 127.0.0.0/8)."""
    raise Problem(422, "discovery-failed", f"{urls[0]}: discovery is off in this test")


@pytest.fixture
def web_schema(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    build_newsroom(database_url)
    monkeypatch.setattr(actions, "discover_feeds", no_network)
    app = create_app(
        load_settings(database_url=database_url, api_token=TOKEN),
        enqueuer_factory=lambda _s: RecordingEnqueuer(),
    )
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", app, headers=bearer())
    finally:
        app.state.db.dispose()


# schemathesis' own pytest integration (``from_fixture``) does not run under pytest 9 yet;
# the same property test, one operation and one generation mode at a time, with hypothesis.
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_no_server_error_on_any_generated_request(web_schema: Any) -> None:
    operations = [result.ok() for result in web_schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        for mode in MODES:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Any) -> None:
                case.call_and_validate(headers=bearer(), checks=CHECKS)

            try:
                check()
            except Unsatisfiable:
                # Nothing to make invalid (no parameter, no body): only positive cases exist.
                assert mode is GenerationMode.NEGATIVE, operation.label
