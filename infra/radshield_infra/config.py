"""Stack configuration: a pure validator from the raw ``config:`` mapping to typed settings.

``validate_config`` takes the same mapping as the ``config:`` block of ``Pulumi.<stack>.yaml``
(full keys such as ``radshield:vpcCidr`` and ``aws:region``) and either returns a
:class:`StackConfig` or raises :class:`ConfigValidationError` listing every problem found, each
naming the config key and the bad value. It imports nothing from Pulumi so it is unit-testable.
"""

from __future__ import annotations

import ipaddress
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
)
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


def validate_config(raw: Mapping[str, Any]) -> StackConfig:
    """Validate the raw stack configuration (full ``namespace:key`` keys) and return it typed.

    Raises :class:`ConfigValidationError` naming each offending key and value.
    """
    errs = _Collector()

    for full_key in raw:
        if full_key.startswith(f"{NS}:") and full_key[len(NS) + 1 :] not in KNOWN_KEYS:
            errs.add(full_key, raw[full_key], f"unknown key; expected one of {list(KNOWN_KEYS)}")

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
    lock_days = _int(
        errs,
        f"{_key('objectLock')}.retentionDays",
        lock_raw.get("retentionDays"),
        minimum=1,
        maximum=36500,
    )

    lc_raw = _mapping(errs, _key("lifecycle"), raw.get(_key("lifecycle")))
    lc_key = _key("lifecycle")
    ia = _int(errs, f"{lc_key}.standardIaDays", lc_raw.get("standardIaDays", 30), minimum=30)
    gir = _int(errs, f"{lc_key}.glacierIrDays", lc_raw.get("glacierIrDays", 90), minimum=1)
    deep = _int(errs, f"{lc_key}.deepArchiveDays", lc_raw.get("deepArchiveDays", 365), minimum=1)
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

    bk_raw = _mapping(errs, _key("backup"), raw.get(_key("backup")))
    bk_key = _key("backup")
    bk_ret = _int(errs, f"{bk_key}.retentionDays", bk_raw.get("retentionDays"), minimum=1)
    vmin = _int(
        errs, f"{bk_key}.vaultMinRetentionDays", bk_raw.get("vaultMinRetentionDays", 7), minimum=1
    )
    vmax = _int(
        errs,
        f"{bk_key}.vaultMaxRetentionDays",
        bk_raw.get("vaultMaxRetentionDays", 3650),
        minimum=1,
    )
    changeable = bk_raw.get("vaultChangeableForDays")
    if changeable is not None:
        changeable = _int(errs, f"{bk_key}.vaultChangeableForDays", changeable, minimum=3)
    schedule = bk_raw.get("schedule", "cron(0 5 * * ? *)")
    if not isinstance(schedule, str) or not re.match(r"^(cron|rate)\(.+\)$", schedule):
        errs.add(f"{bk_key}.schedule", schedule, "expected cron(...) or rate(...)")
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

    if errs.errors:
        raise ConfigValidationError(errs.errors)

    assert vpc is not None and cgw_asn is not None and lock_days is not None
    assert ia is not None and gir is not None and deep is not None
    assert bk_ret is not None and vmin is not None and vmax is not None
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
        tags={"Project": "radshield", "Environment": environment, "ManagedBy": "pulumi"},
    )
