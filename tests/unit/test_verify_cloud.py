"""`radshield verify-cloud` against a moto server on 127.0.0.1 holding a landing-zone estate.

A boto3 fixture creates the prod estate as ``pulumi up`` leaves it (keys, the three buckets
and the DR replica, the account public access block, VPC with tiers, endpoints, flow log,
trail, PACS instance, locked vault). The compliant estate passes every control; then one
property at a time is broken, and exactly that control must fail.

moto facts (shared/conventions.md): a TLS-only bucket policy makes moto refuse plain-HTTP
PutObject, so no object is written after the policy; s3control needs the account-id host
prefix switched off (``verify_cloud.Estate`` does, for any ``--endpoint-url``).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")
from radshield import verify_cloud  # noqa: E402
from radshield.report import REPORT_SCHEMA  # noqa: E402

ENV, REGION, ACCOUNT = "prod", "us-east-1", "123456789012"
NAME = f"radshield-{ENV}"
TAGS = {"Project": "radshield", "Environment": ENV}
CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}


class Cloud:
    """boto3 clients on the moto server, and the ids of the estate built there."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = boto3.session.Session(region_name=REGION, **CREDENTIALS)
        self.ids: dict[str, Any] = {}
        self.clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self.clients:
            client = self.session.client(service, endpoint_url=self.url, region_name=REGION)
            if service == "s3control":
                verify_cloud.local_endpoint(client)
            self.clients[service] = client
        return self.clients[service]

    def estate(self) -> verify_cloud.Estate:
        estate = verify_cloud.Estate(ENV, REGION, self.url, session=self.session)
        estate._clients = dict(self.clients)  # the same (already built) clients: faster
        estate.client("s3").meta.events.register(
            "after-call.s3.GetBucketReplication", self._moto_replication_gap
        )
        return estate

    def verify(self) -> dict[str, verify_cloud.Result]:
        return {r.id: r for r in verify_cloud.verify(self.estate())}

    def _moto_replication_gap(self, parsed: dict[str, Any], **_: Any) -> None:
        """moto 5.2.5 drops SourceSelectionCriteria from stored replication rules: give back
        what the fixture put (a break case may take it away), so the verifier stays strict."""
        criteria = self.ids.get("replication_criteria")
        for rule in parsed.get("ReplicationConfiguration", {}).get("Rules", []):
            if criteria and "SourceSelectionCriteria" not in rule:
                rule["SourceSelectionCriteria"] = criteria


def _tags(extra: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in {**TAGS, **extra}.items()]


def _tls_only(bucket: str, extra: list[dict[str, Any]] | None = None) -> str:
    arn = f"arn:aws:s3:::{bucket}"
    statements = [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements + (extra or [])})


PAB = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
LOCK = {
    "ObjectLockEnabled": "Enabled",
    "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 2555}},
}


def build_estate(cloud: Cloud) -> None:
    """The prod landing zone as deployed (what infra/ declares), created with boto3."""
    kms, s3 = cloud("kms"), cloud("s3")
    keys = {}
    for purpose in ("archive", "logs", "backup", "ebs", "dr"):
        arn = kms.create_key(Description=f"radshield {ENV}: {purpose}")["KeyMetadata"]["Arn"]
        kms.enable_key_rotation(KeyId=arn)
        kms.create_alias(AliasName=f"alias/{NAME}-{purpose}", TargetKeyId=arn)
        keys[purpose] = arn
    cloud.ids["keys"] = keys

    cloud.ids["buckets"] = {
        "images": ("aws:kms", keys["archive"], {"DataClass": "imaging", "PHI": "true"}, True),
        "images-dr": ("aws:kms", keys["dr"], {"DataClass": "imaging", "Role": "replica"}, True),
        "access-logs": (
            "AES256",
            None,
            {"DataClass": "audit-log", "Purpose": "access-logs"},
            False,
        ),
        "trail": ("aws:kms", keys["logs"], {"DataClass": "audit-log", "Purpose": "trail"}, False),
    }
    for short, (_, _, _, locked) in cloud.ids["buckets"].items():
        s3.create_bucket(Bucket=f"{NAME}-{short}", ObjectLockEnabledForBucket=locked)
        restore_bucket(cloud, short)
    put_replication(cloud)
    put_account_pab(cloud)
    build_network(cloud)
    build_trail_and_vault(cloud)


def restore_bucket(cloud: Cloud, short: str) -> None:
    """(Re)apply every setting of one bucket as deployed; puts only, so it also undoes breaks."""
    s3 = cloud("s3")
    algorithm, key, tags, locked = cloud.ids["buckets"][short]
    name = f"{NAME}-{short}"
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags(tags)})
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    default: dict[str, str] = {"SSEAlgorithm": algorithm}
    if key:
        default["KMSMasterKeyID"] = key
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": bool(key)}
            ]
        },
    )
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=PAB)
    if locked:
        s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration=LOCK)
    s3.put_bucket_policy(Bucket=name, Policy=_tls_only(name))


def put_account_pab(cloud: Cloud) -> None:
    cloud("s3control").put_public_access_block(
        AccountId=ACCOUNT, PublicAccessBlockConfiguration=PAB
    )


def put_replication(cloud: Cloud) -> None:
    keys = cloud.ids["keys"]
    criteria = {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    cloud.ids["replication_criteria"] = criteria
    cloud("s3").put_bucket_replication(
        Bucket=f"{NAME}-images",
        ReplicationConfiguration={
            "Role": f"arn:aws:iam::{ACCOUNT}:role/{NAME}-replication",
            "Rules": [
                {
                    "ID": "imaging-to-dr",
                    "Priority": 1,
                    "Status": "Enabled",
                    "Filter": {},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "SourceSelectionCriteria": criteria,
                    "Destination": {
                        "Bucket": f"arn:aws:s3:::{NAME}-images-dr",
                        "EncryptionConfiguration": {"ReplicaKmsKeyID": keys["dr"]},
                    },
                }
            ],
        },
    )


def build_network(cloud: Cloud) -> None:
    ec2, keys = cloud("ec2"), cloud.ids["keys"]
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": NAME}])
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    tables, subnets = {}, {}
    for i, tier in enumerate(("ingress", "app", "data")):
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        tables[tier] = table
        for az in (0, 1):
            subnet = ec2.create_subnet(
                VpcId=vpc,
                CidrBlock=f"10.60.{16 * i + az}.0/24",
                AvailabilityZone=f"{REGION}{'ab'[az]}",
            )["Subnet"]["SubnetId"]
            ec2.create_tags(Resources=[subnet], Tags=[{"Key": "Tier", "Value": tier}])
            ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
            subnets.setdefault(tier, []).append(subnet)
    ec2.create_route(
        RouteTableId=tables["ingress"], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw
    )
    cloud.ids.update(vpc=vpc, igw=igw, tables=tables, subnets=subnets)

    cloud("logs").create_log_group(logGroupName=FLOW_LOG_GROUP, kmsKeyId=keys["logs"])
    put_flow_log_retention(cloud)
    create_flow_log(cloud)
    ec2.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName=f"com.amazonaws.{REGION}.s3",
        VpcEndpointType="Gateway",
        RouteTableIds=list(tables.values()),
    )
    cloud.ids["endpoints"] = {}
    for service in verify_cloud.INTERFACE_ENDPOINTS:
        create_endpoint(cloud, service)

    image = ec2.describe_images()["Images"][0]["ImageId"]
    cloud.ids["instance"] = ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        InstanceType="m6i.2xlarge",
        SubnetId=subnets["app"][0],
        MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": _tags({"Role": "pacs", "Name": f"{NAME}-pacs"})}
        ],
    )["Instances"][0]["InstanceId"]


FLOW_LOG_GROUP = f"/radshield/{ENV}/vpc-flow-logs"


def put_flow_log_retention(cloud: Cloud) -> None:
    cloud("logs").put_retention_policy(logGroupName=FLOW_LOG_GROUP, retentionInDays=2192)


def create_flow_log(cloud: Cloud) -> None:
    cloud.ids["flow_log"] = cloud("ec2").create_flow_logs(
        ResourceIds=[cloud.ids["vpc"]],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="cloud-watch-logs",
        LogGroupName=FLOW_LOG_GROUP,
        DeliverLogsPermissionArn=f"arn:aws:iam::{ACCOUNT}:role/{NAME}-flow-logs",
    )["FlowLogIds"][0]


def create_endpoint(cloud: Cloud, service: str) -> None:
    cloud.ids["endpoints"][service] = cloud("ec2").create_vpc_endpoint(
        VpcId=cloud.ids["vpc"],
        ServiceName=f"com.amazonaws.{REGION}.{service}",
        VpcEndpointType="Interface",
        SubnetIds=cloud.ids["subnets"]["data"],
        PrivateDnsEnabled=True,
    )["VpcEndpoint"]["VpcEndpointId"]


def build_trail_and_vault(cloud: Cloud) -> None:
    keys = cloud.ids["keys"]
    trail = cloud("cloudtrail")
    trail.create_trail(
        Name=NAME,
        S3BucketName=f"{NAME}-trail",
        IsMultiRegionTrail=True,
        IncludeGlobalServiceEvents=True,
        EnableLogFileValidation=True,
        KmsKeyId=keys["logs"],
    )
    trail.start_logging(Name=NAME)

    cloud("backup").create_backup_vault(BackupVaultName=NAME, EncryptionKeyArn=keys["backup"])
    put_vault_lock(cloud)


def put_vault_lock(cloud: Cloud, **override: Any) -> None:
    backup = cloud("backup")
    backup.delete_backup_vault_lock_configuration(BackupVaultName=NAME)
    lock = {"MinRetentionDays": 7, "MaxRetentionDays": 3650, "ChangeableForDays": 3} | override
    backup.put_backup_vault_lock_configuration(
        BackupVaultName=NAME, **{k: v for k, v in lock.items() if v is not None}
    )


@pytest.fixture(scope="module")
def estate(moto_url: str) -> Cloud:
    """The compliant estate, built once; each break test undoes its break."""
    req = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")  # noqa: S310
    urllib.request.urlopen(req, timeout=10)  # noqa: S310 - loopback moto server
    c = Cloud(moto_url)
    build_estate(c)
    return c


@pytest.fixture
def cloud(estate: Cloud) -> Iterator[Cloud]:
    yield estate


def test_compliant_estate_passes_every_control(cloud: Cloud) -> None:
    results = cloud.verify()
    assert set(results) == set(verify_cloud.CONTROLS)
    bad = {k: r.reason for k, r in results.items() if r.status != "pass"}
    assert bad == {}


def _s3_images(c: Cloud) -> str:
    return f"{NAME}-images"


BREAKS: dict[str, tuple[str, Callable[[Cloud], None]]] = {
    "archive-sse-s3": (
        "cloud.archive_encryption",
        lambda c: c("s3").put_bucket_encryption(
            Bucket=f"{NAME}-images",
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        ),
    ),
    "archive-other-key": (
        "cloud.archive_encryption",
        lambda c: c("s3").put_bucket_encryption(
            Bucket=f"{NAME}-images",
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": c.ids["keys"]["ebs"],
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        ),
    ),
    "trail-bucket-sse-s3": (
        "cloud.bucket_encryption",
        lambda c: c("s3").put_bucket_encryption(
            Bucket=f"{NAME}-trail",
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        ),
    ),
    "lock-governance": (
        "cloud.archive_object_lock",
        lambda c: c("s3").put_object_lock_configuration(
            Bucket=f"{NAME}-images",
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 2555}},
            },
        ),
    ),
    "lock-one-day": (
        "cloud.archive_object_lock",
        lambda c: c("s3").put_object_lock_configuration(
            Bucket=f"{NAME}-images",
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
            },
        ),
    ),
    "tls-policy-deleted": (
        "cloud.tls_only",
        lambda c: c("s3").delete_bucket_policy(Bucket=f"{NAME}-access-logs"),
    ),
    "tls-policy-allows-http": (
        "cloud.tls_only",
        lambda c: c("s3").put_bucket_policy(
            Bucket=f"{NAME}-trail",
            Policy=_tls_only(f"{NAME}-trail").replace('"false"', '"true"'),
        ),
    ),
    "bucket-public-policy-allowed": (
        "cloud.public_access",
        lambda c: c("s3").put_public_access_block(
            Bucket=f"{NAME}-images",
            PublicAccessBlockConfiguration={**PAB, "BlockPublicPolicy": False},
        ),
    ),
    "account-pab-off": (
        "cloud.public_access",
        lambda c: c("s3control").put_public_access_block(
            AccountId=ACCOUNT,
            PublicAccessBlockConfiguration={**PAB, "RestrictPublicBuckets": False},
        ),
    ),
    "versioning-suspended": (
        "cloud.versioning",
        lambda c: c("s3").put_bucket_versioning(
            Bucket=f"{NAME}-access-logs", VersioningConfiguration={"Status": "Suspended"}
        ),
    ),
    "replication-deleted": (
        "cloud.archive_replication",
        lambda c: c("s3").delete_bucket_replication(Bucket=f"{NAME}-images"),
    ),
    "replication-skips-kms-objects": (
        "cloud.archive_replication",
        lambda c: c.ids.pop("replication_criteria"),
    ),
    "flow-log-deleted": (
        "cloud.flow_logs",
        lambda c: c("ec2").delete_flow_logs(FlowLogIds=[c.ids["flow_log"]]),
    ),
    "flow-log-retention-one-year": (
        "cloud.flow_logs",
        lambda c: c("logs").put_retention_policy(
            logGroupName=f"/radshield/{ENV}/vpc-flow-logs", retentionInDays=365
        ),
    ),
    "trail-stopped": ("cloud.trail", lambda c: c("cloudtrail").stop_logging(Name=NAME)),
    "trail-validation-off": (
        "cloud.trail",
        lambda c: c("cloudtrail").update_trail(Name=NAME, EnableLogFileValidation=False),
    ),
    "app-tier-internet-route": (
        "cloud.private_routes",
        lambda c: c("ec2").create_route(
            RouteTableId=c.ids["tables"]["app"],
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=c.ids["igw"],
        ),
    ),
    "data-tier-internet-route": (
        "cloud.private_routes",
        lambda c: c("ec2").create_route(
            RouteTableId=c.ids["tables"]["data"],
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=c.ids["igw"],
        ),
    ),
    "kms-endpoint-deleted": (
        "cloud.endpoints",
        lambda c: c("ec2").delete_vpc_endpoints(VpcEndpointIds=[c.ids["endpoints"]["kms"]]),
    ),
    "imdsv1-allowed": (
        "cloud.imdsv2",
        lambda c: c("ec2").modify_instance_metadata_options(
            InstanceId=c.ids["instance"], HttpTokens="optional"
        ),
    ),
    "vault-lock-deleted": (
        "cloud.vault_lock",
        lambda c: c("backup").delete_backup_vault_lock_configuration(BackupVaultName=NAME),
    ),
    "vault-lock-governance": (
        "cloud.vault_lock",
        lambda c: put_vault_lock(c, ChangeableForDays=None),
    ),
    "vault-max-one-day": (
        "cloud.vault_lock",
        lambda c: put_vault_lock(c, MinRetentionDays=1, MaxRetentionDays=1),
    ),
    "key-rotation-off": (
        "cloud.kms_rotation",
        lambda c: c("kms").disable_key_rotation(KeyId=c.ids["keys"]["archive"]),
    ),
}


def _bucket(short: str) -> Callable[[Cloud], None]:
    return lambda c: restore_bucket(c, short)


def _delete_route(tier: str) -> Callable[[Cloud], None]:
    return lambda c: c("ec2").delete_route(
        RouteTableId=c.ids["tables"][tier], DestinationCidrBlock="0.0.0.0/0"
    )


# How each break is undone, so one estate serves every case (building one takes seconds).
UNDO: dict[str, Callable[[Cloud], Any]] = {
    "archive-sse-s3": _bucket("images"),
    "archive-other-key": _bucket("images"),
    "trail-bucket-sse-s3": _bucket("trail"),
    "lock-governance": _bucket("images"),
    "lock-one-day": _bucket("images"),
    "tls-policy-deleted": _bucket("access-logs"),
    "tls-policy-allows-http": _bucket("trail"),
    "bucket-public-policy-allowed": _bucket("images"),
    "account-pab-off": put_account_pab,
    "versioning-suspended": _bucket("access-logs"),
    "replication-deleted": put_replication,
    "replication-skips-kms-objects": put_replication,
    "flow-log-deleted": create_flow_log,
    "flow-log-retention-one-year": put_flow_log_retention,
    "trail-stopped": lambda c: c("cloudtrail").start_logging(Name=NAME),
    "trail-validation-off": lambda c: c("cloudtrail").update_trail(
        Name=NAME, EnableLogFileValidation=True
    ),
    "app-tier-internet-route": _delete_route("app"),
    "data-tier-internet-route": _delete_route("data"),
    "kms-endpoint-deleted": lambda c: create_endpoint(c, "kms"),
    "imdsv1-allowed": lambda c: c("ec2").modify_instance_metadata_options(
        InstanceId=c.ids["instance"], HttpTokens="required"
    ),
    "vault-lock-deleted": put_vault_lock,
    "vault-lock-governance": put_vault_lock,
    "vault-max-one-day": put_vault_lock,
    "key-rotation-off": lambda c: c("kms").enable_key_rotation(KeyId=c.ids["keys"]["archive"]),
}


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_each_broken_property_is_found(cloud: Cloud, name: str) -> None:
    control, breaker = BREAKS[name]
    breaker(cloud)
    try:
        results = cloud.verify()
    finally:
        UNDO[name](cloud)
    failed = {k for k, r in results.items() if r.status != "pass"}
    assert failed == {control}, {k: results[k].reason for k in failed}
    assert results[control].status == "fail"


def test_every_control_has_a_breaking_case() -> None:
    assert {control for control, _ in BREAKS.values()} == set(verify_cloud.CONTROLS)
    assert set(UNDO) == set(BREAKS)


def test_estate_is_compliant_again_after_the_breaks(cloud: Cloud) -> None:
    assert {k: r.reason for k, r in cloud.verify().items() if r.status != "pass"} == {}


def _cli(cloud: Cloud, monkeypatch: Any, out: Path) -> int:
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(k, "testing")
    estate = cloud.estate()
    monkeypatch.setattr(verify_cloud, "Estate", lambda *a, **k: estate)
    argv = ["--environment", ENV, "--region", REGION, "--endpoint-url", cloud.url]
    return verify_cloud.main([*argv, "--out-dir", str(out)])


def test_cli_writes_report_json_and_html(cloud: Cloud, tmp_path: Path, monkeypatch: Any) -> None:
    cloud("kms").disable_key_rotation(KeyId=cloud.ids["keys"]["logs"])
    try:
        code = _cli(cloud, monkeypatch, tmp_path)
    finally:
        cloud("kms").enable_key_rotation(KeyId=cloud.ids["keys"]["logs"])
    assert code == 0  # kms rotation is "high", not critical
    report = json.loads((tmp_path / "report.json").read_text())
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(report, REPORT_SCHEMA)
    [row] = [r for r in report["results"] if r["status"] == "fail"]
    assert row["id"] == "cloud.kms_rotation" and row["host"] == f"aws:{ACCOUNT}:{REGION}:{ENV}"
    assert "cloud.kms_rotation" in (tmp_path / "report.html").read_text()
    assessment = json.loads((tmp_path / "cloud-assessment.json").read_text())
    assert assessment["kind"] == "radshield.assessment"


def test_critical_failure_exits_3(cloud: Cloud, tmp_path: Path, monkeypatch: Any) -> None:
    cloud("cloudtrail").stop_logging(Name=NAME)
    try:
        assert _cli(cloud, monkeypatch, tmp_path) == 3
    finally:
        cloud("cloudtrail").start_logging(Name=NAME)
