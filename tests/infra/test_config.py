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


# ------------------------------------------------- unknown keys, ranges, production minimums
def test_typo_in_the_stack_file_stops_the_program() -> None:
    """A misspelt key must not silently drop prod's six-year flow-log retention to the default."""
    import pulumi
    from infra_harness import load_stack

    config = copy.deepcopy(stack_config("prod"))
    config["radshield:logRetentionDay"] = config.pop("radshield:logRetentionDays")
    with pytest.raises(pulumi.RunError) as info:
        load_stack("prod", config)
    message = str(info.value)
    assert "radshield:logRetentionDay:" in message
    assert "did you mean 'radshield:logRetentionDays'?" in message


def test_program_reads_the_whole_namespace_from_pulumi_config() -> None:
    import json

    from radshield_infra.config import read_engine_config as read

    env = {
        "PULUMI_CONFIG": json.dumps(
            {
                "aws:region": "eu-west-1",
                "radshield:vpcCidr": "10.0.0.0/16",
                "radshield:config:backup": '{"retentionDays": 14}',
                "radshield:whatever": "x",
                "other:key": "ignored",
            }
        )
    }
    assert read(env) == {
        "aws:region": "eu-west-1",
        "radshield:vpcCidr": "10.0.0.0/16",
        "radshield:backup": {"retentionDays": 14},
        "radshield:whatever": "x",
    }
    with pytest.raises(ConfigValidationError, match="PULUMI_CONFIG"):
        read({})


@pytest.mark.parametrize(
    ("section", "typo", "nearest"),
    [
        ("backup", "vaultMaxRetentionDay", "radshield:backup.vaultMaxRetentionDays"),
        ("objectLock", "retentionDay", "radshield:objectLock.retentionDays"),
        ("lifecycle", "glacierIRDays", "radshield:lifecycle.glacierIrDays"),
        ("compute", "enable", "radshield:compute.enabled"),
        ("customerGateway", "ipAdress", "radshield:customerGateway.ipAddress"),
    ],
)
def test_typo_inside_a_mapping_names_the_nearest_key(
    raw: dict[str, Any], section: str, typo: str, nearest: str
) -> None:
    raw[f"radshield:{section}"] = {**(raw.get(f"radshield:{section}") or {}), typo: 1}
    message = _errors(raw)
    assert f"radshield:{section}.{typo}: unknown key; did you mean '{nearest}'?" in message


def test_unrelated_unknown_key_lists_the_known_keys(raw: dict[str, Any]) -> None:
    raw["radshield:zzz"] = 1
    assert "radshield:zzz: unknown key; expected one of" in _errors(raw)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("logRetentionDays", 1827),
        ("objectLock.retentionDays", 365),
        ("backup.retentionDays", 14),
        ("backup.vaultMaxRetentionDays", 365),
        ("kmsDeletionWindowDays", 7),
    ],
)
def test_production_minimums(key: str, value: int) -> None:
    from radshield_infra.config import PROD_MINIMUMS

    raw = copy.deepcopy(stack_config("prod"))
    if "." in key:
        section, name = key.split(".")
        raw[f"radshield:{section}"][name] = value
    else:
        raw[f"radshield:{key}"] = value
    message = _errors(raw)
    assert f"radshield:{key}: production minimum is {PROD_MINIMUMS[key]}" in message


def test_production_minimums_are_met_by_prod_and_anchor_logs_at_six_years() -> None:
    from radshield_infra.config import PROD_MINIMUMS

    assert PROD_MINIMUMS["logRetentionDays"] == 2192  # HIPAA 164.316(b)(2)(i): six years
    conf = validate_config(stack_config("prod"))
    assert conf.log_retention_days >= PROD_MINIMUMS["logRetentionDays"]
    assert conf.kms_deletion_window_days == 30


def test_prod_requires_compliance_modes() -> None:
    raw = copy.deepcopy(stack_config("prod"))
    raw["radshield:objectLock"]["mode"] = "GOVERNANCE"
    del raw["radshield:backup"]["vaultChangeableForDays"]
    message = _errors(raw)
    assert "radshield:objectLock.mode: production requires COMPLIANCE" in message
    assert "radshield:backup.vaultChangeableForDays: production requires" in message


@pytest.mark.parametrize(
    ("schedule", "daily"),
    [
        ("cron(0 5 * * ? *)", True),
        ("cron(30 1 ? * * *)", True),
        ("rate(12 hours)", True),
        ("rate(1 day)", True),
        ("cron(0 5 ? * MON *)", False),  # weekly
        ("cron(0 5 1 * ? *)", False),  # monthly
        ("rate(2 days)", False),
        ("rate(25 hours)", False),
        ("daily", False),
    ],
)
def test_backup_schedule_must_be_daily(raw: dict[str, Any], schedule: str, daily: bool) -> None:
    raw["radshield:backup"]["schedule"] = schedule
    if daily:
        validate_config(raw)
    else:
        assert "radshield:backup.schedule" in _errors(raw)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("logRetentionDays", 30),
        ("kmsDeletionWindowDays", 31),
        ("kmsDeletionWindowDays", 6),
        ("backup.retentionDays", 3),
        ("backup.vaultChangeableForDays", 2),
        ("objectLock.retentionDays", 40000),
        ("lifecycle.glacierIrDays", 59),
    ],
)
def test_every_retention_and_window_has_a_range(raw: dict[str, Any], key: str, value: int) -> None:
    if "." in key:
        section, name = key.split(".")
        raw[f"radshield:{section}"][name] = value
    else:
        raw[f"radshield:{key}"] = value
    assert f"radshield:{key}: must be at" in _errors(raw) or f"radshield:{key}: must be one" in (
        _errors(raw)
    )
