"""Validators of the radshield policy pack: plain ``(args, report_violation)`` functions.

Each validator reads only ``args.resource_type``, ``args.urn`` and ``args.props`` (resource
policies) or ``args.resources`` (stack policies). Property names are the engine's camelCase
names. Type tokens of pulumi-aws v6 and v7 are both matched where they differ (v6
``BucketV2``/``...V2`` resources, v7 ``Bucket``/unsuffixed).

**Fail closed.** During a preview the engine hands policies proxies that raise
``UnknownValueError`` on any value not yet known (an ARN, a bucket id); a validator that lets
it escape is turned into an ADVISORY "can't run policy" note and the resource passes. Every
read here goes through :func:`get`, which returns :data:`UNKNOWN` instead, and each check:

- refuses a value that is known and wrong (even while other values of the resource are not);
- skips a value that is unknown during a preview (``PULUMI_DRY_RUN=true``): the same policy
  runs again at ``pulumi up``, with inputs resolved, before the resource is created;
- refuses a value that is still unknown outside a preview (update, or an engine that does
  not say which), so nothing unknown slips through at ``up``.

Sub-resources are linked to their parent (SSE to bucket, route to route table, flow log to
VPC, lock to vault) by the engine's property dependencies first (known during preview), then
by id or name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

try:  # the engine's unknown-value error; absent only where pulumi_policy is not installed
    from pulumi_policy.proxy import UnknownValueError
except ImportError:  # pragma: no cover

    class UnknownValueError(Exception):  # type: ignore[no-redef]
        pass


ReportViolation = Callable[..., None]

# The engine's sentinels for unknown values (pulumi_policy.proxy), seen raw in unproxied input.
_UNKNOWN_SENTINELS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
        "030794c1-ac77-496b-92df-f27374a8bd58",
        "e48ece36-62e2-4504-bad9-02848725956a",
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
    }
)


class _Unknown:
    def __repr__(self) -> str:
        return "<unknown>"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Unknown()

OPEN_CIDRS = {"0.0.0.0/0", "::/0"}
PUBLIC_ACLS = {"public-read", "public-read-write", "authenticated-read"}
PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
IMAGING_TAG = ("DataClass", "imaging")
PRIVATE_TIERS = {"app", "data"}
PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
PROD_STACKS = ("prod",)
PROD_OBJECT_LOCK_DAYS = 2555  # seven years, the floor of radshield_infra.config.PROD_MINIMUMS
PROD_KMS_DELETION_WINDOW = 30
VPN_ENCRYPTION = {"AES256", "AES256-GCM-16"}
VPN_INTEGRITY = {"SHA2-256", "SHA2-384", "SHA2-512"}
VPN_DH_GROUPS = {19, 20, 21}  # ECP groups only: no MODP 1024/1536/2048 (2, 5, 14, ...)


def _tokens(module: str, v7: str, v6: str | None = None) -> frozenset[str]:
    """Type tokens of one resource in pulumi-aws v7 and (if renamed) v6."""
    names = {v7} | ({v6} if v6 else set())
    return frozenset(f"aws:{module}/{n[0].lower()}{n[1:]}:{n}" for n in names)


BUCKET = _tokens("s3", "Bucket", "BucketV2")  # v6 legacy Bucket shares v7's token
SSE_CONFIG = _tokens(
    "s3",
    "BucketServerSideEncryptionConfiguration",
    "BucketServerSideEncryptionConfigurationV2",
)
VERSIONING = _tokens("s3", "BucketVersioning", "BucketVersioningV2")
OBJECT_LOCK = _tokens("s3", "BucketObjectLockConfiguration", "BucketObjectLockConfigurationV2")
BUCKET_ACL = _tokens("s3", "BucketAcl", "BucketAclV2")
BUCKET_POLICY = _tokens("s3", "BucketPolicy")
PUBLIC_ACCESS_BLOCK = frozenset(
    {
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock",
        "aws:s3control/accountPublicAccessBlock:AccountPublicAccessBlock",
    }
)
EBS_VOLUME = frozenset({"aws:ebs/volume:Volume"})
INSTANCE = frozenset({"aws:ec2/instance:Instance"})
LAUNCH_TEMPLATE = frozenset({"aws:ec2/launchTemplate:LaunchTemplate"})
SECURITY_GROUP = frozenset(
    {"aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"}
)
SECURITY_GROUP_RULE = frozenset({"aws:ec2/securityGroupRule:SecurityGroupRule"})
SECURITY_GROUP_INGRESS_RULE = frozenset(
    {"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"}
)
SECURITY_GROUP_EGRESS_RULE = frozenset({"aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"})
SUBNET = frozenset({"aws:ec2/subnet:Subnet"})
KMS_KEY = frozenset({"aws:kms/key:Key"})
TRAIL = frozenset({"aws:cloudtrail/trail:Trail"})
VPC = frozenset({"aws:ec2/vpc:Vpc"})
FLOW_LOG = frozenset({"aws:ec2/flowLog:FlowLog"})
ROUTE = frozenset({"aws:ec2/route:Route"})
ROUTE_TABLE = frozenset({"aws:ec2/routeTable:RouteTable"})
NACL_RULE = frozenset({"aws:ec2/networkAclRule:NetworkAclRule"})
NACL = frozenset({"aws:ec2/networkAcl:NetworkAcl"})
LOG_GROUP = frozenset({"aws:cloudwatch/logGroup:LogGroup"})
BACKUP_VAULT = frozenset({"aws:backup/vault:Vault"})
VAULT_LOCK = frozenset({"aws:backup/vaultLockConfiguration:VaultLockConfiguration"})
GUARDDUTY = frozenset({"aws:guardduty/detector:Detector"})
GUARDDUTY_FEATURE = frozenset({"aws:guardduty/detectorFeature:DetectorFeature"})
VPN_CONNECTION = frozenset({"aws:ec2/vpnConnection:VpnConnection"})


# --------------------------------------------------------------------------------- helpers
def _is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value in _UNKNOWN_SENTINELS)


def get(obj: Any, *path: Any, default: Any = None) -> Any:
    """``obj[path[0]][path[1]]...``; :data:`UNKNOWN` where a value is unknown, else ``default``.

    Works on the engine's unknown-checking proxies (which raise on access) and on plain data.
    """
    for key in path:
        if _is_unknown(obj):
            return UNKNOWN
        try:
            if isinstance(obj, Mapping):
                if key not in obj:
                    return default
                obj = obj[key]
            elif isinstance(obj, Sequence) and not isinstance(obj, str) and isinstance(key, int):
                obj = obj[key]
            else:
                return default
        except UnknownValueError:
            return UNKNOWN
        except (IndexError, KeyError):
            return default
    if _is_unknown(obj):
        return UNKNOWN
    return default if obj is None else obj


def items(obj: Any, *path: Any) -> list[Any]:
    """The elements of a list value (a single mapping counts as one); [UNKNOWN] if unknown."""
    value = get(obj, *path)
    if _is_unknown(value):
        return [UNKNOWN]
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, str):
        return [value]
    out = []
    for i in range(len(value)):
        out.append(get(value, i))
    return out


def in_preview() -> bool:
    """Only an engine that says it is previewing lets an unknown value pass (for now)."""
    return os.environ.get("PULUMI_DRY_RUN", "").lower() == "true"


class Checker:
    """Reports one violation per failed requirement; unknown values per :func:`in_preview`."""

    def __init__(self, label: str, report: ReportViolation, urn: str | None = None) -> None:
        self.label = label
        self.report = report
        self.urn = urn

    def fail(self, message: str) -> None:
        if self.urn:
            self.report(f"{self.label}: {message}", self.urn)
        else:
            self.report(f"{self.label}: {message}")

    def require(self, value: Any, ok: Callable[[Any], bool], message: str) -> None:
        """Refuse ``value`` unless ``ok(value)``; an unknown value per :func:`in_preview`."""
        if _is_unknown(value):
            if not in_preview():
                self.fail(f"{message} (value unknown outside a preview: refused)")
            return
        try:
            good = ok(value)
        except (TypeError, ValueError):
            good = False
        if not good:
            self.fail(f"{message} (got {value!r})")


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _falsy(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.lower() == "false")


def _tags(props: Any) -> Mapping[str, Any]:
    tags = get(props, "tags")
    return tags if isinstance(tags, Mapping) else {}


def _is_imaging(props: Any) -> bool:
    return get(props, "tags", IMAGING_TAG[0]) == IMAGING_TAG[1]


def _label(args: Any) -> str:
    return getattr(args, "name", None) or getattr(args, "urn", "") or args.resource_type


def _stack_of(urn: str | None) -> str:
    """``urn:pulumi:<stack>::<project>::<type>::<name>`` -> stack (PULUMI_STACK otherwise)."""
    if urn and urn.startswith("urn:pulumi:"):
        return urn.split(":")[2]
    return os.environ.get("PULUMI_STACK", "")


def is_prod(urn: str | None) -> bool:
    return _stack_of(urn) in PROD_STACKS


def _check(args: Any, report: ReportViolation, *, stack: bool = False) -> Checker:
    return Checker(_label(args), report, args.urn if stack else None)


# ------------------------------------------------------------------- resource validators
def s3_sse_algorithm(args: Any, report_violation: ReportViolation) -> None:
    """164.312(a)(2)(iv): an SSE configuration must encrypt with AES256 or KMS."""
    if args.resource_type not in SSE_CONFIG:
        return
    check = _check(args, report_violation)
    rules = items(args.props, "rules")
    if not rules:
        check.fail("SSE configuration has no rules")
    for rule in rules:
        algorithm = get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")
        check.require(
            algorithm, lambda a: a in ("AES256", "aws:kms", "aws:kms:dsse"), "sseAlgorithm"
        )


def ebs_encrypted(args: Any, report_violation: ReportViolation) -> None:
    """164.312(a)(2)(iv): EBS volumes and instance block devices must be encrypted."""
    props, check = args.props, _check(args, report_violation)
    if args.resource_type in EBS_VOLUME:
        check.require(get(props, "encrypted"), _truthy, "EBS volume must be encrypted")
    elif args.resource_type in INSTANCE:
        check.require(
            get(props, "rootBlockDevice", "encrypted"), _truthy, "root block device encrypted"
        )
        for device in items(props, "ebsBlockDevices"):
            check.require(get(device, "encrypted"), _truthy, "EBS block device encrypted")
    elif args.resource_type in LAUNCH_TEMPLATE:
        for mapping in items(props, "blockDeviceMappings"):
            ebs = get(mapping, "ebs")
            if ebs is not None:
                check.require(get(ebs, "encrypted"), _truthy, "launch template device encrypted")


def s3_no_public_access(args: Any, report_violation: ReportViolation) -> None:
    """164.312(a)(1): no public access block flag may be false; no public ACLs."""
    props, check = args.props, _check(args, report_violation)
    if args.resource_type in PUBLIC_ACCESS_BLOCK:
        for flag in PAB_FLAGS:
            check.require(get(props, flag), lambda v: v is True, f"{flag} must be true")
    elif args.resource_type in BUCKET or args.resource_type in BUCKET_ACL:
        check.require(get(props, "acl"), lambda a: a not in PUBLIC_ACLS, "canned ACL not public")
        grants = items(props, "grants") + items(props, "accessControlPolicy", "grants")
        for grant in grants:
            uri = get(grant, "grantee", "uri")
            if uri is None:
                uri = get(grant, "uri")
            check.require(uri, lambda u: u not in PUBLIC_GRANTEES, "no ACL grant to the public")


def _open(cidrs: Iterable[Any]) -> list[Any]:
    return [c for c in cidrs if _is_unknown(c) or c in OPEN_CIDRS]


def _sg_rules(args: Any, direction: str) -> list[Any]:
    props = args.props
    if args.resource_type in SECURITY_GROUP:
        return items(props, direction)
    if args.resource_type in SECURITY_GROUP_RULE:
        rule_type = get(props, "type")
        return [props] if rule_type == direction or _is_unknown(rule_type) else []
    single = SECURITY_GROUP_INGRESS_RULE if direction == "ingress" else SECURITY_GROUP_EGRESS_RULE
    if args.resource_type in single:
        return [
            {"cidrBlocks": [get(props, "cidrIpv4")], "ipv6CidrBlocks": [get(props, "cidrIpv6")]}
        ]
    return []


def _no_open(args: Any, report_violation: ReportViolation, direction: str) -> None:
    check = _check(args, report_violation)
    for rule in _sg_rules(args, direction):
        if _is_unknown(rule):
            check.require(UNKNOWN, bool, f"{direction} rule")
            continue
        cidrs = items(rule, "cidrBlocks") + items(rule, "ipv6CidrBlocks")
        for cidr in _open(cidrs):
            check.require(cidr, lambda c: c not in OPEN_CIDRS, f"{direction} to/from anywhere")


def no_open_ingress(args: Any, report_violation: ReportViolation) -> None:
    """164.312(e)(1): no security group admits traffic from 0.0.0.0/0 or ::/0."""
    _no_open(args, report_violation, "ingress")


def no_open_egress(args: Any, report_violation: ReportViolation) -> None:
    """164.312(e)(1): no security group sends to 0.0.0.0/0 or ::/0 (exfiltration path)."""
    _no_open(args, report_violation, "egress")


def nacl_no_open_inbound(args: Any, report_violation: ReportViolation) -> None:
    """164.312(e)(1): a NACL admits the internet only on HTTPS or TCP return ports.

    An inbound allow rule from 0.0.0.0/0 (or ::/0) must be TCP (6) to port 443 or within the
    ephemeral range 1024-65535; "all protocols from anywhere" is refused.
    """
    if args.resource_type not in NACL_RULE:
        return
    props, check = args.props, _check(args, report_violation)
    egress, action = get(props, "egress", default=False), get(props, "ruleAction")
    if _truthy(egress) or action == "deny":
        return
    cidr = get(props, "cidrBlock")
    if cidr is None:
        cidr = get(props, "ipv6CidrBlock")
    protocol = get(props, "protocol")
    low, high = get(props, "fromPort", default=0), get(props, "toPort", default=0)
    message = "inbound from anywhere must be TCP 443 or 1024-65535 only"
    if any(_is_unknown(v) for v in (protocol, low, high)):
        if _is_unknown(cidr) or cidr in OPEN_CIDRS:
            check.require(UNKNOWN, bool, message)
        return
    narrow = str(protocol) in ("6", "tcp") and (
        low == high == 443 or 1024 <= int(low) <= int(high) <= 65535
    )
    if not narrow:
        check.require(cidr, lambda c: c not in OPEN_CIDRS, message)


def imdsv2_required(args: Any, report_violation: ReportViolation) -> None:
    """164.312(a)(1): instances and launch templates must require IMDSv2 session tokens."""
    if args.resource_type not in INSTANCE and args.resource_type not in LAUNCH_TEMPLATE:
        return
    _check(args, report_violation).require(
        get(args.props, "metadataOptions", "httpTokens"),
        lambda t: t == "required",
        "metadataOptions.httpTokens must be 'required' (IMDSv1 otherwise)",
    )


def no_public_ip(args: Any, report_violation: ReportViolation) -> None:
    """164.312(e)(1): no public IP on instances, nor on subnets of the app/data tiers.

    A subnet counts as private unless it is tagged ``Tier=ingress`` (untagged is private).
    """
    props, check = args.props, _check(args, report_violation)
    if args.resource_type in INSTANCE:
        check.require(
            get(props, "associatePublicIpAddress"),
            lambda v: not _truthy(v),
            "associatePublicIpAddress must be false",
        )
    elif args.resource_type in LAUNCH_TEMPLATE:
        for nic in items(props, "networkInterfaces"):
            check.require(
                get(nic, "associatePublicIpAddress"),
                lambda v: not _truthy(v),
                "network interface without a public IP",
            )
    elif args.resource_type in SUBNET:
        tier = _tags(props).get("Tier")
        if tier != "ingress":
            check.require(
                get(props, "mapPublicIpOnLaunch"),
                lambda v: not _truthy(v),
                f"subnet of tier {tier!r} must not map public IPs",
            )


def kms_key(args: Any, report_violation: ReportViolation) -> None:
    """164.312(a)(2)(iv): symmetric keys rotate; production keys keep a 30-day deletion window."""
    if args.resource_type not in KMS_KEY:
        return
    check = _check(args, report_violation)
    spec = get(args.props, "customerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    if spec == "SYMMETRIC_DEFAULT" or _is_unknown(spec):
        check.require(
            get(args.props, "enableKeyRotation"), lambda v: v is True, "enableKeyRotation"
        )
    if is_prod(args.urn):
        check.require(
            get(args.props, "deletionWindowInDays", default=30),
            lambda d: d >= PROD_KMS_DELETION_WINDOW,
            f"deletionWindowInDays must be {PROD_KMS_DELETION_WINDOW} in production",
        )


def cloudtrail(args: Any, report_violation: ReportViolation) -> None:
    """164.312(b), 164.312(c)(1): trails log, in every region, signed, KMS-encrypted."""
    if args.resource_type not in TRAIL:
        return
    props, check = args.props, _check(args, report_violation)
    check.require(
        get(props, "enableLogFileValidation"), lambda v: v is True, "enableLogFileValidation"
    )
    # enableLogging defaults to true in the provider; only an explicit false stops the trail.
    check.require(
        get(props, "enableLogging", default=True), lambda v: not _falsy(v), "enableLogging"
    )
    check.require(get(props, "isMultiRegionTrail"), lambda v: v is True, "isMultiRegionTrail")
    check.require(get(props, "kmsKeyId"), bool, "kmsKeyId (SSE-KMS of the log files)")


def object_lock(args: Any, report_violation: ReportViolation) -> None:
    """164.312(c)(1): Object Lock has a default retention; COMPLIANCE, 7 years in production."""
    if args.resource_type not in OBJECT_LOCK:
        return
    props, check = args.props, _check(args, report_violation)
    check.require(
        get(props, "objectLockEnabled", default="Enabled"),
        lambda v: v == "Enabled",
        "objectLockEnabled",
    )
    retention = get(props, "rule", "defaultRetention")
    check.require(retention, bool, "a default retention rule")
    if not retention or _is_unknown(retention):
        return
    days, years = get(retention, "days"), get(retention, "years")
    if is_prod(args.urn):
        check.require(get(retention, "mode"), lambda m: m == "COMPLIANCE", "mode in production")
        total = days if years is None else (UNKNOWN if _is_unknown(years) else years * 365)
        check.require(
            total,
            lambda d: d >= PROD_OBJECT_LOCK_DAYS,
            f"retention of at least {PROD_OBJECT_LOCK_DAYS} days in production",
        )
    else:
        check.require(
            get(retention, "mode"), lambda m: m in ("GOVERNANCE", "COMPLIANCE"), "lock mode"
        )


def vault_lock(args: Any, report_violation: ReportViolation) -> None:
    """164.312(c)(1): a vault lock keeps recovery points; production locks are compliance mode."""
    if args.resource_type not in VAULT_LOCK:
        return
    props, check = args.props, _check(args, report_violation)
    check.require(get(props, "minRetentionDays"), lambda d: d >= 7, "minRetentionDays >= 7")
    if is_prod(args.urn):
        check.require(
            get(props, "changeableForDays"),
            lambda d: d is not None and d >= 3,
            "changeableForDays (compliance-mode lock) in production",
        )
        check.require(
            get(props, "maxRetentionDays"), lambda d: d >= 3650, "maxRetentionDays >= 3650"
        )


def guardduty(args: Any, report_violation: ReportViolation) -> None:
    """164.308(a)(1)(ii)(D) / 164.312(b): GuardDuty detectors and their features stay on."""
    check = _check(args, report_violation)
    if args.resource_type in GUARDDUTY:
        check.require(get(args.props, "enable", default=True), lambda v: not _falsy(v), "enable")
    elif args.resource_type in GUARDDUTY_FEATURE:
        check.require(get(args.props, "status"), lambda s: s == "ENABLED", "feature status")


def log_group_kms(args: Any, report_violation: ReportViolation) -> None:
    """164.312(a)(2)(iv), (b): log groups are KMS-encrypted and keep their logs."""
    if args.resource_type not in LOG_GROUP:
        return
    check = _check(args, report_violation)
    check.require(get(args.props, "kmsKeyId"), bool, "kmsKeyId")
    check.require(
        get(args.props, "retentionInDays", default=0),
        lambda d: d == 0 or d >= 90,
        "retentionInDays (never expire, or at least 90)",
    )
    if is_prod(args.urn):
        check.require(
            get(args.props, "retentionInDays", default=0),
            lambda d: d == 0 or d >= 2192,
            "retentionInDays of at least 2192 (six years) in production",
        )


def vpn_strong_crypto(args: Any, report_violation: ReportViolation) -> None:
    """164.312(e)(1): VPN tunnels negotiate IKEv2, AES-256, SHA-2 and ECP DH groups only.

    An absent list means AWS's defaults, which include AES128, SHA1 and DH group 2: refused.
    """
    if args.resource_type not in VPN_CONNECTION:
        return
    props, check = args.props, _check(args, report_violation)
    allowed = {
        "IkeVersions": {"ikev2"},
        "Phase1EncryptionAlgorithms": VPN_ENCRYPTION,
        "Phase2EncryptionAlgorithms": VPN_ENCRYPTION,
        "Phase1IntegrityAlgorithms": VPN_INTEGRITY,
        "Phase2IntegrityAlgorithms": VPN_INTEGRITY,
        "Phase1DhGroupNumbers": VPN_DH_GROUPS,
        "Phase2DhGroupNumbers": VPN_DH_GROUPS,
    }
    for n in (1, 2):
        for suffix, good in allowed.items():
            key = f"tunnel{n}{suffix}"
            values = get(props, key)
            if _is_unknown(values):
                check.require(UNKNOWN, bool, key)
                continue
            listed = items(props, key)
            check.require(listed, bool, f"{key} must be set (AWS defaults include weak ones)")
            for value in listed:
                check.require(value, lambda v, g=good: v in g, f"{key} only {sorted(good)}")


# ---------------------------------------------------------------------- stack validators
def _deps(resource: Any, prop: str) -> list[Any]:
    deps = getattr(resource, "property_dependencies", None) or {}
    try:
        return list(deps.get(prop) or [])
    except UnknownValueError:  # pragma: no cover - dependencies are never unknown
        return []


def _refers_to(resource: Any, prop: str, target: Any, keys: Sequence[str] = ("id",)) -> Any:
    """True/False whether ``resource.props[prop]`` names ``target``; UNKNOWN if undecidable."""
    if any(getattr(d, "urn", None) == target.urn for d in _deps(resource, prop)):
        return True
    value = get(resource.props, prop)
    if _is_unknown(value):
        return UNKNOWN
    if value is None:
        return False
    names = [get(target.props, k) for k in keys]
    return value in [n for n in names if n is not None and not _is_unknown(n)]


def _linked(resources: Sequence[Any], types: frozenset[str], prop: str, target: Any, keys=("id",)):
    """(linked resources, whether some resource of ``types`` could not be decided)."""
    linked, undecided = [], False
    for other in resources:
        if other.resource_type not in types:
            continue
        refers = _refers_to(other, prop, target, keys)
        if refers is True:
            linked.append(other)
        elif _is_unknown(refers):
            undecided = True
    return linked, undecided


_BUCKET_KEYS = ("bucket", "id")


@dataclass
class _BucketFacts:
    resource: Any
    sse: list[tuple[Any, Any]]  # (algorithm, kms key) per rule
    versioned: Any
    object_lock: Any
    undecided: bool  # a sub-resource's bucket could not be resolved (preview)


def _bucket_facts(resources: Sequence[Any]) -> list[_BucketFacts]:
    facts = []
    for bucket in (r for r in resources if r.resource_type in BUCKET):
        props = bucket.props
        sse_res, u1 = _linked(resources, SSE_CONFIG, "bucket", bucket, _BUCKET_KEYS)
        ver_res, u2 = _linked(resources, VERSIONING, "bucket", bucket, _BUCKET_KEYS)
        lock_res, u3 = _linked(resources, OBJECT_LOCK, "bucket", bucket, _BUCKET_KEYS)
        sse = []
        for other in sse_res:
            for rule in items(other.props, "rules"):
                default = get(rule, "applyServerSideEncryptionByDefault")
                sse.append((get(default, "sseAlgorithm"), get(default, "kmsMasterKeyId")))
        # A separate SSE resource is authoritative: the bucket's own (deprecated, computed)
        # inline block shows AWS's AES256 default as read when the bucket was created.
        if not sse:
            inline = get(props, "serverSideEncryptionConfiguration", "rule")
            inline_default = get(inline, "applyServerSideEncryptionByDefault")
            algorithm = get(inline_default, "sseAlgorithm")
            if algorithm is not None:
                sse.append((algorithm, get(inline_default, "kmsMasterKeyId")))
        versioned = get(props, "versioning", "enabled") is True or any(
            get(v.props, "versioningConfiguration", "status") == "Enabled" for v in ver_res
        )
        locked = (
            _truthy(get(props, "objectLockEnabled"))
            or get(props, "objectLockConfiguration", "objectLockEnabled") == "Enabled"
            or any(
                get(x.props, "objectLockEnabled", default="Enabled") == "Enabled" for x in lock_res
            )
        )
        facts.append(_BucketFacts(bucket, sse, versioned, locked, u1 or u2 or u3))
    return facts


def _absent(check: Checker, undecided: bool, message: str) -> None:
    """A required companion resource is missing: refuse, unless it may be one not yet linked."""
    check.require(UNKNOWN if undecided else False, bool, message)


def s3_bucket_encrypted(args: Any, report_violation: ReportViolation) -> None:
    """164.312(a)(2)(iv): every bucket has SSE; imaging buckets use SSE-KMS with a CMK."""
    for fact in _bucket_facts(args.resources):
        check = _check(fact.resource, report_violation, stack=True)
        if not fact.sse:
            _absent(check, fact.undecided, "bucket has an SSE configuration")
            continue
        if _is_imaging(fact.resource.props):
            for algorithm, key in fact.sse:
                check.require(
                    algorithm, lambda a: a in ("aws:kms", "aws:kms:dsse"), "imaging SSE-KMS"
                )
                check.require(key, bool, "imaging bucket SSE with a customer-managed key")


def imaging_bucket_integrity(args: Any, report_violation: ReportViolation) -> None:
    """164.312(c)(1): buckets tagged DataClass=imaging need versioning and Object Lock."""
    for fact in _bucket_facts(args.resources):
        if not _is_imaging(fact.resource.props):
            continue
        check = _check(fact.resource, report_violation, stack=True)
        if not fact.versioned:
            _absent(check, fact.undecided, "imaging bucket is versioned")
        if not fact.object_lock:
            _absent(check, fact.undecided, "imaging bucket has Object Lock")


def _policy_denies_plain_http(document: Any, bucket: Any) -> Any:
    if _is_unknown(document):
        return UNKNOWN
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return False
    for statement in items(document, "Statement"):
        actions = items(statement, "Action")
        secure = get(statement, "Condition", "Bool", "aws:SecureTransport")
        if (
            get(statement, "Effect") == "Deny"
            and get(statement, "Principal") in ("*", {"AWS": "*"})
            and ("s3:*" in actions or "*" in actions)
            and str(secure).lower() == "false"
        ):
            return True
    return False


def s3_tls_only(args: Any, report_violation: ReportViolation) -> None:
    """164.312(e)(1): every bucket has a policy denying s3:* without TLS."""
    for bucket in (r for r in args.resources if r.resource_type in BUCKET):
        check = _check(bucket, report_violation, stack=True)
        policies, undecided = _linked(args.resources, BUCKET_POLICY, "bucket", bucket, _BUCKET_KEYS)
        verdicts = [_policy_denies_plain_http(get(p.props, "policy"), bucket) for p in policies]
        inline = get(bucket.props, "policy")
        if inline is not None:
            verdicts.append(_policy_denies_plain_http(inline, bucket))
        if True in verdicts:
            continue
        if any(_is_unknown(v) for v in verdicts) or (undecided and not verdicts):
            check.require(UNKNOWN, bool, "TLS-only bucket policy")
        else:
            check.fail("no bucket policy denies s3:* when aws:SecureTransport is false")


def vpc_flow_logs(args: Any, report_violation: ReportViolation) -> None:
    """164.312(b): every VPC has a flow log of ALL traffic."""
    for vpc in (r for r in args.resources if r.resource_type in VPC):
        check = _check(vpc, report_violation, stack=True)
        logs, undecided = _linked(args.resources, FLOW_LOG, "vpcId", vpc)
        traffic = [get(f.props, "trafficType") for f in logs]
        if "ALL" in traffic:
            continue
        if any(_is_unknown(t) for t in traffic) or (undecided and not logs):
            check.require(UNKNOWN, bool, "a flow log of ALL traffic")
        else:
            check.fail(f"no flow log of ALL traffic (got {traffic})")


def _internet_target(route: Any) -> Any:
    """Whether a route's target reaches the internet (IGW, NAT, egress-only IGW)."""
    gateway = get(route, "gatewayId")
    if _is_unknown(gateway):
        return UNKNOWN
    if isinstance(gateway, str) and gateway.startswith("igw-"):
        return True
    for key in ("natGatewayId", "egressOnlyGatewayId"):
        value = get(route, key)
        if _is_unknown(value):
            return UNKNOWN
        if value:
            return True
    return False


def no_internet_route_private_tiers(args: Any, report_violation: ReportViolation) -> None:
    """164.312(e)(1): no default route to an internet/NAT gateway from a non-ingress tier.

    A route table counts as private unless tagged ``Tier=ingress``. A route to 0.0.0.0/0 or
    ::/0 whose gateway is an internet gateway resource (by dependency), ``igw-...``, a NAT or
    egress-only gateway, on a private table, is refused.
    """
    resources = args.resources
    igws = {r.urn for r in resources if r.resource_type.endswith(":InternetGateway")}
    nats = {r.urn for r in resources if r.resource_type.endswith(":NatGateway")}
    for table in (r for r in resources if r.resource_type in ROUTE_TABLE):
        if _tags(table.props).get("Tier") == "ingress":
            continue
        check = _check(table, report_violation, stack=True)
        routes = [dict(route=x, inline=True) for x in items(table.props, "routes")]
        linked, undecided = _linked(resources, ROUTE, "routeTableId", table)
        routes += [dict(route=x, inline=False) for x in linked]
        for entry in routes:
            route = entry["route"]
            props = route if entry["inline"] else route.props
            destination = get(props, "destinationCidrBlock")
            if destination is None:
                destination = get(props, "cidrBlock")
            if destination is None:
                destination = get(props, "destinationIpv6CidrBlock")
            if not _is_unknown(destination) and destination not in OPEN_CIDRS:
                continue
            via = set()
            if not entry["inline"]:
                for prop in ("gatewayId", "natGatewayId", "egressOnlyGatewayId"):
                    via |= {getattr(d, "urn", None) for d in _deps(route, prop)}
            if via & (igws | nats):
                check.fail(
                    f"default route to an internet gateway on tier {_tags(table.props).get('Tier')!r}"
                )
                continue
            check.require(
                _internet_target(props),
                lambda v: v is False,
                "no route to the internet from a private tier",
            )
        if undecided:
            for route in resources:
                if route.resource_type in ROUTE and _is_unknown(
                    _refers_to(route, "routeTableId", table)
                ):
                    target = _internet_target(route.props)
                    if target is True:
                        check.require(UNKNOWN, bool, "route of an unresolved table to internet")


def backup_vault_locked(args: Any, report_violation: ReportViolation) -> None:
    """164.312(c)(1): every backup vault has a vault lock."""
    for vault in (r for r in args.resources if r.resource_type in BACKUP_VAULT):
        check = _check(vault, report_violation, stack=True)
        locks, undecided = _linked(
            args.resources, VAULT_LOCK, "backupVaultName", vault, ("name", "id")
        )
        if not locks:
            _absent(check, undecided, "backup vault has a vault lock")


def guardduty_present(args: Any, report_violation: ReportViolation) -> None:
    """164.308(a)(1)(ii)(D): the account baseline stack declares an enabled GuardDuty detector.

    Applies to stacks that declare account-wide settings (an account public access block or an
    EBS default-encryption setting): they are the account baseline, which owns GuardDuty.
    """
    resources = args.resources
    baseline = any(
        r.resource_type.endswith(":AccountPublicAccessBlock")
        or r.resource_type == "aws:ebs/encryptionByDefault:EncryptionByDefault"
        for r in resources
    )
    if baseline and not any(r.resource_type in GUARDDUTY for r in resources):
        report_violation("account baseline without a GuardDuty detector")


@dataclass(frozen=True)
class PolicySpec:
    name: str
    description: str
    validate: Callable[[Any, ReportViolation], None]
    stack: bool = False


POLICIES: tuple[PolicySpec, ...] = (
    PolicySpec(
        "s3-sse-algorithm",
        "HIPAA 164.312(a)(2)(iv) encryption: S3 SSE configurations use AES256 or aws:kms.",
        s3_sse_algorithm,
    ),
    PolicySpec(
        "s3-bucket-encrypted",
        "HIPAA 164.312(a)(2)(iv) encryption: every S3 bucket has an SSE configuration; "
        "imaging buckets (DataClass=imaging) use SSE-KMS with a customer-managed key.",
        s3_bucket_encrypted,
        stack=True,
    ),
    PolicySpec(
        "ebs-encrypted",
        "HIPAA 164.312(a)(2)(iv) encryption: EBS volumes, instance root and block devices "
        "and launch template devices are encrypted.",
        ebs_encrypted,
    ),
    PolicySpec(
        "imaging-bucket-integrity",
        "HIPAA 164.312(c)(1) integrity: buckets holding images (DataClass=imaging) have "
        "versioning and Object Lock.",
        imaging_bucket_integrity,
        stack=True,
    ),
    PolicySpec(
        "object-lock-retention",
        "HIPAA 164.312(c)(1) integrity: Object Lock has a default retention; production uses "
        "COMPLIANCE mode for at least 2555 days.",
        object_lock,
    ),
    PolicySpec(
        "s3-tls-only",
        "HIPAA 164.312(e)(1) transmission security: every bucket's policy denies s3:* when "
        "aws:SecureTransport is false.",
        s3_tls_only,
        stack=True,
    ),
    PolicySpec(
        "s3-no-public-access",
        "HIPAA 164.312(a)(1) access control: public access blocks have all four flags true; "
        "no bucket or ACL grants public access.",
        s3_no_public_access,
    ),
    PolicySpec(
        "no-open-ingress",
        "HIPAA 164.312(e)(1) transmission security: no security group admits 0.0.0.0/0 or ::/0.",
        no_open_ingress,
    ),
    PolicySpec(
        "no-open-egress",
        "HIPAA 164.312(e)(1) transmission security: no security group sends to 0.0.0.0/0 or ::/0.",
        no_open_egress,
    ),
    PolicySpec(
        "nacl-no-open-inbound",
        "HIPAA 164.312(e)(1) transmission security: network ACLs admit the internet only on "
        "TCP 443 or TCP return ports 1024-65535.",
        nacl_no_open_inbound,
    ),
    PolicySpec(
        "no-internet-route-private-tiers",
        "HIPAA 164.312(e)(1) transmission security: no route table but the ingress tier's "
        "has a default route to an internet or NAT gateway.",
        no_internet_route_private_tiers,
        stack=True,
    ),
    PolicySpec(
        "vpc-flow-logs",
        "HIPAA 164.312(b) audit controls: every VPC has a flow log of ALL traffic.",
        vpc_flow_logs,
        stack=True,
    ),
    PolicySpec(
        "imdsv2-required",
        "HIPAA 164.312(a)(1) access control: instances and launch templates require IMDSv2 "
        "(metadataOptions.httpTokens = required), so instance credentials cannot leak via SSRF.",
        imdsv2_required,
    ),
    PolicySpec(
        "no-public-ip",
        "HIPAA 164.312(e)(1) transmission security: no public IP on instances, launch "
        "templates, or subnets of the app and data tiers.",
        no_public_ip,
    ),
    PolicySpec(
        "kms-key",
        "HIPAA 164.312(a)(2)(iv) encryption: symmetric KMS keys rotate; production keys keep "
        "a 30-day deletion window.",
        kms_key,
    ),
    PolicySpec(
        "cloudtrail",
        "HIPAA 164.312(b) audit controls and 164.312(c)(1) integrity: CloudTrail trails log, "
        "in every region, with log file validation and KMS encryption.",
        cloudtrail,
    ),
    PolicySpec(
        "backup-vault-lock",
        "HIPAA 164.312(c)(1) integrity: vault locks keep recovery points at least 7 days; "
        "production locks are compliance mode with a maximum of at least 3650 days.",
        vault_lock,
    ),
    PolicySpec(
        "backup-vault-locked",
        "HIPAA 164.312(c)(1) integrity: every backup vault has a vault lock.",
        backup_vault_locked,
        stack=True,
    ),
    PolicySpec(
        "guardduty-enabled",
        "HIPAA 164.312(b) audit controls: GuardDuty detectors and their features are enabled.",
        guardduty,
    ),
    PolicySpec(
        "guardduty-in-baseline",
        "HIPAA 164.312(b) audit controls: the account baseline declares a GuardDuty detector.",
        guardduty_present,
        stack=True,
    ),
    PolicySpec(
        "log-group-kms",
        "HIPAA 164.312(a)(2)(iv) and (b): CloudWatch log groups are KMS-encrypted and keep "
        "logs at least 90 days (six years in production).",
        log_group_kms,
    ),
    PolicySpec(
        "vpn-strong-crypto",
        "HIPAA 164.312(e)(1) transmission security: VPN tunnels use IKEv2, AES-256, SHA-2 "
        "and ECP Diffie-Hellman groups 19-21 only.",
        vpn_strong_crypto,
    ),
)


def build_policies() -> list[Any]:
    """The pulumi_policy objects of the pack, every one MANDATORY and tagged HIPAA 164.312."""
    from pulumi_policy import (
        EnforcementLevel,
        PolicyComplianceFramework,
        ResourceValidationPolicy,
        StackValidationPolicy,
    )

    framework = PolicyComplianceFramework(
        name="HIPAA Security Rule", version="45 CFR 164.312", reference="164.312"
    )
    policies: list[Any] = []
    for spec in POLICIES:
        cls = StackValidationPolicy if spec.stack else ResourceValidationPolicy
        policies.append(
            cls(
                name=spec.name,
                description=spec.description,
                validate=spec.validate,
                enforcement_level=EnforcementLevel.MANDATORY,
                framework=framework,
            )
        )
    return policies


def run_all(
    resources: Iterable[Any], make_stack_args: Callable[[list[Any]], Any]
) -> list[tuple[str, str]]:
    """Run every policy over resources (objects with resource_type/props/urn/name).

    Returns (policy name, message) for each violation; used by tests and handy in a REPL.
    """
    items_ = list(resources)
    violations: list[tuple[str, str]] = []
    for spec in POLICIES:

        def report(message: str, urn: str | None = None, _name: str = spec.name) -> None:
            violations.append((_name, message))

        if spec.stack:
            spec.validate(make_stack_args(items_), report)
        else:
            for item in items_:
                spec.validate(item, report)
    return violations
