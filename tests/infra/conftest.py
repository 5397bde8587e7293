"""Fixtures of the infra tests: one mocked Pulumi stack at a time, dev then prod."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from infra_harness import LoadedStack, load_stack

STACKS = ("dev", "prod")


@pytest.fixture(scope="session", params=STACKS)
def stack(request: pytest.FixtureRequest) -> Iterator[LoadedStack]:
    """The program run under mocks with ``infra/Pulumi.<stack>.yaml``.

    Session-scoped and parametrized, so pytest runs every dev test, then loads prod (Pulumi's
    runtime is process-global; one stack is live at a time).
    """
    loaded = load_stack(request.param)
    environments = {r.tags.get("Environment") for r in loaded.mocks if "tags" in r.props}
    assert environments == {request.param}, f"resources of another stack leaked: {environments}"
    yield loaded
