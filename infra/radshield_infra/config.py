"""Stack configuration: a pure validator from the raw ``config:`` mapping to typed settings.

``validate_config`` takes the same mapping as the ``config:`` block of ``Pulumi.<stack>.yaml``
(full keys such as ``radshield:vpcCidr`` and ``aws:region``) and either returns a
:class:`StackConfig` or raises :class:`ConfigValidationError` listing every problem found, each
naming the config key and the bad value. It imports nothing from Pulumi so it is unit-testable.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

NS = "radshield"
TIERS = ("ingress", "app", "data")
OBJECT_LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")
# CloudWatch Logs accepts only these retention values.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip
KNOWN_KEYS = (
    "environment",
    "vpcCidr",
    "availabilityZones",
    "subnets",
    "onPremCidrs",
    "ingressInternetGateway",
    "customerGateway",
    "objectLock",
    "lifecycle",
    "logRetentionDays",
    "backup",
    "compute",
    "kmsDeletionWindowDays",
    "drRegion",
)
# Keys of the structured values; a typo inside one is as silent as a typo at the top level.
NESTED_KEYS: Mapping[str, tuple[str, ...]] = {
    "subnets": TIERS,
    "customerGateway": ("ipAddress", "bgpAsn"),
    "objectLock": ("mode", "retentionDays"),
    "lifecycle": ("standardIaDays", "glacierIrDays", "deepArchiveDays"),
    "backup": (
        "retentionDays",
        "schedule",
        "vaultMinRetentionDays",
        "vaultMaxRetentionDays",
        "vaultChangeableForDays",
    ),
    "compute": ("enabled", "ami", "instanceType", "rootVolumeGb", "dataVolumeGb"),
}
# Other namespaces the program reads; the rest belong to other tools and are left alone.
OTHER_KNOWN_KEYS = ("aws:region",)

# Ranges of every retention, window and schedule, in every environment: (minimum, maximum).
RANGES: Mapping[str, tuple[int, int]] = {
    "objectLock.retentionDays": (1, 36500),
    "logRetentionDays": (90, 3653),
    "backup.retentionDays": (7, 36500),
    "backup.vaultMinRetentionDays": (1, 36500),
    "backup.vaultMaxRetentionDays": (7, 36500),
    "backup.vaultChangeableForDays": (3, 36500),
    "kmsDeletionWindowDays": (7, 30),
    "lifecycle.standardIaDays": (30, 36500),
    "lifecycle.glacierIrDays": (60, 36500),
    "lifecycle.deepArchiveDays": (180, 36500),
}

# Production minimums, all in one place. Anchors:
# - logs (flow logs; CloudTrail/Config objects are kept by the trail bucket): HIPAA 45 CFR
#   164.316(b)(2)(i) keeps security documentation six years -> 2192 days, the CloudWatch Logs
#   retention value for six years;
# - imaging archive: COMPLIANCE-mode Object Lock for 7 years (2555 days), the common US state
#   floor for adult medical records (longer for minors: raise it, never lower it);
# - backups: 35 days of daily recovery points, a vault lock that can only be lengthened
#   (compliance mode: changeableForDays set), and a maximum no shorter than the retention;
# - KMS keys: the longest deletion window (30 days) to undo a scheduled key deletion.
PROD_ENVIRONMENT = "prod"
PROD_MINIMUMS: Mapping[str, int] = {
    "logRetentionDays": 2192,
    "objectLock.retentionDays": 2555,
    "backup.retentionDays": 35,
    "backup.vaultMinRetentionDays": 7,
    "backup.vaultMaxRetentionDays": 3650,
    "kmsDeletionWindowDays": 30,
}
PROD_OBJECT_LOCK_MODE = "COMPLIANCE"
_AZ_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_ENV_RE = re.compile(r"^[a-z][a-z0-9-]{1,15}$")
_AMI_RE = re.compile(r"^ami-[0-9a-f]{8,17}$")


class ConfigValidationError(ValueError):
    """Raised when stack configuration is invalid; ``errors`` holds one message per problem."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("invalid stack configuration:\n  - " + "\n  - ".join(self.errors))


@dataclass(frozen=True)
class ObjectLockSettings:
    mode: str
    retention_days: int


@dataclass(frozen=True)
class LifecycleSettings:
    standard_ia_days: int
    glacier_ir_days: int
    deep_archive_days: int


@dataclass(frozen=True)
class BackupSettings:
    retention_days: int
    schedule: str
    vault_min_retention_days: int
    vault_max_retention_days: int
    # None: vault lock in governance mode (removable); a number: compliance mode after grace days.
    vault_changeable_for_days: int | None


@dataclass(frozen=True)
class CustomerGatewaySettings:
    ip_address: str
    bgp_asn: int


@dataclass(frozen=True)
class ComputeSettings:
    enabled: bool
    ami: str = ""
    instance_type: str = "m6i.xlarge"
    root_volume_gb: int = 50
    data_volume_gb: int = 500


@dataclass(frozen=True)
class StackConfig:
    region: str
    environment: str
    vpc_cidr: str
    availability_zones: tuple[str, str]
    subnets: Mapping[str, tuple[str, str]]
    on_prem_cidrs: tuple[str, ...]
    ingress_internet_gateway: bool
    customer_gateway: CustomerGatewaySettings
    object_lock: ObjectLockSettings
    lifecycle: LifecycleSettings
    log_retention_days: int
    backup: BackupSettings
    compute: ComputeSettings
    kms_deletion_window_days: int = 30
    dr_region: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


class _Collector:
    """Accumulates errors so one run reports every bad key, not only the first."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def add(self, key: str, value: Any, problem: str) -> None:
        self.errors.append(f"{key}: {problem} (got {value!r})")


def _key(name: str) -> str:
    return f"{NS}:{name}"


def _network(
    errs: _Collector, key: str, value: Any, *, private: bool = False
) -> ipaddress.IPv4Network | None:
    if not isinstance(value, str):
        errs.add(key, value, "expected an IPv4 CIDR string such as 10.0.0.0/16")
        return None
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        errs.add(key, value, f"not a valid IPv4 CIDR ({exc})")
        return None
    if private and not net.is_private:
        errs.add(key, value, "must be a private (RFC 1918) range")
    return net


def _int(
    errs: _Collector, key: str, value: Any, *, minimum: int, maximum: int | None = None
) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        errs.add(key, value, "expected an integer")
        return None
    if value < minimum:
        errs.add(key, value, f"must be at least {minimum}")
        return None
    if maximum is not None and value > maximum:
        errs.add(key, value, f"must be at most {maximum}")
        return None
    return value


def _mapping(errs: _Collector, key: str, value: Any) -> Mapping[str, Any]:
    if value is None:
        errs.add(key, value, "is required")
        return {}
    if not isinstance(value, Mapping):
        errs.add(key, value, "expected a mapping")
        return {}
    return value


def _bool(errs: _Collector, key: str, value: Any, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        errs.add(key, value, "expected true or false")
        return default
    return value


_NOT_PUBLIC = tuple(
    ipaddress.IPv4Network(n)
    for n in ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
              "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/3")
)  # fmt: skip


def _is_public_ipv4(value: Any) -> bool:
    """Internet-routable for a VPN peer (documentation ranges are accepted for examples)."""
    try:
        ip = ipaddress.IPv4Address(value)
    except (ValueError, TypeError):
        return False
    return not any(ip in net for net in _NOT_PUBLIC)


def _decode(value: Any) -> Any:
    """Structured config arrives as JSON text, plain strings as themselves."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def read_engine_config(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The stack's WHOLE ``radshield:`` namespace (plus ``aws:region``), as the engine set it.

    ``pulumi.Config`` answers only for keys one asks for, so a misspelt key would be silently
    ignored. The engine hands the program its config as ``PULUMI_CONFIG``, a JSON map of
    ``"namespace:key"`` to string values (older engines wrote ``namespace:config:key``).
    """
    text = environ.get("PULUMI_CONFIG")
    if text is None:
        raise ConfigValidationError(
            ["PULUMI_CONFIG: not set; run the program with the Pulumi engine (got None)"]
        )
    raw: dict[str, Any] = {}
    for key, value in json.loads(text).items():
        namespace, _, name = key.partition(":")
        full = f"{namespace}:{name.removeprefix('config:')}"
        if namespace == NS or full in OTHER_KNOWN_KEYS:
            raw[full] = _decode(value)
    return raw


def _nearest(name: str, known: tuple[str, ...], prefix: str) -> str:
    """ "did you mean '<prefix><closest known key>'?" (difflib), else the list of known keys."""
    match = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    if match:
        return f"did you mean '{prefix}{match[0]}'?"
    return f"expected one of {list(known)}"


def _unknown_keys(errs: _Collector, raw: Mapping[str, Any]) -> None:
    """Every key of the radshield namespace (and of its mappings) must be one the program reads."""
    for full_key, value in raw.items():
        if not full_key.startswith(f"{NS}:"):
            continue
        name = full_key[len(NS) + 1 :]
        if name not in KNOWN_KEYS:
            errs.add(full_key, value, f"unknown key; {_nearest(name, KNOWN_KEYS, f'{NS}:')}")
            continue
        nested = NESTED_KEYS.get(name)
        if nested is None or not isinstance(value, Mapping) or name == "subnets":
            continue  # subnets: an unknown tier is reported with the tiers
        for sub in value:
            if sub not in nested:
                near = _nearest(str(sub), nested, f"{full_key}.")
                errs.add(f"{full_key}.{sub}", value[sub], f"unknown key; {near}")


def _ranged(errs: _Collector, name: str, value: Any) -> int | None:
    """An integer within ``RANGES[name]``; the error names the full key."""
    low, high = RANGES[name]
    return _int(errs, _key(name), value, minimum=low, maximum=high)


_CRON_RE = re.compile(r"^cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)$")
_RATE_RE = re.compile(r"^rate\((\d+) (minutes?|hours?|days?)\)$")


def schedule_is_daily(schedule: str) -> bool:
    """Whether an AWS Backup schedule expression fires at least once every day.

    ``cron(min hour day-of-month month day-of-week year)`` with single minute and hour values
    needs ``*`` or ``?`` for day of month, month, day of week and year; ``rate(N unit)`` needs
    at most 24 hours (or 1 day).
    """
    cron = _CRON_RE.match(schedule)
    if cron:
        _minute, _hour, dom, month, dow, year = cron.groups()
        return dom in ("*", "?") and month == "*" and dow in ("*", "?") and year == "*"
    rate = _RATE_RE.match(schedule)
    if rate:
        number, unit = int(rate.group(1)), rate.group(2)
        hours = {"m": number / 60, "h": number, "d": number * 24}[unit[0]]
        return 0 < hours <= 24
    return False


def _prod_minimums(errs: _Collector, values: Mapping[str, int | None]) -> None:
    for name, minimum in PROD_MINIMUMS.items():
        value = values.get(name)
        if value is not None and value < minimum:
            errs.add(_key(name), value, f"production minimum is {minimum} (PROD_MINIMUMS)")


def validate_config(raw: Mapping[str, Any]) -> StackConfig:
    """Validate the raw stack configuration (full ``namespace:key`` keys) and return it typed.

    Raises :class:`ConfigValidationError` naming each offending key and value.
    """
    errs = _Collector()

    _unknown_keys(errs, raw)

    region = raw.get("aws:region")
    if not isinstance(region, str) or not _REGION_RE.match(region):
        errs.add("aws:region", region, "required, an AWS region such as eu-west-1")
        region = ""

    environment = raw.get(_key("environment"))
    if not isinstance(environment, str) or not _ENV_RE.match(environment):
        errs.add(_key("environment"), environment, "required, lower-case name of 2-16 chars")
        environment = ""

    vpc = _network(errs, _key("vpcCidr"), raw.get(_key("vpcCidr")), private=True)
    if vpc is not None and not 16 <= vpc.prefixlen <= 24:
        errs.add(_key("vpcCidr"), str(vpc), "prefix length must be between /16 and /24")

    azs_raw = raw.get(_key("availabilityZones"))
    azs: tuple[str, str] = ("", "")
    if (
        not isinstance(azs_raw, list)
        or len(azs_raw) != 2
        or len(set(azs_raw)) != 2
        or not all(isinstance(a, str) and _AZ_RE.match(a) for a in azs_raw)
    ):
        errs.add(_key("availabilityZones"), azs_raw, "expected two distinct availability zones")
    else:
        azs = (azs_raw[0], azs_raw[1])
        for i, az in enumerate(azs):
            if region and not az.startswith(region):
                errs.add(f"{_key('availabilityZones')}[{i}]", az, f"not in region {region}")

    subnets_raw = _mapping(errs, _key("subnets"), raw.get(_key("subnets")))
    subnets: dict[str, tuple[str, str]] = {}
    seen: list[tuple[str, ipaddress.IPv4Network]] = []
    for name in subnets_raw:
        if name not in TIERS:
            errs.add(f"{_key('subnets')}.{name}", subnets_raw[name], f"unknown tier; use {TIERS}")
    for tier in TIERS if subnets_raw else ():
        tier_key = f"{_key('subnets')}.{tier}"
        cidrs = subnets_raw.get(tier)
        if not isinstance(cidrs, list) or len(cidrs) != 2:
            errs.add(tier_key, cidrs, "expected a list of two CIDRs, one per availability zone")
            continue
        subnets[tier] = (str(cidrs[0]), str(cidrs[1]))
        for i, cidr in enumerate(cidrs):
            item_key = f"{tier_key}[{i}]"
            net = _network(errs, item_key, cidr)
            if net is None:
                continue
            if vpc is not None and not net.subnet_of(vpc):
                errs.add(item_key, cidr, f"outside the VPC CIDR {vpc} ({_key('vpcCidr')})")
            for other_key, other in seen:
                if net.overlaps(other):
                    errs.add(item_key, cidr, f"overlaps {other_key} ({other})")
            seen.append((item_key, net))

    onprem_raw = raw.get(_key("onPremCidrs"))
    on_prem: list[str] = []
    if not isinstance(onprem_raw, list) or not onprem_raw:
        errs.add(_key("onPremCidrs"), onprem_raw, "required, at least one on-premises CIDR")
    else:
        for i, cidr in enumerate(onprem_raw):
            item_key = f"{_key('onPremCidrs')}[{i}]"
            net = _network(errs, item_key, cidr, private=True)
            if net is None:
                continue
            if net.prefixlen == 0:
                errs.add(item_key, cidr, "must not be a default route")
            elif vpc is not None and net.overlaps(vpc):
                errs.add(item_key, cidr, f"overlaps the VPC CIDR {vpc} ({_key('vpcCidr')})")
            on_prem.append(str(net))

    igw = _bool(
        errs, _key("ingressInternetGateway"), raw.get(_key("ingressInternetGateway")), False
    )

    cgw_raw = _mapping(errs, _key("customerGateway"), raw.get(_key("customerGateway")))
    cgw_ip = cgw_raw.get("ipAddress")
    if cgw_raw and not _is_public_ipv4(cgw_ip):
        errs.add(f"{_key('customerGateway')}.ipAddress", cgw_ip, "expected a public IPv4")
    cgw_asn = _int(
        errs,
        f"{_key('customerGateway')}.bgpAsn",
        cgw_raw.get("bgpAsn", 65000),
        minimum=1,
        maximum=4294967294,
    )

    lock_raw = _mapping(errs, _key("objectLock"), raw.get(_key("objectLock")))
    mode = lock_raw.get("mode")
    if lock_raw and mode not in OBJECT_LOCK_MODES:
        errs.add(
            f"{_key('objectLock')}.mode", mode, f"unknown mode; use one of {OBJECT_LOCK_MODES}"
        )
    lock_days = _ranged(errs, "objectLock.retentionDays", lock_raw.get("retentionDays"))

    lc_raw = _mapping(errs, _key("lifecycle"), raw.get(_key("lifecycle")))
    lc_key = _key("lifecycle")
    ia = _ranged(errs, "lifecycle.standardIaDays", lc_raw.get("standardIaDays", 30))
    gir = _ranged(errs, "lifecycle.glacierIrDays", lc_raw.get("glacierIrDays", 90))
    deep = _ranged(errs, "lifecycle.deepArchiveDays", lc_raw.get("deepArchiveDays", 365))
    if ia is not None and gir is not None and gir < ia + 30:
        errs.add(
            f"{lc_key}.glacierIrDays", gir, f"must be at least standardIaDays + 30 ({ia + 30})"
        )
    if gir is not None and deep is not None and deep < gir + 90:
        errs.add(
            f"{lc_key}.deepArchiveDays", deep, f"must be at least glacierIrDays + 90 ({gir + 90})"
        )

    log_days = raw.get(_key("logRetentionDays"), 365)
    if log_days not in LOG_RETENTION_DAYS or isinstance(log_days, bool):
        errs.add(_key("logRetentionDays"), log_days, f"must be one of {list(LOG_RETENTION_DAYS)}")
        log_days = None
    else:
        log_days = _ranged(errs, "logRetentionDays", log_days)
    kms_window = _ranged(errs, "kmsDeletionWindowDays", raw.get(_key("kmsDeletionWindowDays"), 30))

    bk_raw = _mapping(errs, _key("backup"), raw.get(_key("backup")))
    bk_key = _key("backup")
    bk_ret = _ranged(errs, "backup.retentionDays", bk_raw.get("retentionDays"))
    vmin = _ranged(errs, "backup.vaultMinRetentionDays", bk_raw.get("vaultMinRetentionDays", 7))
    vmax = _ranged(errs, "backup.vaultMaxRetentionDays", bk_raw.get("vaultMaxRetentionDays", 3650))
    changeable = bk_raw.get("vaultChangeableForDays")
    if changeable is not None:
        changeable = _ranged(errs, "backup.vaultChangeableForDays", changeable)
    schedule = bk_raw.get("schedule", "cron(0 5 * * ? *)")
    if not isinstance(schedule, str) or not schedule_is_daily(schedule):
        errs.add(
            f"{bk_key}.schedule",
            schedule,
            "expected a daily schedule: cron(M H * * ? *) or rate(N hours) with N <= 24",
        )
    if vmin is not None and vmax is not None and vmin > vmax:
        errs.add(
            f"{bk_key}.vaultMinRetentionDays", vmin, f"greater than vaultMaxRetentionDays ({vmax})"
        )
    if bk_ret is not None and vmin is not None and vmax is not None and not vmin <= bk_ret <= vmax:
        errs.add(
            f"{bk_key}.retentionDays", bk_ret, f"outside the vault lock range [{vmin}, {vmax}]"
        )

    cp_raw = raw.get(_key("compute")) or {}
    cp_key = _key("compute")
    compute = ComputeSettings(enabled=False)
    if not isinstance(cp_raw, Mapping):
        errs.add(cp_key, cp_raw, "expected a mapping")
    elif _bool(errs, f"{cp_key}.enabled", cp_raw.get("enabled"), False):
        ami = cp_raw.get("ami")
        if not isinstance(ami, str) or not _AMI_RE.match(ami):
            errs.add(f"{cp_key}.ami", ami, "required when compute is enabled, an AMI id (ami-...)")
        itype = cp_raw.get("instanceType", "m6i.xlarge")
        if not isinstance(itype, str) or "." not in itype:
            errs.add(
                f"{cp_key}.instanceType", itype, "expected an instance type such as m6i.xlarge"
            )
        root_gb = _int(errs, f"{cp_key}.rootVolumeGb", cp_raw.get("rootVolumeGb", 50), minimum=8)
        data_gb = _int(errs, f"{cp_key}.dataVolumeGb", cp_raw.get("dataVolumeGb", 500), minimum=1)
        compute = ComputeSettings(
            enabled=True,
            ami=str(ami),
            instance_type=str(itype),
            root_volume_gb=root_gb or 0,
            data_volume_gb=data_gb or 0,
        )

    dr_region = raw.get(_key("drRegion"))
    if dr_region is not None and (
        not isinstance(dr_region, str) or not _REGION_RE.match(dr_region) or dr_region == region
    ):
        errs.add(_key("drRegion"), dr_region, "expected an AWS region other than aws:region")
        dr_region = None
    if environment == PROD_ENVIRONMENT and raw.get(_key("drRegion")) is None:
        errs.add(_key("drRegion"), None, "production requires a DR region (replica, backup copy)")

    if environment == PROD_ENVIRONMENT:
        _prod_minimums(
            errs,
            {
                "logRetentionDays": log_days,
                "objectLock.retentionDays": lock_days,
                "backup.retentionDays": bk_ret,
                "backup.vaultMinRetentionDays": vmin,
                "backup.vaultMaxRetentionDays": vmax,
                "kmsDeletionWindowDays": kms_window,
            },
        )
        if lock_raw and mode != PROD_OBJECT_LOCK_MODE:
            errs.add(f"{_key('objectLock')}.mode", mode, "production requires COMPLIANCE")
        if changeable is None:
            errs.add(
                f"{bk_key}.vaultChangeableForDays",
                changeable,
                "production requires a compliance-mode vault lock (set the grace days)",
            )

    if errs.errors:
        raise ConfigValidationError(errs.errors)

    assert vpc is not None and cgw_asn is not None and lock_days is not None
    assert ia is not None and gir is not None and deep is not None
    assert bk_ret is not None and vmin is not None and vmax is not None
    assert log_days is not None and kms_window is not None
    return StackConfig(
        region=region,
        environment=environment,
        vpc_cidr=str(vpc),
        availability_zones=azs,
        subnets=subnets,
        on_prem_cidrs=tuple(on_prem),
        ingress_internet_gateway=igw,
        customer_gateway=CustomerGatewaySettings(ip_address=str(cgw_ip), bgp_asn=cgw_asn),
        object_lock=ObjectLockSettings(mode=str(mode), retention_days=lock_days),
        lifecycle=LifecycleSettings(ia, gir, deep),
        log_retention_days=int(log_days),
        backup=BackupSettings(
            retention_days=bk_ret,
            schedule=str(schedule),
            vault_min_retention_days=vmin,
            vault_max_retention_days=vmax,
            vault_changeable_for_days=changeable,
        ),
        compute=compute,
        kms_deletion_window_days=kms_window,
        dr_region=dr_region,
        tags={"Project": "radshield", "Environment": environment, "ManagedBy": "pulumi"},
    )


ACCOUNT_KEYS = ("logRetentionDays", "alarmEmail")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")


@dataclass(frozen=True)
class AccountConfig:
    region: str
    log_retention_days: int
    alarm_email: str | None


def validate_account_config(raw: Mapping[str, Any]) -> AccountConfig:
    """Config of the account baseline stack (``infra/account``); the same error style.

    The management trail's log group keeps the production minimum (six years) in every account.
    """
    errs = _Collector()
    for full_key, value in raw.items():
        if full_key.startswith(f"{NS}:") and full_key[len(NS) + 1 :] not in ACCOUNT_KEYS:
            near = _nearest(full_key[len(NS) + 1 :], ACCOUNT_KEYS, f"{NS}:")
            errs.add(full_key, value, f"unknown key; {near}")
    region = raw.get("aws:region")
    if not isinstance(region, str) or not _REGION_RE.match(region):
        errs.add("aws:region", region, "required, an AWS region such as eu-west-1")
    days = raw.get(_key("logRetentionDays"), PROD_MINIMUMS["logRetentionDays"])
    if days not in LOG_RETENTION_DAYS or isinstance(days, bool):
        errs.add(_key("logRetentionDays"), days, f"must be one of {list(LOG_RETENTION_DAYS)}")
    elif days < PROD_MINIMUMS["logRetentionDays"]:
        errs.add(_key("logRetentionDays"), days, "minimum is 2192 (six years)")
    email = raw.get(_key("alarmEmail"))
    if email is not None and (not isinstance(email, str) or not _EMAIL_RE.match(email)):
        errs.add(_key("alarmEmail"), email, "expected an e-mail address")
    if errs.errors:
        raise ConfigValidationError(errs.errors)
    return AccountConfig(str(region), int(days), email)
