"""The config validator: a pure function on the ``config:`` mapping of a stack file."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from infra_harness import stack_config
from radshield_infra.config import ConfigValidationError, validate_config


@pytest.fixture
def raw() -> dict[str, Any]:
    return copy.deepcopy(stack_config("dev"))


def _errors(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigValidationError) as info:
        validate_config(raw)
    return str(info.value)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_example_stacks_are_valid(stack: str) -> None:
    conf = validate_config(stack_config(stack))
    assert conf.environment == stack
    assert conf.object_lock.mode == {"dev": "GOVERNANCE", "prod": "COMPLIANCE"}[stack]
    assert conf.compute.enabled is (stack == "prod")


def test_bad_cidr_names_key_and_value(raw: dict[str, Any]) -> None:
    raw["radshield:vpcCidr"] = "10.40.0.0/33"
    message = _errors(raw)
    assert "radshield:vpcCidr" in message and "10.40.0.0/33" in message


def test_bad_subnet_cidr_names_tier_and_index(raw: dict[str, Any]) -> None:
    raw["radshield:subnets"]["data"][1] = "10.40.9.300/24"
    message = _errors(raw)
    assert "radshield:subnets.data[1]" in message and "10.40.9.300/24" in message


def test_overlapping_tiers(raw: dict[str, Any]) -> None:
    raw["radshield:subnets"]["data"][0] = "10.40.4.0/24"  # inside app[0] 10.40.4.0/23
    message = _errors(raw)
    assert "radshield:subnets.data[0]" in message
    assert "overlaps radshield:subnets.app[0]" in message


def test_tier_outside_vpc(raw: dict[str, Any]) -> None:
    raw["radshield:subnets"]["ingress"][0] = "10.99.0.0/24"
    message = _errors(raw)
    assert "radshield:subnets.ingress[0]" in message and "outside the VPC CIDR" in message


@pytest.mark.parametrize("days", [0, -5])
def test_object_lock_retention_must_be_positive(raw: dict[str, Any], days: int) -> None:
    raw["radshield:objectLock"]["retentionDays"] = days
    message = _errors(raw)
    assert "radshield:objectLock.retentionDays" in message and f"got {days}" in message


def test_unknown_object_lock_mode(raw: dict[str, Any]) -> None:
    raw["radshield:objectLock"]["mode"] = "LEGAL_HOLD"
    message = _errors(raw)
    assert "radshield:objectLock.mode" in message and "'LEGAL_HOLD'" in message


@pytest.mark.parametrize("value", [None, []])
def test_on_prem_cidr_is_required(raw: dict[str, Any], value: Any) -> None:
    if value is None:
        del raw["radshield:onPremCidrs"]
    else:
        raw["radshield:onPremCidrs"] = value
    assert "radshield:onPremCidrs" in _errors(raw)


def test_on_prem_must_not_overlap_vpc_or_be_default_route(raw: dict[str, Any]) -> None:
    raw["radshield:onPremCidrs"] = ["10.40.0.0/24", "0.0.0.0/0"]
    message = _errors(raw)
    assert "radshield:onPremCidrs[0]" in message and "overlaps the VPC" in message
    assert "radshield:onPremCidrs[1]" in message


def test_compute_requires_ami(raw: dict[str, Any]) -> None:
    raw["radshield:compute"] = {"enabled": True}
    assert "radshield:compute.ami" in _errors(raw)


def test_unknown_key_and_bad_log_retention(raw: dict[str, Any]) -> None:
    raw["radshield:vpcCdir"] = "10.0.0.0/16"
    raw["radshield:logRetentionDays"] = 100
    message = _errors(raw)
    assert "radshield:vpcCdir" in message and "unknown key" in message
    assert "radshield:logRetentionDays" in message and "got 100" in message


def test_lifecycle_order_and_backup_range(raw: dict[str, Any]) -> None:
    raw["radshield:lifecycle"]["glacierIrDays"] = 40
    raw["radshield:backup"]["retentionDays"] = 5000
    message = _errors(raw)
    assert "radshield:lifecycle.glacierIrDays" in message
    assert "radshield:backup.retentionDays" in message


def test_every_problem_is_reported_at_once(raw: dict[str, Any]) -> None:
    raw["radshield:vpcCidr"] = "nonsense"
    raw["radshield:objectLock"]["retentionDays"] = 0
    del raw["radshield:onPremCidrs"]
    with pytest.raises(ConfigValidationError) as info:
        validate_config(raw)
    keys = " ".join(info.value.errors)
    for key in ("radshield:vpcCidr", "radshield:objectLock.retentionDays", "radshield:onPremCidrs"):
        assert key in keys
