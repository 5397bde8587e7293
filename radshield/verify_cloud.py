"""`radshield verify-cloud`: read the deployed landing zone with boto3 and check every promise.

After ``pulumi up`` the stack's code says what should exist; this command reads what does
exist in the account (read-only API calls) and decides, per promise, pass / fail / error:

========================== ===================================================================
control                    promise
========================== ===================================================================
cloud.archive_encryption   imaging bucket: default SSE-KMS with the archive key, bucket key on
cloud.bucket_encryption    every radshield bucket has default encryption (trail: logs key)
cloud.archive_object_lock  Object Lock on, default retention: prod COMPLIANCE >= 2555 days
cloud.tls_only             every bucket policy denies s3:* without TLS
cloud.public_access        every bucket's and the account's public access block: all four on
cloud.versioning           every radshield bucket is versioned
cloud.archive_replication  imaging archive replicated (SSE-KMS) to an Object-Locked bucket
cloud.flow_logs            the VPC has an active flow log of ALL traffic to a KMS log group
cloud.trail                the trail is logging, multi-region, validated, KMS-encrypted
cloud.private_routes       app and data tiers have no route to an internet or NAT gateway
cloud.endpoints            the S3 gateway and the interface endpoints exist in the VPC
cloud.imdsv2               every instance of the VPC requires IMDSv2 and has no public IP
cloud.vault_lock           the backup vault is locked (prod: compliance mode, max >= 3650 d)
cloud.kms_rotation         the archive, logs, backup and EBS keys rotate
========================== ===================================================================

Resources are found by the names and tags the landing zone gives them (``radshield-<env>``,
tags ``Project=radshield``, ``Environment=<env>``, ``DataClass``, ``Tier``; aliases
``alias/radshield-<env>-<purpose>``). The result is an assessment document (kind
``radshield.assessment``, one "host" ``aws:<account>:<region>:<env>``) and, from it, a
``report.json`` (schema ``radshield.report.REPORT_SCHEMA``) and ``report.html`` in
``--out-dir``: the same formats as the host assessment, so `radshield report` reads it too.

Generic account checks (CIS/HIPAA catalogues) belong to Prowler (``make prowler``, its own
virtual environment); these are the landing zone's own promises. See ``infra/README.md``.

Exit codes: 0 every promise kept; 3 a critical promise failed or could not be checked;
2 usage error or AWS unreachable.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROD_ENVIRONMENTS = ("prod",)
PROD_LOCK_DAYS = 2555
PROD_LOG_RETENTION = 2192
PROD_VAULT_MAX = 3650
KEY_PURPOSES = ("archive", "logs", "backup", "ebs")
INTERFACE_ENDPOINTS = (
    "kms",
    "logs",
    "ssm",
    "ssmmessages",
    "ec2messages",
    "medical-imaging",
    "runtime-medical-imaging",
    "dicom-medical-imaging",
)
OPEN = ("0.0.0.0/0", "::/0")

# id: (title, severity, HIPAA 164.312 paragraph, remediation)
CONTROLS: dict[str, tuple[str, str, str, str]] = {
    "cloud.archive_encryption": (
        "Imaging archive encrypted with the archive KMS key",
        "critical",
        "164.312(a)(2)(iv)",
        "pulumi up restores the archive's SSE configuration (aws:kms, archive key)",
    ),
    "cloud.bucket_encryption": (
        "Every landing-zone bucket has default encryption",
        "high",
        "164.312(a)(2)(iv)",
        "pulumi up restores the bucket's SSE configuration",
    ),
    "cloud.archive_object_lock": (
        "Imaging archive Object Lock with the required retention",
        "critical",
        "164.312(c)(1)",
        "Object Lock cannot be removed; restore the default retention with pulumi up",
    ),
    "cloud.tls_only": (
        "Bucket policies refuse requests without TLS",
        "critical",
        "164.312(e)(1)",
        "pulumi up restores the DenyInsecureTransport statement",
    ),
    "cloud.public_access": (
        "Public access blocked on every bucket and account-wide",
        "critical",
        "164.312(a)(1)",
        "pulumi up (stack and account baseline) restores all four flags",
    ),
    "cloud.versioning": (
        "Landing-zone buckets are versioned",
        "high",
        "164.312(c)(1)",
        "re-enable versioning (pulumi up)",
    ),
    "cloud.archive_replication": (
        "Imaging archive replicated to an Object-Locked DR bucket",
        "high",
        "164.312(c)(1)",
        "pulumi up restores the replication configuration and the DR bucket",
    ),
    "cloud.flow_logs": (
        "VPC flow logs of all traffic to an encrypted log group",
        "high",
        "164.312(b)",
        "pulumi up restores the flow log and its log group",
    ),
    "cloud.trail": (
        "CloudTrail logging, multi-region, validated, encrypted",
        "critical",
        "164.312(b)",
        "aws cloudtrail start-logging; pulumi up restores the trail settings",
    ),
    "cloud.private_routes": (
        "No internet route from the app and data tiers",
        "critical",
        "164.312(e)(1)",
        "delete the route; pulumi up restores the tier's route table",
    ),
    "cloud.endpoints": (
        "AWS APIs reached through VPC endpoints",
        "high",
        "164.312(e)(1)",
        "pulumi up restores the missing endpoints",
    ),
    "cloud.imdsv2": (
        "Instances require IMDSv2 and have no public IP",
        "critical",
        "164.312(a)(1)",
        "aws ec2 modify-instance-metadata-options --http-tokens required",
    ),
    "cloud.vault_lock": (
        "Backup vault locked for the required retention",
        "critical",
        "164.312(c)(1)",
        "pulumi up restores the vault lock configuration",
    ),
    "cloud.kms_rotation": (
        "Landing-zone KMS keys rotate",
        "high",
        "164.312(a)(2)(iv)",
        "aws kms enable-key-rotation; pulumi up",
    ),
}


@dataclass
class Result:
    id: str
    status: str  # pass | fail | error | not_applicable
    reason: str
    checks: list[dict[str, Any]] = field(default_factory=list)


class Finding:
    """Collects the sub-checks of one control; the control fails if any sub-check fails."""

    def __init__(self, control: str) -> None:
        self.control = control
        self.checks: list[dict[str, Any]] = []

    def expect(self, check: str, ok: bool, observed: Any) -> bool:
        self.checks.append({"check": check, "ok": bool(ok), "observed": _plain(observed)})
        return bool(ok)

    def result(self) -> Result:
        failed = [c for c in self.checks if not c["ok"]]
        if not self.checks:
            return Result(self.control, "error", "nothing to check was found", [])
        if failed:
            reason = "; ".join(f"{c['check']} (observed {c['observed']!r})" for c in failed)
            return Result(self.control, "fail", reason, self.checks)
        return Result(self.control, "pass", f"{len(self.checks)} checks passed", self.checks)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _error_code(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)


class Estate:
    """Read-only view of one environment of the landing zone in one account and region."""

    def __init__(
        self,
        environment: str,
        region: str,
        endpoint_url: str | None = None,
        session: Any = None,
    ) -> None:
        import boto3

        self.environment = environment
        self.region = region
        self.session = session or boto3.session.Session(region_name=region)
        self.endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}
        self.prod = environment in PROD_ENVIRONMENTS
        self.name = f"radshield-{environment}"

    def client(self, service: str) -> Any:
        if service not in self._clients:
            kwargs: dict[str, Any] = {"region_name": self.region}
            if self.endpoint_url:
                kwargs["endpoint_url"] = self.endpoint_url
            client = self.session.client(service, **kwargs)
            if self.endpoint_url and service == "s3control":
                local_endpoint(client)
            self._clients[service] = client
        return self._clients[service]

    # ---------------------------------------------------------------- discovery
    def account_id(self) -> str:
        return self.client("sts").get_caller_identity()["Account"]

    def buckets(self) -> dict[str, dict[str, str]]:
        """name -> tags of the buckets tagged Project=radshield, Environment=<env>."""
        s3 = self.client("s3")
        found = {}
        for bucket in s3.list_buckets().get("Buckets", []):
            try:
                tagset = s3.get_bucket_tagging(Bucket=bucket["Name"])["TagSet"]
            except Exception:  # noqa: BLE001, S112 - untagged buckets are not ours
                continue
            tags = {t["Key"]: t["Value"] for t in tagset}
            if tags.get("Project") == "radshield" and tags.get("Environment") == self.environment:
                found[bucket["Name"]] = tags
        return found

    def key_arn(self, purpose: str) -> str | None:
        try:
            meta = self.client("kms").describe_key(
                KeyId=f"alias/radshield-{self.environment}-{purpose}"
            )
        except Exception:  # noqa: BLE001
            return None
        return meta["KeyMetadata"]["Arn"]

    def resolve_key(self, key_id: str | None) -> str | None:
        if not key_id:
            return None
        try:
            return self.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
        except Exception:  # noqa: BLE001
            return key_id

    def vpc_id(self) -> str | None:
        vpcs = self.client("ec2").describe_vpcs(
            Filters=[{"Name": "tag:Name", "Values": [self.name]}]
        )["Vpcs"]
        return vpcs[0]["VpcId"] if vpcs else None


def local_endpoint(client: Any) -> Any:
    """Let an s3control client talk to a local endpoint (a moto server).

    s3control puts the account id in front of the endpoint's host name
    (``123456789012.127.0.0.1``); a local endpoint has no such names, so the prefix is removed
    from each request's URL before it is sent.
    """

    def strip(request: Any, **_: Any) -> None:
        scheme, rest = request.url.split("://", 1)
        host, _, path = rest.partition("/")
        first, _, remainder = host.partition(".")
        if first.isdigit() and len(first) == 12 and remainder:
            request.url = f"{scheme}://{remainder}/{path}"

    client.meta.events.register_first("before-send.s3-control.*", strip)
    return client


# ------------------------------------------------------------------------- checks
def _sse(s3: Any, bucket: str) -> dict[str, Any] | None:
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ]
    except Exception:  # noqa: BLE001
        return None
    return rules[0] if rules else None


def check_archive_encryption(estate: Estate, ctx: dict[str, Any]) -> Finding:
    f = Finding("cloud.archive_encryption")
    s3 = estate.client("s3")
    want = estate.key_arn("archive")
    f.expect("archive key alias exists", want is not None, want)
    for bucket in ctx["imaging"]:
        rule = _sse(s3, bucket) or {}
        default = rule.get("ApplyServerSideEncryptionByDefault", {})
        f.expect(
            f"{bucket}: SSEAlgorithm aws:kms", default.get("SSEAlgorithm") == "aws:kms", default
        )
        key = estate.resolve_key(default.get("KMSMasterKeyID"))
        f.expect(f"{bucket}: the archive key", want is not None and key == want, key)
        f.expect(f"{bucket}: bucket key", rule.get("BucketKeyEnabled") is True, rule)
    f.expect("an imaging bucket exists", bool(ctx["imaging"]), list(ctx["buckets"]))
    return f


def check_bucket_encryption(estate: Estate, ctx: dict[str, Any]) -> Finding:
    f = Finding("cloud.bucket_encryption")
    s3 = estate.client("s3")
    logs_key = estate.key_arn("logs")
    for bucket in ctx["buckets"]:
        default = (_sse(s3, bucket) or {}).get("ApplyServerSideEncryptionByDefault", {})
        algorithm = default.get("SSEAlgorithm")
        f.expect(f"{bucket}: default encryption", algorithm in ("aws:kms", "AES256"), algorithm)
        if bucket in ctx["trail_buckets"]:
            key = estate.resolve_key(default.get("KMSMasterKeyID"))
            f.expect(f"{bucket}: trail logs with the logs key", key == logs_key, key)
    return f


def _lock(s3: Any, bucket: str) -> dict[str, Any]:
    try:
        return s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    except Exception:  # noqa: BLE001
        return {}


def _lock_ok(f: Finding, bucket: str, lock: dict[str, Any], prod: bool) -> None:
    f.expect(f"{bucket}: Object Lock enabled", lock.get("ObjectLockEnabled") == "Enabled", lock)
    retention = lock.get("Rule", {}).get("DefaultRetention", {})
    days = retention.get("Days") or 365 * retention.get("Years", 0)
    if prod:
        f.expect(f"{bucket}: COMPLIANCE mode", retention.get("Mode") == "COMPLIANCE", retention)
        f.expect(f"{bucket}: retention >= {PROD_LOCK_DAYS} days", days >= PROD_LOCK_DAYS, days)
    else:
        f.expect(
            f"{bucket}: a lock mode",
            retention.get("Mode") in ("GOVERNANCE", "COMPLIANCE"),
            retention,
        )
        f.expect(f"{bucket}: retention >= 1 day", days >= 1, days)


def check_archive_object_lock(estate: Estate, ctx: dict[str, Any]) -> Finding:
    f = Finding("cloud.archive_object_lock")
    s3 = estate.client("s3")
    for bucket in ctx["imaging"]:
        _lock_ok(f, bucket, _lock(s3, bucket), estate.prod)
    return f


def _denies_plain_http(policy: dict[str, Any]) -> bool:
    for st in policy.get("Statement", []):
        actions = st.get("Action")
        actions = [actions] if isinstance(actions, str) else actions or []
        secure = st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
        if (
            st.get("Effect") == "Deny"
            and st.get("Principal") in ("*", {"AWS": "*"})
            and ("s3:*" in actions or "*" in actions)
            and str(secure).lower() == "false"
        ):
            return True
    return False


def check_tls_only(estate: Estate, ctx: dict[str, Any]) -> Finding:
    f = Finding("cloud.tls_only")
    s3 = estate.client("s3")
    for bucket in ctx["buckets"]:
        try:
            policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        except Exception as exc:  # noqa: BLE001
            f.expect(f"{bucket}: has a bucket policy", False, _error_code(exc))
            continue
        f.expect(f"{bucket}: denies s3:* without TLS", _denies_plain_http(policy), policy)
    return f


_PAB = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def check_public_access(estate: Estate, ctx: dict[str, Any]) -> Finding:
    f = Finding("cloud.public_access")
    s3 = estate.client("s3")
    for bucket in ctx["buckets"]:
        try:
            conf = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        except Exception as exc:  # noqa: BLE001
            conf = {"error": _error_code(exc)}
        f.expect(f"{bucket}: all four flags", all(conf.get(k) is True for k in _PAB), conf)
    try:
        conf = estate.client("s3control").get_public_access_block(AccountId=ctx["account"])[
            "PublicAccessBlockConfiguration"
        ]
    except Exception as exc:  # noqa: BLE001
        conf = {"error": _error_code(exc)}
    f.expect("account: all four flags", all(conf.get(k) is True for k in _PAB), conf)
    return f


def check_versioning(estate: Estate, ctx: dict[str, Any]) -> Finding:
    f = Finding("cloud.versioning")
    s3 = estate.client("s3")
    for bucket in ctx["buckets"]:
        status = s3.get_bucket_versioning(Bucket=bucket).get("Status")
        f.expect(f"{bucket}: versioning Enabled", status == "Enabled", status)
    return f


def check_archive_replication(estate: Estate, ctx: dict[str, Any]) -> Finding:
    f = Finding("cloud.archive_replication")
    s3 = estate.client("s3")
    for bucket in ctx["imaging"]:
        try:
            conf = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]
        except Exception as exc:  # noqa: BLE001
            f.expect(f"{bucket}: replication configured", False, _error_code(exc))
            continue
        rules = [r for r in conf.get("Rules", []) if r.get("Status") == "Enabled"]
        f.expect(f"{bucket}: an enabled replication rule", bool(rules), conf.get("Rules"))
        for rule in rules:
            dest = rule.get("Destination", {})
            target = dest.get("Bucket", "").split(":::")[-1]
            f.expect(
                f"{bucket}: replicas SSE-KMS",
                bool(dest.get("EncryptionConfiguration", {}).get("ReplicaKmsKeyID")),
                dest,
            )
            sse = rule.get("SourceSelectionCriteria", {}).get("SseKmsEncryptedObjects", {})
            f.expect(
                f"{bucket}: KMS-encrypted objects replicated", sse.get("Status") == "Enabled", sse
            )
            f.expect(f"{bucket}: replica bucket differs", target and target != bucket, target)
            _lock_ok(f, target, _lock(s3, target), estate.prod)
            status = s3.get_bucket_versioning(Bucket=target).get("Status") if target else None
            f.expect(f"{target}: versioned", status == "Enabled", status)
    return f


def check_flow_logs(estate: Estate, ctx: dict[str, Any]) -> Finding:
    f = Finding("cloud.flow_logs")
    vpc = ctx["vpc"]
    if not f.expect("VPC exists", vpc is not None, estate.name):
        return f
    flows = estate.client("ec2").describe_flow_logs(
        Filters=[{"Name": "resource-id", "Values": [vpc]}]
    )["FlowLogs"]
    all_traffic = [x for x in flows if x.get("TrafficType") == "ALL"]
    f.expect("a flow log of ALL traffic", bool(all_traffic), [x.get("TrafficType") for x in flows])
    for flow in all_traffic:
        f.expect(
            "flow log active",
            flow.get("FlowLogStatus", "ACTIVE") == "ACTIVE",
            flow.get("FlowLogStatus"),
        )
        group = flow.get("LogGroupName")
        if flow.get("LogDestinationType", "cloud-watch-logs") != "cloud-watch-logs" or not group:
            continue
        groups = estate.client("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"]
        meta = next((g for g in groups if g["logGroupName"] == group), {})
        f.expect(f"{group}: KMS key", bool(meta.get("kmsKeyId")), meta.get("kmsKeyId"))
        if estate.prod:
            days = meta.get("retentionInDays")
            f.expect(
                f"{group}: retention >= {PROD_LOG_RETENTION} days",
                days is not None and days >= PROD_LOG_RETENTION,
                days,
            )
    return f


def check_trail(estate: Estate, ctx: dict[str, Any]) -> Finding:
    f = Finding("cloud.trail")
    ct = estate.client("cloudtrail")
    trails = ct.describe_trails(trailNameList=[estate.name]).get("trailList", [])
    if not f.expect(f"trail {estate.name} exists", bool(trails), [t.get("Name") for t in trails]):
        return f
    trail = trails[0]
    status = ct.get_trail_status(Name=trail.get("TrailARN", estate.name))
    f.expect("logging", status.get("IsLogging") is True, status.get("IsLogging"))
    f.expect(
        "log file validation",
        trail.get("LogFileValidationEnabled") is True,
        trail.get("LogFileValidationEnabled"),
    )
    f.expect(
        "multi-region", trail.get("IsMultiRegionTrail") is True, trail.get("IsMultiRegionTrail")
    )
    f.expect("KMS-encrypted", bool(trail.get("KmsKeyId")), trail.get("KmsKeyId"))
    return f


def _tier_route_tables(estate: Estate, vpc: str, tiers: Iterable[str]) -> dict[str, str]:
    ec2 = estate.client("ec2")
    subnets = ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "tag:Tier", "Values": list(tiers)}]
    )["Subnets"]
    tier_of = {
        s["SubnetId"]: next(t["Value"] for t in s["Tags"] if t["Key"] == "Tier") for s in subnets
    }
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    main = next((t for t in tables if any(a.get("Main") for a in t.get("Associations", []))), None)
    found: dict[str, str] = {}
    for subnet, tier in tier_of.items():
        table = next(
            (
                t
                for t in tables
                if any(a.get("SubnetId") == subnet for a in t.get("Associations", []))
            ),
            main,  # a subnet without an association uses the main route table
        )
        if table:
            found[table["RouteTableId"]] = tier
    return found


def check_private_routes(estate: Estate, ctx: dict[str, Any]) -> Finding:
    f = Finding("cloud.private_routes")
    vpc = ctx["vpc"]
    if not f.expect("VPC exists", vpc is not None, estate.name):
        return f
    tables = _tier_route_tables(estate, vpc, ("app", "data"))
    f.expect("app and data subnets found", set(tables.values()) == {"app", "data"}, tables)
    described = (
        estate.client("ec2").describe_route_tables(RouteTableIds=list(tables))["RouteTables"]
        if tables
        else []
    )
    for table in described:
        tier = tables[table["RouteTableId"]]
        for route in table.get("Routes", []):
            dest = route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock")
            target = (
                route.get("GatewayId", "")
                or route.get("NatGatewayId", "")
                or route.get("EgressOnlyInternetGatewayId", "")
            )
            internet = target.startswith(("igw-", "nat-", "eigw-"))
            f.expect(
                f"{tier} tier {table['RouteTableId']}: no {dest} -> {target}",
                not (internet and dest in OPEN),
                {"destination": dest, "target": target},
            )
    return f


def check_endpoints(estate: Estate, ctx: dict[str, Any]) -> Finding:
    f = Finding("cloud.endpoints")
    vpc = ctx["vpc"]
    if not f.expect("VPC exists", vpc is not None, estate.name):
        return f
    endpoints = estate.client("ec2").describe_vpc_endpoints(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}]
    )["VpcEndpoints"]
    by_service = {
        e["ServiceName"]: e
        for e in endpoints
        if e.get("State", "available").lower() in ("available", "pendingacceptance", "pending")
    }
    s3 = by_service.get(f"com.amazonaws.{estate.region}.s3", {})
    f.expect(
        "S3 gateway endpoint", s3.get("VpcEndpointType") == "Gateway", s3.get("VpcEndpointType")
    )
    for service in INTERFACE_ENDPOINTS:
        name = f"com.amazonaws.{estate.region}.{service}"
        e = by_service.get(name, {})
        f.expect(
            f"{service} interface endpoint",
            e.get("VpcEndpointType") == "Interface",
            e.get("VpcEndpointType"),
        )
    return f


def check_imdsv2(estate: Estate, ctx: dict[str, Any]) -> Finding:
    f = Finding("cloud.imdsv2")
    vpc = ctx["vpc"]
    if not f.expect("VPC exists", vpc is not None, estate.name):
        return f
    reservations = estate.client("ec2").describe_instances(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc]},
            {
                "Name": "instance-state-name",
                "Values": ["pending", "running", "stopping", "stopped"],
            },
        ]
    )["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    if not instances:
        f.expect("no instances (nothing to require IMDSv2 of)", True, 0)
    for inst in instances:
        iid = inst["InstanceId"]
        tokens = inst.get("MetadataOptions", {}).get("HttpTokens")
        f.expect(f"{iid}: HttpTokens required", tokens == "required", tokens)
        public = inst.get("PublicIpAddress")
        f.expect(f"{iid}: no public IP", not public, public)
    return f


def check_vault_lock(estate: Estate, ctx: dict[str, Any]) -> Finding:
    f = Finding("cloud.vault_lock")
    try:
        vault = estate.client("backup").describe_backup_vault(BackupVaultName=estate.name)
    except Exception as exc:  # noqa: BLE001
        f.expect(f"vault {estate.name} exists", False, _error_code(exc))
        return f
    f.expect("locked", vault.get("Locked") is True, vault.get("Locked"))
    minimum = vault.get("MinRetentionDays")
    f.expect("min retention >= 7 days", minimum is not None and minimum >= 7, minimum)
    f.expect(
        "encrypted with the backup key",
        estate.resolve_key(vault.get("EncryptionKeyArn")) == estate.key_arn("backup"),
        vault.get("EncryptionKeyArn"),
    )
    if estate.prod:
        maximum = vault.get("MaxRetentionDays")
        f.expect(
            f"max retention >= {PROD_VAULT_MAX} days",
            maximum is not None and maximum >= PROD_VAULT_MAX,
            maximum,
        )
        f.expect(
            "compliance mode (a lock date)",
            vault.get("LockDate") is not None,
            vault.get("LockDate"),
        )
    return f


def check_kms_rotation(estate: Estate, ctx: dict[str, Any]) -> Finding:
    f = Finding("cloud.kms_rotation")
    kms = estate.client("kms")
    for purpose in KEY_PURPOSES:
        arn = estate.key_arn(purpose)
        if not f.expect(f"{purpose} key exists", arn is not None, arn):
            continue
        enabled = kms.get_key_rotation_status(KeyId=arn).get("KeyRotationEnabled")
        f.expect(f"{purpose} key rotates", enabled is True, enabled)
    return f


CHECKS: tuple[Callable[[Estate, dict[str, Any]], Finding], ...] = (
    check_archive_encryption,
    check_bucket_encryption,
    check_archive_object_lock,
    check_tls_only,
    check_public_access,
    check_versioning,
    check_archive_replication,
    check_flow_logs,
    check_trail,
    check_private_routes,
    check_endpoints,
    check_imdsv2,
    check_vault_lock,
    check_kms_rotation,
)


def verify(estate: Estate) -> list[Result]:
    """Run every check; an API error makes that control ``error``, never ``pass``."""
    buckets = estate.buckets()
    ctx: dict[str, Any] = {
        "account": estate.account_id(),
        "buckets": {b: t for b, t in buckets.items() if t.get("Role") != "replica"},
        "imaging": [
            b
            for b, t in buckets.items()
            if t.get("DataClass") == "imaging" and t.get("Role") != "replica"
        ],
        "trail_buckets": [
            b
            for b, t in buckets.items()
            if t.get("DataClass") == "audit-log" and t.get("Purpose") == "trail"
        ],
        "vpc": estate.vpc_id(),
    }
    results = []
    for check in CHECKS:
        control = check.__name__.removeprefix("check_")
        try:
            results.append(check(estate, ctx).result())
        except Exception as exc:  # noqa: BLE001 - any failure to read is an error result
            results.append(Result(f"cloud.{control}", "error", f"{type(exc).__name__}: {exc}"))
    return results


def assessment(estate: Estate, results: list[Result], account: str) -> dict[str, Any]:
    """The results as a ``radshield.assessment`` document (one host: the cloud estate)."""
    counts = {s: 0 for s in ("pass", "fail", "not_applicable", "error")}
    for r in results:
        counts[r.status] += 1
    decided = counts["pass"] + counts["fail"] + counts["error"]
    score = round(100.0 * counts["pass"] / decided, 1) if decided else None
    host = f"aws:{account}:{estate.region}:{estate.environment}"
    controls = {
        cid: {
            "id": cid,
            "title": title,
            "role": "landing_zone",
            "cis": None,
            "hipaa": hipaa,
            "severity": severity,
            "rationale": title,
            "remediation": remediation,
        }
        for cid, (title, severity, hipaa, remediation) in CONTROLS.items()
    }
    critical = [
        f"{host}:{r.id}"
        for r in results
        if r.status in ("fail", "error") and CONTROLS[r.id][1] == "critical"
    ]
    return {
        "schema_version": 1,
        "kind": "radshield.assessment",
        "label": f"cloud-{estate.environment}",
        "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "inventory": f"aws account {account} region {estate.region}",
        "limit": estate.environment,
        "controls": controls,
        "hosts": {
            host: {
                "groups": ["landing_zone", estate.environment],
                "container": None,
                "evidence_error": None,
                "score": score,
                "counts": counts,
                "results": [
                    {"id": r.id, "status": r.status, "reason": r.reason, "checks": r.checks}
                    for r in results
                ],
            }
        },
        "summary": {
            "score": score,
            "counts": counts,
            "critical_failed": critical,
            "critical_error": [],
        },
    }


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="radshield verify-cloud",
        description="Read the deployed landing zone (boto3, read-only) and check every promise "
        "of infra/: encryption keys, Object Lock, TLS-only policies, public access blocks, "
        "versioning, replication, flow logs, the trail, private routes, endpoints, IMDSv2, "
        "the vault lock, key rotation. Writes cloud-assessment.json, report.json and "
        "report.html. Exit 0 all kept; 3 a critical promise failed; 2 usage or AWS error.",
    )
    p.add_argument("--environment", required=True, help="stack environment (dev, prod, ...)")
    p.add_argument("--region", required=True, help="the stack's AWS region")
    p.add_argument("--endpoint-url", help="AWS endpoint (a moto server in tests)")
    p.add_argument("--out-dir", default="reports/cloud", help="default: reports/cloud")
    p.add_argument("--critical-exit", type=int, default=3, metavar="N")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    from radshield import report

    estate = Estate(args.environment, args.region, args.endpoint_url)
    try:
        account = estate.account_id()
    except Exception as exc:  # noqa: BLE001
        print(f"radshield verify-cloud: cannot reach AWS: {exc}", file=sys.stderr)
        return 2
    results = verify(estate)
    doc = assessment(estate, results, account)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "cloud-assessment.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    rep = report.write_report(None, doc, None, out, args.critical_exit)
    for r in results:
        print(f"  {r.status:5s} {r.id}: {r.reason}")
    print(
        f"radshield verify-cloud: {doc['summary']['counts']['pass']}/{len(results)} promises "
        f"kept; wrote {out / 'report.html'} and report.json"
    )
    return rep["summary"]["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
