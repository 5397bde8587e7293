"""The policy pack under the engine's calling convention, with values unknown during preview.

Every insecure resource below has some values the engine cannot know during a first preview
(ids, ARNs, names); each must still be REFUSED (a MANDATORY diagnostic), never turned into the
ADVISORY "can't run policy during preview" note. The compliant twins, with the same unknowns,
pass silently during preview; outside a preview an unknown security value is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from policy_engine import (
    UNKNOWN,
    Res,
    advisories,
    analyze,
    analyze_stack,
    engine_mode,
    refused,
)

BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
TRAIL = "aws:cloudtrail/trail:Trail"
VAULT = "aws:backup/vault:Vault"
VAULT_LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
DETECTOR = "aws:guardduty/detector:Detector"
SG = "aws:ec2/securityGroup:SecurityGroup"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
NACL_RULE = "aws:ec2/networkAclRule:NetworkAclRule"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KEY = "aws:kms/key:Key"
VPN = "aws:ec2/vpnConnection:VpnConnection"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE = "aws:ec2/route:Route"
IGW = "aws:ec2/internetGateway:InternetGateway"
PAB = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
TLS_ONLY = (
    '{"Statement": [{"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",'
    ' "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],'
    ' "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}'
)


@pytest.fixture(autouse=True)
def preview() -> Iterator[None]:
    with engine_mode(preview=True):
        yield


def _strong_vpn(**override: Any) -> dict[str, Any]:
    props: dict[str, Any] = {"vpnGatewayId": UNKNOWN, "customerGatewayId": UNKNOWN}
    for n in (1, 2):
        props |= {
            f"tunnel{n}IkeVersions": ["ikev2"],
            f"tunnel{n}Phase1EncryptionAlgorithms": ["AES256", "AES256-GCM-16"],
            f"tunnel{n}Phase2EncryptionAlgorithms": ["AES256", "AES256-GCM-16"],
            f"tunnel{n}Phase1IntegrityAlgorithms": ["SHA2-256", "SHA2-384"],
            f"tunnel{n}Phase2IntegrityAlgorithms": ["SHA2-256", "SHA2-384"],
            f"tunnel{n}Phase1DhGroupNumbers": [20, 21],
            f"tunnel{n}Phase2DhGroupNumbers": [20, 21],
        }
    return props | override


GOOD_TRAIL = {
    "s3BucketName": UNKNOWN,
    "kmsKeyId": UNKNOWN,
    "enableLogging": True,
    "enableLogFileValidation": True,
    "isMultiRegionTrail": True,
}
GOOD_LOCK = {
    "bucket": UNKNOWN,
    "objectLockEnabled": "Enabled",
    "rule": {"defaultRetention": {"mode": "COMPLIANCE", "days": 2555}},
}
GOOD_VAULT_LOCK = {
    "backupVaultName": UNKNOWN,
    "minRetentionDays": 7,
    "maxRetentionDays": 3650,
    "changeableForDays": 3,
}
GOOD_NACL = {
    "networkAclId": UNKNOWN,
    "ruleNumber": 100,
    "egress": False,
    "protocol": "6",
    "ruleAction": "allow",
    "cidrBlock": "0.0.0.0/0",
    "fromPort": 1024,
    "toPort": 65535,
}

# (policy, insecure resource, its compliant twin): each stated aim of the landing zone.
RESOURCE_CASES = [
    ("cloudtrail", Res(TRAIL, GOOD_TRAIL | {"enableLogging": False}), Res(TRAIL, GOOD_TRAIL)),
    (
        "object-lock-retention",
        Res(LOCK, GOOD_LOCK | {"rule": {"defaultRetention": {"mode": "GOVERNANCE", "days": 2555}}}),
        Res(LOCK, GOOD_LOCK),
    ),
    (
        "object-lock-retention",
        Res(LOCK, GOOD_LOCK | {"rule": {"defaultRetention": {"mode": "COMPLIANCE", "days": 1}}}),
        Res(LOCK, GOOD_LOCK),
    ),
    (
        "backup-vault-lock",
        Res(VAULT_LOCK, {k: v for k, v in GOOD_VAULT_LOCK.items() if k != "changeableForDays"}),
        Res(VAULT_LOCK, GOOD_VAULT_LOCK),
    ),
    (
        "backup-vault-lock",
        Res(VAULT_LOCK, GOOD_VAULT_LOCK | {"maxRetentionDays": 1}),
        Res(VAULT_LOCK, GOOD_VAULT_LOCK),
    ),
    (
        "guardduty-enabled",
        Res(DETECTOR, {"enable": False, "findingPublishingFrequency": "FIFTEEN_MINUTES"}),
        Res(DETECTOR, {"enable": True, "findingPublishingFrequency": "FIFTEEN_MINUTES"}),
    ),
    (
        "no-open-egress",
        Res(
            SG,
            {
                "vpcId": UNKNOWN,
                "egress": [
                    {"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}
                ],
            },
        ),
        Res(
            SG,
            {
                "vpcId": UNKNOWN,
                "egress": [
                    {"protocol": "tcp", "fromPort": 443, "toPort": 443, "prefixListIds": [UNKNOWN]}
                ],
            },
        ),
    ),
    (
        "no-open-egress",
        Res(EGRESS_RULE, {"securityGroupId": UNKNOWN, "cidrIpv4": "0.0.0.0/0"}),
        Res(EGRESS_RULE, {"securityGroupId": UNKNOWN, "cidrIpv4": "10.0.0.0/16"}),
    ),
    (
        "nacl-no-open-inbound",
        Res(NACL_RULE, GOOD_NACL | {"protocol": "-1", "fromPort": 0, "toPort": 0}),
        Res(NACL_RULE, GOOD_NACL),
    ),
    (
        "log-group-kms",
        Res(LOG_GROUP, {"name": "/radshield/prod/vpc-flow-logs", "retentionInDays": 2192}),
        Res(LOG_GROUP, {"name": UNKNOWN, "retentionInDays": 2192, "kmsKeyId": UNKNOWN}),
    ),
    (
        "kms-key",
        Res(KEY, {"enableKeyRotation": True, "deletionWindowInDays": 7, "policy": UNKNOWN}),
        Res(KEY, {"enableKeyRotation": True, "deletionWindowInDays": 30, "policy": UNKNOWN}),
    ),
    (
        "vpn-strong-crypto",
        Res(VPN, _strong_vpn(tunnel1Phase1EncryptionAlgorithms=["AES256", "AES128"])),
        Res(VPN, _strong_vpn()),
    ),
    (
        "vpn-strong-crypto",
        Res(VPN, _strong_vpn(tunnel2Phase2IntegrityAlgorithms=["SHA2-256", "SHA1"])),
        Res(VPN, _strong_vpn()),
    ),
    (
        "vpn-strong-crypto",
        Res(VPN, _strong_vpn(tunnel1Phase1DhGroupNumbers=[2, 20])),
        Res(VPN, _strong_vpn()),
    ),
]


@pytest.mark.parametrize(
    ("policy", "bad", "good"),
    RESOURCE_CASES,
    ids=[f"{p}-{i}" for i, (p, _, _) in enumerate(RESOURCE_CASES)],
)
def test_insecure_resource_refused_during_preview_despite_unknowns(
    policy: str, bad: Res, good: Res
) -> None:
    found = analyze(bad)
    assert policy in refused(found), found
    assert advisories(found) == [], "an unknown value downgraded a policy to advisory"
    assert analyze(good) == []


def _imaging_bucket(algorithm: str) -> list[Res]:
    bucket = Res(BUCKET, {"bucket": UNKNOWN, "tags": {"DataClass": "imaging"}}, name="images")
    dep = {"bucket": [bucket]}
    default = {"sseAlgorithm": algorithm, "kmsMasterKeyId": UNKNOWN}
    return [
        bucket,
        Res(
            SSE,
            {"bucket": UNKNOWN, "rules": [{"applyServerSideEncryptionByDefault": default}]},
            "images-sse",
            property_dependencies=dep,
        ),
        Res(
            VERSIONING,
            {"bucket": UNKNOWN, "versioningConfiguration": {"status": "Enabled"}},
            "images-versioning",
            property_dependencies=dep,
        ),
        Res(LOCK, GOOD_LOCK, "images-lock", property_dependencies=dep),
        Res(
            POLICY,
            {"bucket": UNKNOWN, "policy": TLS_ONLY},
            "images-policy",
            property_dependencies=dep,
        ),
    ]


def _vpc(with_flow_log: bool, app_route_to_igw: bool) -> list[Res]:
    vpc = Res(VPC, {"cidrBlock": "10.60.0.0/16"}, "vpc")
    igw = Res(IGW, {"vpcId": UNKNOWN}, "igw", property_dependencies={"vpcId": [vpc]})
    app = Res(ROUTE_TABLE, {"vpcId": UNKNOWN, "tags": {"Tier": "app"}}, "app-rt")
    ingress = Res(ROUTE_TABLE, {"vpcId": UNKNOWN, "tags": {"Tier": "ingress"}}, "ingress-rt")
    table = app if app_route_to_igw else ingress
    route = Res(
        ROUTE,
        {"routeTableId": UNKNOWN, "destinationCidrBlock": "0.0.0.0/0", "gatewayId": UNKNOWN},
        "default-route",
        property_dependencies={"routeTableId": [table], "gatewayId": [igw]},
    )
    resources = [vpc, igw, app, ingress, route]
    if with_flow_log:
        resources.append(
            Res(
                FLOW_LOG,
                {"vpcId": UNKNOWN, "trafficType": "ALL", "logDestination": UNKNOWN},
                "flow-log",
                property_dependencies={"vpcId": [vpc]},
            )
        )
    return resources


def _vault(locked: bool) -> list[Res]:
    vault = Res(VAULT, {"name": "radshield-prod", "kmsKeyArn": UNKNOWN}, "vault")
    resources = [vault]
    if locked:
        resources.append(
            Res(
                VAULT_LOCK,
                GOOD_VAULT_LOCK,
                "vault-lock",
                property_dependencies={"backupVaultName": [vault]},
            )
        )
    return resources


STACK_CASES = [
    ("s3-bucket-encrypted", _imaging_bucket("AES256"), _imaging_bucket("aws:kms")),
    ("s3-tls-only", _imaging_bucket("aws:kms")[:-1], _imaging_bucket("aws:kms")),
    ("vpc-flow-logs", _vpc(False, False), _vpc(True, False)),
    ("no-internet-route-private-tiers", _vpc(True, True), _vpc(True, False)),
    ("backup-vault-locked", _vault(False), _vault(True)),
    (
        "guardduty-in-baseline",
        [Res(PAB, {f: True for f in ("blockPublicAcls", "blockPublicPolicy")}, "pab")],
        [
            Res(PAB, {f: True for f in ("blockPublicAcls", "blockPublicPolicy")}, "pab"),
            Res(DETECTOR, {"enable": True}, "detector"),
        ],
    ),
]


@pytest.mark.parametrize(("policy", "bad", "good"), STACK_CASES, ids=[c[0] for c in STACK_CASES])
def test_insecure_stack_refused_during_preview_despite_unknowns(
    policy: str, bad: list[Res], good: list[Res]
) -> None:
    found = analyze_stack(bad)
    assert policy in refused(found), found
    assert advisories(found) == [], "an unknown value downgraded a policy to advisory"
    good_found = [d for d in analyze_stack(good) if d.policy == policy]
    assert good_found == []


def test_unknown_security_value_is_refused_at_update() -> None:
    """What preview had to let pass (unknown) is re-checked at ``up`` and refused if unresolved."""
    lock = Res(LOCK, GOOD_LOCK | {"rule": {"defaultRetention": {"mode": UNKNOWN, "days": 2555}}})
    assert analyze(lock) == []
    with engine_mode(preview=False):
        found = analyze(lock)
    assert "object-lock-retention" in refused(found) and advisories(found) == []


def test_resolved_values_at_update_pass() -> None:
    good = Res(TRAIL, GOOD_TRAIL | {"s3BucketName": "trail", "kmsKeyId": "arn:aws:kms:k"})
    with engine_mode(preview=False):
        assert analyze(good) == []
        assert analyze(Res(TRAIL, GOOD_TRAIL | {"kmsKeyId": ""})) != []


def test_dev_stack_may_use_governance_and_short_retention() -> None:
    lock = Res(
        LOCK,
        GOOD_LOCK | {"rule": {"defaultRetention": {"mode": "GOVERNANCE", "days": 7}}},
        stack="dev",
    )
    assert analyze(lock) == []


# ------------------------------------------------- cases found by the mutation run (policy)
def _route_table(tier: str, name: str, **props: Any) -> Res:
    return Res(ROUTE_TABLE, {"vpcId": "vpc-1", "tags": {"Tier": tier}, **props}, name)


def _route(table: Res, **target: Any) -> Res:
    props = {"routeTableId": "rtb-" + table.name, "destinationCidrBlock": "0.0.0.0/0", **target}
    return Res(ROUTE, props, f"route-{table.name}", property_dependencies={"routeTableId": [table]})


ROUTE_CASES = {
    # ingress first: the private table after it must still be checked
    "igw-by-id-after-ingress": lambda: [
        (i := _route_table("ingress", "ingress")),
        _route(i, gatewayId="igw-0aa"),
        (a := _route_table("app", "app")),
        _route(a, gatewayId="igw-0aa"),
    ],
    "nat-gateway": lambda: [(a := _route_table("data", "data")), _route(a, natGatewayId="nat-0b")],
    "egress-only-ipv6": lambda: [
        (a := _route_table("app", "app")),
        Res(
            ROUTE,
            {
                "routeTableId": "rtb-app",
                "destinationIpv6CidrBlock": "::/0",
                "egressOnlyGatewayId": "eigw-1",
            },
            "route-v6",
            property_dependencies={"routeTableId": [a]},
        ),
    ],
    "inline-route": lambda: [
        _route_table("app", "app", routes=[{"cidrBlock": "0.0.0.0/0", "gatewayId": "igw-0aa"}])
    ],
    "untagged-table-is-private": lambda: [
        (t := Res(ROUTE_TABLE, {"vpcId": "vpc-1"}, "untagged")),
        _route(t, gatewayId="igw-0aa"),
    ],
}


@pytest.mark.parametrize("case", sorted(ROUTE_CASES))
def test_internet_routes_on_private_tables_refused(case: str) -> None:
    with engine_mode(preview=False):
        found = analyze_stack(ROUTE_CASES[case]())
    assert "no-internet-route-private-tiers" in refused(found), found
    assert len([d for d in found if d.policy == "no-internet-route-private-tiers"]) == 1


def test_ingress_table_and_private_routes_to_gateways_pass() -> None:
    i, a = _route_table("ingress", "ingress"), _route_table("app", "app")
    resources = [i, _route(i, gatewayId="igw-0aa"), a, _route(a, gatewayId="vgw-1")]
    with engine_mode(preview=False):
        assert analyze_stack(resources) == []


def test_route_of_an_unresolved_table_is_refused_at_update() -> None:
    app = _route_table("app", "app")
    route = Res(
        ROUTE,
        {"routeTableId": UNKNOWN, "destinationCidrBlock": "0.0.0.0/0", "gatewayId": "igw-0aa"},
        "r",
    )
    assert analyze_stack([app, route]) == []  # preview: re-checked at update
    with engine_mode(preview=False):
        assert "no-internet-route-private-tiers" in refused(analyze_stack([app, route]))


def test_every_bucket_is_checked_after_one_without_sse() -> None:
    bare = Res(BUCKET, {"bucket": "a", "tags": {}}, "a")
    images = _imaging_bucket("AES256")
    for r in images:  # all known, as at update
        r.props = json.loads(json.dumps(r.props).replace(f'"{UNKNOWN}"', '"images"'))
    with engine_mode(preview=False):
        found = [d for d in analyze_stack([bare, *images]) if d.policy == "s3-bucket-encrypted"]
    messages = " ".join(d.message for d in found)
    assert "a: bucket has an SSE configuration" in messages
    assert "images: imaging SSE-KMS (got 'AES256')" in messages


EXTRA_RESOURCE_CASES = [
    # a missing number must be refused, not crash into a pass (TypeError on comparison)
    (
        "backup-vault-lock",
        Res(VAULT_LOCK, {k: v for k, v in GOOD_VAULT_LOCK.items() if k != "minRetentionDays"}),
    ),
    ("no-open-egress", Res(SG, {"vpcId": UNKNOWN, "egress": UNKNOWN})),
    (
        "no-open-ingress",
        Res(
            "aws:ec2/securityGroupRule:SecurityGroupRule",
            {"type": UNKNOWN, "cidrBlocks": ["0.0.0.0/0"]},
        ),
    ),
    (
        "s3-no-public-access",
        Res(
            BUCKET,
            {
                "grants": [
                    {"type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers"}
                ]
            },
        ),
    ),
    (
        "object-lock-retention",
        Res(LOCK, GOOD_LOCK | {"rule": {"defaultRetention": {"mode": "COMPLIANCE", "years": 1}}}),
    ),
]


@pytest.mark.parametrize(
    ("policy", "bad"), EXTRA_RESOURCE_CASES, ids=[c[0] for c in EXTRA_RESOURCE_CASES]
)
def test_more_insecure_resources_refused_at_update(policy: str, bad: Res) -> None:
    with engine_mode(preview=False):
        found = analyze(bad)
    assert policy in refused(found) and advisories(found) == [], found


@pytest.mark.parametrize(
    "good",
    [
        Res(
            LOCK, {"bucket": "b", "rule": {"defaultRetention": {"mode": "COMPLIANCE", "years": 7}}}
        ),
        Res(
            NACL_RULE,
            GOOD_NACL | {"ruleAction": "deny", "protocol": "-1", "fromPort": 0, "toPort": 0},
        ),
        Res(NACL_RULE, GOOD_NACL | {"egress": True, "protocol": "-1", "fromPort": 0, "toPort": 0}),
        Res(LOG_GROUP, {"name": "g", "kmsKeyId": "arn:aws:kms:k", "retentionInDays": 0}),
        Res(KEY, {"enableKeyRotation": True}),
        Res(TRAIL, GOOD_TRAIL | {"kmsKeyId": "k", "s3BucketName": "b"} | {"enableLogging": None}),
    ],
    ids=[
        "lock-years",
        "nacl-deny",
        "nacl-egress",
        "logs-never-expire",
        "kms-default-window",
        "trail-default-logging",
    ],
)
def test_compliant_variants_pass_at_update(good: Res) -> None:
    props = {k: v for k, v in good.props.items() if v is not None}
    with engine_mode(preview=False):
        assert analyze(Res(good.type, props, good.name, good.stack)) == []


def test_imaging_bucket_with_inline_lock_is_locked() -> None:
    images = _imaging_bucket("aws:kms")
    bucket = Res(
        BUCKET,
        {"bucket": "images", "tags": {"DataClass": "imaging"}, "objectLockEnabled": True},
        "images",
    )
    rest = [r for r in images[1:] if r.type != LOCK]
    for r in rest:
        r.property_dependencies = {"bucket": [bucket]}
    with engine_mode(preview=False):
        found = analyze_stack([bucket, *rest])
    assert "imaging-bucket-integrity" not in refused(found), found


@pytest.mark.parametrize(
    ("stack", "days"), [("dev", 30), ("prod", 365)], ids=["dev-30-days", "prod-one-year"]
)
def test_short_log_retention_refused(stack: str, days: int) -> None:
    group = Res(
        LOG_GROUP, {"name": "g", "kmsKeyId": "arn:aws:kms:k", "retentionInDays": days}, stack=stack
    )
    assert "log-group-kms" in refused(analyze(group))


def test_route_with_unknown_gateway_on_private_table_refused_at_update() -> None:
    app = _route_table("app", "app")
    resources = [app, _route(app, gatewayId=UNKNOWN)]
    assert analyze_stack(resources) == []  # preview: re-checked at update
    with engine_mode(preview=False):
        assert "no-internet-route-private-tiers" in refused(analyze_stack(resources))
