"""Run the Pulumi program of ``infra/`` under mocks and record every resource it declares.

``load_stack("dev")`` sets the mocks and the stack's config (from ``infra/Pulumi.dev.yaml``)
BEFORE executing ``infra/__main__.py``, then pumps the event loop until every registration has
reached the mocks. Pulumi's runtime state is process-global: load one stack at a time and use
its resources before loading the next (the ``stack`` fixture in ``conftest.py`` does that).
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.stack import wait_for_rpcs

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
POLICY = INFRA / "policy"
ACCOUNT_ID = "123456789012"
PROJECT = "radshield"

for path in (INFRA, POLICY):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


@dataclass
class Recorded:
    """One resource as the engine would see it: inputs at registration, state after create."""

    resource_type: str
    name: str
    props: dict[str, Any]  # inputs (camelCase), what resource policies receive
    outputs: dict[str, Any]
    urn: str
    property_dependencies: dict[str, list[Any]] = field(default_factory=dict)
    id: str = ""  # the provider id the mocks answered with
    provider: str = ""  # "<provider urn>::<id>" when the resource names an explicit provider

    @property
    def tags(self) -> Mapping[str, str]:
        return self.props.get("tags") or {}


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that record every resource and answer with plausible AWS outputs."""

    def __init__(self, stack: str, region: str) -> None:
        self.stack = stack
        self.region = region
        self.resources: list[Recorded] = []
        self.providers: list[Recorded] = []
        self.calls: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        typ, name, inputs = args.typ, args.name, dict(args.inputs)
        state = dict(inputs)
        rid = f"{name}-id"
        module = typ.split(":")[1].split("/")[0]
        arn = f"arn:aws:{module}:{self.region}:{ACCOUNT_ID}:{name}"
        if typ in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
            rid = inputs.get("bucket") or f"{name}-{self.stack}-0a1b2c"
            state["bucket"] = rid
            arn = f"arn:aws:s3:::{rid}"
        elif typ == "aws:kms/key:Key":
            rid = f"key-{name}"
            state["keyId"] = rid
            arn = f"arn:aws:kms:{self.region}:{ACCOUNT_ID}:key/{rid}"
        elif typ == "aws:iam/role:Role":
            rid = inputs.get("name") or f"{name}-role"
            arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{rid}"
        elif typ == "aws:ec2/vpc:Vpc":
            state["defaultNetworkAclId"] = "acl-default"
            state["defaultSecurityGroupId"] = "sg-default"
            state["defaultRouteTableId"] = "rtb-main"
        elif typ == "aws:ec2/vpcEndpoint:VpcEndpoint":
            state["prefixListId"] = "pl-63a5400a"
        elif typ == "aws:ec2/vpnConnection:VpnConnection":
            state["tunnel1Address"] = "192.0.2.1"
            state["tunnel2Address"] = "192.0.2.2"
        elif typ == "aws:ec2/instance:Instance":
            state["privateIp"] = "10.0.0.10"
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            arn = f"arn:aws:logs:{self.region}:{ACCOUNT_ID}:log-group:{inputs.get('name')}"
        state.setdefault("arn", arn)
        state.setdefault("name", inputs.get("name") or f"{name}-0a1b2c")
        urn = f"urn:pulumi:{self.stack}::{PROJECT}::{typ}::{name}"
        record = Recorded(typ, name, inputs, state, urn, id=rid, provider=args.provider or "")
        (self.providers if typ.startswith("pulumi:providers:") else self.resources).append(record)
        return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        self.calls.append(args.token)
        invokes = {
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/ci",
                "id": ACCOUNT_ID,
                "userId": "AIDACI",
            },
            "aws:index/getPartition:getPartition": {
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "id": "aws",
                "reverseDnsPrefix": "com.amazonaws",
            },
        }
        if args.token not in invokes:
            raise NotImplementedError(f"unexpected invoke {args.token}")
        return invokes[args.token]

    # --------------------------------------------------------------- queries for the tests
    def of_type(self, *types: str) -> list[Recorded]:
        return [r for r in self.resources if r.resource_type in types]

    def one(self, typ: str, name: str) -> Recorded:
        found = [r for r in self.resources if r.resource_type == typ and r.name == name]
        assert len(found) == 1, f"expected one {typ} named {name}, found {len(found)}"
        return found[0]

    def provider_records(self, name: str) -> list[Recorded]:
        """Explicit providers (such as the DR region's) by resource name."""
        return [p for p in self.providers if p.name == name]

    def __iter__(self) -> Iterator[Recorded]:
        return iter(self.resources)


ACCOUNT = INFRA / "account"


def stack_config(stack: str, program: Path = INFRA) -> dict[str, Any]:
    """The ``config:`` block of ``<program>/Pulumi.<stack>.yaml`` (typed, as YAML gives it)."""
    return yaml.safe_load((program / f"Pulumi.{stack}.yaml").read_text())["config"]


def as_engine_config(config: Mapping[str, Any]) -> dict[str, str]:
    """Config as the engine hands it to a program: strings, structured values as JSON."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


@dataclass
class LoadedStack:
    name: str
    config: dict[str, Any]
    mocks: RecordingMocks
    program: dict[str, Any]  # globals of infra/__main__.py: components by name

    def component(self, name: str) -> Any:
        return self.program[name]


def load_stack(
    stack: str, config: dict[str, Any] | None = None, program: Path = INFRA
) -> LoadedStack:
    """Run the program for ``stack`` (``config`` replaces ``Pulumi.<stack>.yaml`` if given).

    The config reaches the program twice, as the engine delivers it: ``pulumi.Config`` and the
    ``PULUMI_CONFIG`` environment variable (a JSON map of ``"ns:key"`` to string values).
    """
    config = stack_config(stack, program) if config is None else config
    mocks = RecordingMocks(stack, config.get("aws:region", "eu-west-1"))
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False)
    engine_config = as_engine_config(config)
    pulumi.runtime.set_all_config(engine_config)
    os.environ["PULUMI_CONFIG"] = json.dumps(engine_config)
    names = runpy.run_path(str(program / "__main__.py"), run_name="__main__")
    # Let every queued registration reach the mocks before the tests look at them.
    pulumi_mocks._sync_await(wait_for_rpcs())
    return LoadedStack(stack, config, mocks, names)


def after_registration(stack: LoadedStack, check: Callable[[], Any]) -> pulumi.Output[Any]:
    """An Output that runs ``check`` on the recorded inputs once the stack's components exist."""
    components = [v for v in stack.program.values() if isinstance(v, pulumi.ComponentResource)]
    return pulumi.Output.all(*[c.urn for c in components]).apply(lambda _: check())
