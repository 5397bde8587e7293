"""Fixtures of the infra tests: one mocked Pulumi stack at a time, dev then prod."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from infra_harness import LoadedStack, load_stack

# Mutation testing (make mutate-infra): mutmut maps each mutant to the tests during which its
# function ran. A stack loaded once per session runs the components during the FIRST test's
# setup only, so every later test would be dropped from the mutants it can kill. In mutmut's
# stats run the hits of the stack load are therefore credited to every test using the stack.
_STACK_HITS: dict[str, set[str]] = {}


def _mutmut_stats() -> set[str] | None:
    if os.environ.get("MUTANT_UNDER_TEST") != "stats":
        return None
    from mutmut.state import state  # noqa: PLC0415 - only inside a mutmut stats run

    return state()._stats


def remember_load_hits(key: str) -> None:
    stats = _mutmut_stats()
    if stats is not None:
        _STACK_HITS[key] = set(stats)


@pytest.fixture(autouse=True)
def _credit_stack_load(request: pytest.FixtureRequest) -> None:
    stats = _mutmut_stats()
    if stats is None:
        return
    for name in ("stack", "account"):
        if name in request.fixturenames:
            value = request.getfixturevalue(name)
            if isinstance(value, LoadedStack):
                stats.update(_STACK_HITS.get(f"{name}:{value.name}", set()))


STACKS = ("dev", "prod")


@pytest.fixture(scope="session", params=STACKS)
def stack(request: pytest.FixtureRequest) -> Iterator[LoadedStack]:
    """The program run under mocks with ``infra/Pulumi.<stack>.yaml``.

    Session-scoped and parametrized, so pytest runs every dev test, then loads prod (Pulumi's
    runtime is process-global; one stack is live at a time).
    """
    loaded = load_stack(request.param)
    remember_load_hits(f"stack:{request.param}")
    environments = {r.tags.get("Environment") for r in loaded.mocks if "tags" in r.props}
    assert environments == {request.param}, f"resources of another stack leaked: {environments}"
    yield loaded
