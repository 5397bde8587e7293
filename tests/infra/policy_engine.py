"""Drive the policy pack exactly as the Pulumi engine does: through pulumi_policy's gRPC servicer.

``pulumi preview --policy-pack`` starts the pack, which serves ``_PolicyAnalyzerServicer``; the
engine calls ``Analyze`` once per resource (its inputs) and ``AnalyzeStack`` once with every
resource (its outputs). Each request carries the properties as a protobuf ``Struct`` in which
values not yet known are the engine's sentinel strings; the servicer deserializes them, wraps
them in ``unknown_checking_proxy``, builds ``ResourceValidationArgs`` / ``PolicyResource`` /
``StackValidationArgs`` and turns an ``UnknownValueError`` escaping a validator into an
ADVISORY "can't run policy ... during preview" diagnostic. Here the same servicer is built and
called with the same request messages, so the proxies, the argument objects and that
downgrade are pulumi_policy's own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

UNKNOWN = UNKNOWN_STRING_VALUE  # what the engine sends for any value unknown during preview


def urn(stack: str, typ: str, name: str) -> str:
    return f"urn:pulumi:{stack}::radshield::{typ}::{name}"


@dataclass
class Res:
    """One resource as the engine describes it to an analyzer."""

    type: str
    props: Mapping[str, Any]
    name: str = "r"
    stack: str = "prod"
    property_dependencies: Mapping[str, Sequence[Res]] = field(default_factory=dict)

    @property
    def urn(self) -> str:
        return urn(self.stack, self.type, self.name)


@dataclass(frozen=True)
class Diagnostic:
    policy: str
    mandatory: bool
    message: str


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    json_format.ParseDict(dict(props), message)
    return message


def servicer() -> Any:
    import radshield_policies

    return _PolicyAnalyzerServicer(
        "radshield-hipaa", "0.0.1", radshield_policies.build_policies(), EnforcementLevel.MANDATORY
    )


def _diagnostics(response: Any) -> list[Diagnostic]:
    return [
        Diagnostic(d.policyName, d.enforcementLevel == proto.MANDATORY, d.message)
        for d in response.diagnostics
    ]


def analyze(res: Res) -> list[Diagnostic]:
    """The engine's per-resource call (``Analyze``), as during ``pulumi preview``/``up``."""
    request = proto.AnalyzeRequest(
        type=res.type, properties=_struct(res.props), urn=res.urn, name=res.name
    )
    return _diagnostics(servicer().Analyze(request, None))


def analyze_stack(resources: Sequence[Res]) -> list[Diagnostic]:
    """The engine's whole-stack call (``AnalyzeStack``) with property dependencies by URN."""
    request = proto.AnalyzeStackRequest(
        resources=[
            proto.AnalyzerResource(
                type=r.type,
                properties=_struct(r.props),
                urn=r.urn,
                name=r.name,
                propertyDependencies={
                    k: proto.AnalyzerPropertyDependencies(urns=[d.urn for d in deps])
                    for k, deps in r.property_dependencies.items()
                },
            )
            for r in resources
        ]
    )
    return _diagnostics(servicer().AnalyzeStack(request, None))


def advisories(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics the engine would not block on (the "can't run policy" downgrade)."""
    return [d for d in diagnostics if not d.mandatory]


def refused(diagnostics: list[Diagnostic]) -> set[str]:
    return {d.policy for d in diagnostics if d.mandatory}


@contextmanager
def engine_mode(preview: bool) -> Iterator[None]:
    """``PULUMI_DRY_RUN`` as the engine sets it for the policy pack's process."""
    import os

    old = os.environ.get("PULUMI_DRY_RUN")
    os.environ["PULUMI_DRY_RUN"] = "true" if preview else "false"
    try:
        yield
    finally:
        if old is None:
            del os.environ["PULUMI_DRY_RUN"]
        else:
            os.environ["PULUMI_DRY_RUN"] = old
