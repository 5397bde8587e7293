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


def _set(path: str, value: Any) -> Any:
    def apply(raw: dict[str, Any]) -> None:
        if value is _DELETE:
            section, _, name = path.partition(".")
            if name:
                del raw[f"radshield:{section}"][name]
            else:
                del raw[f"radshield:{section}"]
            return
        section, _, name = path.partition(".")
        if name:
            raw.setdefault(f"radshield:{section}", {})[name] = value
        else:
            raw[f"radshield:{section}"] = value

    return apply


_DELETE = object()

# (stack, change, the exact error line): pins each check's key, bound and wording.
EXACT = [
    (
        "dev",
        _set("vpcCidr", "10.40.0.0/25"),
        "radshield:vpcCidr: prefix length must be between /16 and /24 (got '10.40.0.0/25')",
    ),
    (
        "dev",
        _set("vpcCidr", "8.8.0.0/16"),
        "radshield:vpcCidr: must be a private (RFC 1918) range (got '8.8.0.0/16')",
    ),
    (
        "dev",
        _set("vpcCidr", 5),
        "radshield:vpcCidr: expected an IPv4 CIDR string such as 10.0.0.0/16 (got 5)",
    ),
    (
        "dev",
        _set("environment", "Dev"),
        "radshield:environment: required, lower-case name of 2-16 chars (got 'Dev')",
    ),
    (
        "dev",
        _set("availabilityZones", ["eu-west-1a"]),
        "radshield:availabilityZones: expected two distinct availability zones (got ['eu-west-1a'])",
    ),
    (
        "dev",
        _set("availabilityZones", ["eu-west-1a", "us-east-1a"]),
        "radshield:availabilityZones[1]: not in region eu-west-1 (got 'us-east-1a')",
    ),
    (
        "dev",
        _set(
            "subnets",
            {
                "ingress": ["10.40.0.0/24"],
                "app": ["10.40.4.0/23", "10.40.6.0/23"],
                "data": ["10.40.8.0/24", "10.40.9.0/24"],
            },
        ),
        "radshield:subnets.ingress: expected a list of two CIDRs, one per availability zone (got ['10.40.0.0/24'])",
    ),
    (
        "dev",
        _set("onPremCidrs", ["8.8.8.0/24"]),
        "radshield:onPremCidrs[0]: must be a private (RFC 1918) range (got '8.8.8.0/24')",
    ),
    (
        "dev",
        _set("ingressInternetGateway", "yes"),
        "radshield:ingressInternetGateway: expected true or false (got 'yes')",
    ),
    (
        "dev",
        _set("customerGateway.ipAddress", "10.0.0.1"),
        "radshield:customerGateway.ipAddress: expected a public IPv4 (got '10.0.0.1')",
    ),
    (
        "dev",
        _set("customerGateway.bgpAsn", 0),
        "radshield:customerGateway.bgpAsn: must be at least 1 (got 0)",
    ),
    (
        "dev",
        _set("objectLock.retentionDays", 36501),
        "radshield:objectLock.retentionDays: must be at most 36500 (got 36501)",
    ),
    (
        "dev",
        _set("objectLock.retentionDays", True),
        "radshield:objectLock.retentionDays: expected an integer (got True)",
    ),
    (
        "dev",
        _set("lifecycle.standardIaDays", 29),
        "radshield:lifecycle.standardIaDays: must be at least 30 (got 29)",
    ),
    (
        "dev",
        _set("lifecycle.deepArchiveDays", 100),
        "radshield:lifecycle.deepArchiveDays: must be at least 180 (got 100)",
    ),
    (
        "dev",
        _set("lifecycle.glacierIrDays", 200),
        "radshield:lifecycle.deepArchiveDays: must be at least glacierIrDays + 90 (290) (got 180)",
    ),
    (
        "dev",
        _set("logRetentionDays", 60),
        "radshield:logRetentionDays: must be at least 90 (got 60)",
    ),
    (
        "dev",
        _set("logRetentionDays", True),
        "radshield:logRetentionDays: must be one of [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, "
        "365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] (got True)",
    ),
    (
        "dev",
        _set("kmsDeletionWindowDays", 31),
        "radshield:kmsDeletionWindowDays: must be at most 30 (got 31)",
    ),
    (
        "dev",
        _set("backup.vaultMinRetentionDays", 400),
        "radshield:backup.vaultMinRetentionDays: greater than vaultMaxRetentionDays (365) (got 400)",
    ),
    (
        "dev",
        _set("backup.retentionDays", 3),
        "radshield:backup.retentionDays: must be at least 7 (got 3)",
    ),
    (
        "dev",
        _set("backup.vaultMaxRetentionDays", 6),
        "radshield:backup.vaultMaxRetentionDays: must be at least 7 (got 6)",
    ),
    (
        "dev",
        _set("backup.schedule", "cron(0 5 ? * MON *)"),
        "radshield:backup.schedule: expected a daily schedule: cron(M H * * ? *) or "
        "rate(N hours) with N <= 24 (got 'cron(0 5 ? * MON *)')",
    ),
    (
        "dev",
        _set("backup.retentionDays", 400),
        "radshield:backup.retentionDays: outside the vault lock range [7, 365] (got 400)",
    ),
    (
        "dev",
        _set("compute", {"enabled": True, "ami": "ami-0123456789abcdef0", "instanceType": "big"}),
        "radshield:compute.instanceType: expected an instance type such as m6i.xlarge (got 'big')",
    ),
    (
        "dev",
        _set("compute", {"enabled": True, "ami": "ami-0123456789abcdef0", "rootVolumeGb": 4}),
        "radshield:compute.rootVolumeGb: must be at least 8 (got 4)",
    ),
    ("dev", _set("compute", "on"), "radshield:compute: expected a mapping (got 'on')"),
    ("dev", _set("objectLock", _DELETE), "radshield:objectLock: is required (got None)"),
    ("dev", _set("objectLock", "7y"), "radshield:objectLock: expected a mapping (got '7y')"),
    (
        "dev",
        _set("drRegion", "eu-west-1"),
        "radshield:drRegion: expected an AWS region other than aws:region (got 'eu-west-1')",
    ),
    (
        "dev",
        _set(
            "subnets",
            {
                "ingress": ["10.40.0.0/24", "10.40.1.0/24"],
                "app": ["10.40.4.0/23", "10.40.6.0/23"],
                "data": ["10.40.8.0/24", "10.40.9.0/24"],
                "dmz": [],
            },
        ),
        "radshield:subnets.dmz: unknown tier; use ('ingress', 'app', 'data') (got [])",
    ),
    (
        "prod",
        _set("drRegion", _DELETE),
        "radshield:drRegion: production requires a DR region (replica, backup copy) (got None)",
    ),
    (
        "prod",
        _set("logRetentionDays", 1827),
        "radshield:logRetentionDays: production minimum is 2192 (PROD_MINIMUMS) (got 1827)",
    ),
    (
        "prod",
        _set("objectLock.retentionDays", 2554),
        "radshield:objectLock.retentionDays: production minimum is 2555 (PROD_MINIMUMS) (got 2554)",
    ),
    (
        "prod",
        _set("backup.retentionDays", 34),
        "radshield:backup.retentionDays: production minimum is 35 (PROD_MINIMUMS) (got 34)",
    ),
    (
        "prod",
        _set("backup.vaultMaxRetentionDays", 3649),
        "radshield:backup.vaultMaxRetentionDays: production minimum is 3650 (PROD_MINIMUMS) (got 3649)",
    ),
    (
        "prod",
        _set("kmsDeletionWindowDays", 29),
        "radshield:kmsDeletionWindowDays: production minimum is 30 (PROD_MINIMUMS) (got 29)",
    ),
    (
        "prod",
        _set("objectLock.mode", "GOVERNANCE"),
        "radshield:objectLock.mode: production requires COMPLIANCE (got 'GOVERNANCE')",
    ),
]


@pytest.mark.parametrize(
    ("stack", "change", "line"),
    EXACT,
    ids=[e[2].split(":")[1] + f"-{i}" for i, e in enumerate(EXACT)],
)
def test_exact_error_lines(stack: str, change: Any, line: str) -> None:
    raw = copy.deepcopy(stack_config(stack))
    change(raw)
    with pytest.raises(ConfigValidationError) as info:
        validate_config(raw)
    assert line in info.value.errors, info.value.errors


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_valid_stacks_give_the_typed_values(stack: str) -> None:
    conf = validate_config(stack_config(stack))
    want = {
        "dev": ("eu-west-1", "10.40.0.0/20", ("GOVERNANCE", 7), 90,
                (14, "cron(0 3 * * ? *)", 7, 365, None), None, False),
        "prod": ("us-east-1", "10.60.0.0/16", ("COMPLIANCE", 2555), 2192,
                 (35, "cron(0 5 * * ? *)", 7, 3650, 3), "us-west-2", True),
    }[stack]  # fmt: skip
    b = conf.backup
    got = (
        conf.region,
        conf.vpc_cidr,
        (conf.object_lock.mode, conf.object_lock.retention_days),
        conf.log_retention_days,
        (
            b.retention_days,
            b.schedule,
            b.vault_min_retention_days,
            b.vault_max_retention_days,
            b.vault_changeable_for_days,
        ),
        conf.dr_region,
        conf.ingress_internet_gateway,
    )
    assert got == want
    assert conf.tags == {"Project": "radshield", "Environment": stack, "ManagedBy": "pulumi"}
    assert conf.kms_deletion_window_days == 30
    assert len(conf.availability_zones) == 2 and set(conf.subnets) == {"ingress", "app", "data"}
