"""Security properties of the landing zone, checked on the dev and the prod stack under mocks.

Each test is a ``@pulumi.runtime.test`` and returns the Output whose value it checks: either an
output of the program's resources, or (``after_registration``) the inputs every resource sent
to the engine, as recorded by the mocks.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pulumi
import pytest
from infra_harness import ACCOUNT_ID, LoadedStack, Recorded, after_registration

BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ACCOUNT_PAB = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
SUBNET = "aws:ec2/subnet:Subnet"
INSTANCE = "aws:ec2/instance:Instance"
SG = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SG_RULES = (
    "aws:ec2/securityGroupRule:SecurityGroupRule",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
)
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
IGW = "aws:ec2/internetGateway:InternetGateway"
NACL_RULE = "aws:ec2/networkAclRule:NetworkAclRule"
NACL_ASSOC = "aws:ec2/networkAclAssociation:NetworkAclAssociation"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
KMS_KEY = "aws:kms/key:Key"
SSM_CORE = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
OPEN = {"0.0.0.0/0", "::/0"}


def _cfg(stack: LoadedStack, key: str) -> Any:
    return stack.config[f"radshield:{key}"]


def _policy(record: Recorded) -> dict[str, Any]:
    return json.loads(record.props["policy"])


def _by_sid(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"] if "Sid" in s}


def _buckets(stack: LoadedStack) -> dict[str, Recorded]:
    return {r.outputs["bucket"]: r for r in stack.mocks.of_type(BUCKET)}


def _for_bucket(stack: LoadedStack, typ: str) -> dict[str, Recorded]:
    return {r.props["bucket"]: r for r in stack.mocks.of_type(typ)}


# --------------------------------------------------------------------------- compute / PACS
@pulumi.runtime.test
def test_pacs_instance_requires_imdsv2(stack: LoadedStack) -> pulumi.Output[Any]:
    compute = stack.component("compute")
    if not _cfg(stack, "compute")["enabled"]:
        assert compute is None

        def no_instances() -> None:
            assert stack.mocks.of_type(INSTANCE) == []

        return after_registration(stack, no_instances)

    def check(options: Any) -> None:
        assert options["http_tokens"] == "required"
        assert options["http_endpoint"] == "enabled"
        assert options["http_put_response_hop_limit"] == 1

    return compute.instance.metadata_options.apply(check)


def _require_compute(stack: LoadedStack) -> Any:
    compute = stack.component("compute")
    if compute is None:
        pytest.skip(f"compute disabled in the {stack.name} stack")
    return compute


@pulumi.runtime.test
def test_pacs_volumes_encrypted_with_ebs_key(stack: LoadedStack) -> pulumi.Output[Any]:
    compute = _require_compute(stack)
    keys = stack.component("keys")

    def check(args: list[Any]) -> None:
        root, data_encrypted, data_key, ebs_key = args
        assert root["encrypted"] is True and root["kms_key_id"] == ebs_key
        assert data_encrypted is True and data_key == ebs_key
        assert ebs_key.startswith(f"arn:aws:kms:{stack.config['aws:region']}:{ACCOUNT_ID}:key/")

    return pulumi.Output.all(
        compute.instance.root_block_device,
        compute.data_volume.encrypted,
        compute.data_volume.kms_key_id,
        keys.ebs.arn,
    ).apply(check)


@pulumi.runtime.test
def test_pacs_reachable_only_from_on_prem_on_dicom_tls_and_https(
    stack: LoadedStack,
) -> pulumi.Output[Any]:
    compute = _require_compute(stack)
    on_prem = sorted(_cfg(stack, "onPremCidrs"))

    def check(args: list[Any]) -> None:
        public_ip, subnet_id, ingress = args
        assert public_ip is False
        assert subnet_id == "network-app-0-id", "PACS must sit in the app tier"
        assert sorted((r["from_port"], r["to_port"], r["protocol"]) for r in ingress) == [
            (443, 443, "tcp"),
            (2762, 2762, "tcp"),
        ]
        for rule in ingress:
            assert sorted(rule["cidr_blocks"]) == on_prem
            assert not rule.get("ipv6_cidr_blocks")

    return pulumi.Output.all(
        compute.instance.associate_public_ip_address,
        compute.instance.subnet_id,
        compute.security_group.ingress,
    ).apply(check)


@pulumi.runtime.test
def test_pacs_role_has_only_ssm_core(stack: LoadedStack) -> pulumi.Output[Any]:
    _require_compute(stack)

    def check() -> None:
        role = stack.mocks.one("aws:iam/role:Role", "compute-pacs-role")
        role_refs = {role.outputs["name"], "compute-pacs-role-id"}
        attached = [
            r.props["policyArn"]
            for r in stack.mocks.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
            if r.props["role"] in role_refs
        ]
        assert attached == [SSM_CORE]
        inline = [
            r
            for r in stack.mocks.of_type("aws:iam/rolePolicy:RolePolicy")
            if r.props["role"] in role_refs
        ]
        assert inline == []
        [profile] = stack.mocks.of_type("aws:iam/instanceProfile:InstanceProfile")
        assert profile.props["role"] in role_refs
        assert "managedPolicyArns" not in role.props and "inlinePolicies" not in role.props

    return after_registration(stack, check)


# ------------------------------------------------------------------------------ archive
@pulumi.runtime.test
def test_archive_sse_kms_with_archive_key(stack: LoadedStack) -> pulumi.Output[Any]:
    archive, keys = stack.component("archive"), stack.component("keys")

    def check(args: list[Any]) -> None:
        rules, key_arn = args
        assert len(rules) == 1
        default = rules[0]["apply_server_side_encryption_by_default"]
        assert default["sse_algorithm"] == "aws:kms"
        assert default["kms_master_key_id"] == key_arn
        assert rules[0]["bucket_key_enabled"] is True
        assert key_arn.endswith("key/key-keys-archive")

    return pulumi.Output.all(archive.images.encryption.rules, keys.archive.arn).apply(check)


@pulumi.runtime.test
def test_archive_object_lock_and_versioning(stack: LoadedStack) -> pulumi.Output[Any]:
    archive = stack.component("archive")
    lock_cfg = _cfg(stack, "objectLock")

    def check(args: list[Any]) -> None:
        enabled, lock_enabled, rule, versioning, tags = args
        assert enabled is True
        assert lock_enabled == "Enabled"
        assert rule["default_retention"]["mode"] == lock_cfg["mode"]
        assert rule["default_retention"]["days"] == lock_cfg["retentionDays"]
        assert versioning["status"] == "Enabled"
        assert tags["DataClass"] == "imaging"

    return pulumi.Output.all(
        archive.bucket.object_lock_enabled,
        archive.object_lock.object_lock_enabled,
        archive.object_lock.rule,
        archive.images.versioning.versioning_configuration,
        archive.bucket.tags,
    ).apply(check)


def test_stack_modes_differ_as_documented(stack: LoadedStack) -> None:
    expected = {"dev": "GOVERNANCE", "prod": "COMPLIANCE"}[stack.name]
    assert _cfg(stack, "objectLock")["mode"] == expected
    assert _cfg(stack, "compute")["enabled"] is (stack.name == "prod")


@pulumi.runtime.test
def test_archive_policy_is_tls_only_and_pins_the_archive_key(
    stack: LoadedStack,
) -> pulumi.Output[Any]:
    archive, keys = stack.component("archive"), stack.component("keys")

    def check(args: list[Any]) -> None:
        policy_json, bucket_arn, key_arn = args
        sids = _by_sid(json.loads(policy_json))
        tls = sids["DenyInsecureTransport"]
        assert tls["Effect"] == "Deny" and tls["Principal"] == "*" and tls["Action"] == "s3:*"
        assert tls["Resource"] == [bucket_arn, f"{bucket_arn}/*"]
        assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        sse = sids["DenyNonKmsEncryption"]
        assert sse["Effect"] == "Deny" and sse["Action"] == "s3:PutObject"
        assert sse["Condition"]["StringNotEqualsIfExists"] == {
            "s3:x-amz-server-side-encryption": "aws:kms"
        }
        other = sids["DenyOtherKmsKeys"]
        assert other["Effect"] == "Deny" and other["Action"] == "s3:PutObject"
        assert other["Condition"]["StringNotEqualsIfExists"] == {
            "s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn
        }
        assert not [s for s in sids.values() if s["Effect"] == "Allow"]

    return pulumi.Output.all(
        archive.images.policy.policy, archive.bucket.arn, keys.archive.arn
    ).apply(check)


@pulumi.runtime.test
def test_every_bucket_private_encrypted_versioned_and_tls_only(
    stack: LoadedStack,
) -> pulumi.Output[Any]:
    def check() -> None:
        buckets = _buckets(stack)
        # imaging archive, its access logs, trail logs (+ the DR replica in prod)
        assert len(buckets) == (4 if stack.name == "prod" else 3)
        sse = _for_bucket(stack, SSE)
        versioning = _for_bucket(stack, VERSIONING)
        pab = _for_bucket(stack, PAB)
        ownership = _for_bucket(stack, OWNERSHIP)
        policies = _for_bucket(stack, BUCKET_POLICY)
        for name, bucket in buckets.items():
            assert "acl" not in bucket.props and "grants" not in bucket.props
            default = sse[name].props["rules"][0]["applyServerSideEncryptionByDefault"]
            assert default["sseAlgorithm"] in ("aws:kms", "AES256")
            assert versioning[name].props["versioningConfiguration"]["status"] == "Enabled"
            for flag in (
                "blockPublicAcls",
                "blockPublicPolicy",
                "ignorePublicAcls",
                "restrictPublicBuckets",
            ):
                assert pab[name].props[flag] is True, (name, flag)
            assert ownership[name].props["rule"]["objectOwnership"] == "BucketOwnerEnforced"
            tls = _by_sid(_policy(policies[name]))["DenyInsecureTransport"]
            assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            assert tls["Resource"] == [bucket.outputs["arn"], bucket.outputs["arn"] + "/*"]
        assert stack.mocks.of_type(ACCOUNT_PAB) == []  # the account baseline stack's

    return after_registration(stack, check)


@pulumi.runtime.test
def test_archive_access_logging_and_lifecycle(stack: LoadedStack) -> pulumi.Output[Any]:
    archive = stack.component("archive")
    lc = _cfg(stack, "lifecycle")

    def check(args: list[Any]) -> None:
        target, log_bucket, log_rules, lifecycle = args
        assert target == log_bucket
        # S3 server access logs can only be delivered to an SSE-S3 bucket.
        log_default = log_rules[0]["apply_server_side_encryption_by_default"]
        assert log_default["sse_algorithm"] == "AES256"
        transitions = [(t["days"], t["storage_class"]) for t in lifecycle[0]["transitions"]]
        assert transitions == [
            (lc["standardIaDays"], "STANDARD_IA"),
            (lc["glacierIrDays"], "GLACIER_IR"),
            (lc["deepArchiveDays"], "DEEP_ARCHIVE"),
        ]
        assert lifecycle[0]["status"] == "Enabled"

    return pulumi.Output.all(
        archive.logging.target_bucket,
        archive.log_bucket.bucket,
        archive.logs.encryption.rules,
        archive.lifecycle.rules,
    ).apply(check)


# ------------------------------------------------------------------------------ network
@pulumi.runtime.test
def test_no_public_ips_anywhere(stack: LoadedStack) -> pulumi.Output[Any]:
    def check() -> None:
        subnets = stack.mocks.of_type(SUBNET)
        assert len(subnets) == 6
        assert {s.tags["Tier"] for s in subnets} == {"ingress", "app", "data"}
        for subnet in subnets:
            assert subnet.props["mapPublicIpOnLaunch"] is False, subnet.name
        for instance in stack.mocks.of_type(INSTANCE):
            assert instance.props["associatePublicIpAddress"] is False
        assert stack.mocks.of_type("aws:ec2/eip:Eip") == []

    return after_registration(stack, check)


@pulumi.runtime.test
def test_no_open_ingress_anywhere(stack: LoadedStack) -> pulumi.Output[Any]:
    def check() -> None:
        groups = stack.mocks.of_type(SG, DEFAULT_SG)
        assert groups
        for group in groups:
            for rule in group.props.get("ingress", []):
                cidrs = set(rule.get("cidrBlocks", [])) | set(rule.get("ipv6CidrBlocks", []))
                assert not cidrs & OPEN, (group.name, rule)
        for rule in stack.mocks.of_type(*SG_RULES):
            values = {rule.props.get("cidrIpv4"), rule.props.get("cidrIpv6")}
            values |= set(rule.props.get("cidrBlocks", []))
            assert not values & OPEN, rule.name

    return after_registration(stack, check)


@pulumi.runtime.test
def test_default_security_group_is_closed(stack: LoadedStack) -> pulumi.Output[Any]:
    network = stack.component("network")

    def check(vpc_id: str) -> None:
        [default] = stack.mocks.of_type(DEFAULT_SG)
        assert default.props["vpcId"] == vpc_id
        assert not default.props.get("ingress") and not default.props.get("egress")
        [default_acl] = stack.mocks.of_type("aws:ec2/defaultNetworkAcl:DefaultNetworkAcl")
        assert not default_acl.props.get("ingress") and not default_acl.props.get("egress")

    return network.vpc.id.apply(check)


@pulumi.runtime.test
def test_no_internet_route_from_app_or_data(stack: LoadedStack) -> pulumi.Output[Any]:
    network = stack.component("network")
    igw_expected = _cfg(stack, "ingressInternetGateway")

    def check(rt_ids: list[str]) -> None:
        ingress_rt, app_rt, data_rt = rt_ids
        for table in stack.mocks.of_type(ROUTE_TABLE):
            assert not table.props.get("routes"), "no inline routes"
        routes = stack.mocks.of_type(ROUTE)
        assert not [r for r in routes if r.props["routeTableId"] in (app_rt, data_rt)]
        igws = stack.mocks.of_type(IGW)
        assert len(igws) == (1 if igw_expected else 0)
        for route in routes:
            assert route.props["routeTableId"] == ingress_rt
        assert stack.mocks.of_type("aws:ec2/natGateway:NatGateway") == []

    return pulumi.Output.all(
        *(network.route_tables[t].id for t in ("ingress", "app", "data"))
    ).apply(check)


@pulumi.runtime.test
def test_network_acls_isolate_the_tiers(stack: LoadedStack) -> pulumi.Output[Any]:
    subnets = _cfg(stack, "subnets")
    on_prem = [ipaddress.ip_network(c) for c in _cfg(stack, "onPremCidrs")]

    def rules(tier: str, egress: bool) -> list[dict[str, Any]]:
        acl_id = f"network-{tier}-nacl-id"
        return [
            r.props
            for r in stack.mocks.of_type(NACL_RULE)
            if r.props["networkAclId"] == acl_id and r.props["egress"] is egress
        ]

    def check() -> None:
        for tier in ("ingress", "app", "data"):
            assocs = [
                r for r in stack.mocks.of_type(NACL_ASSOC) if r.name.startswith(f"network-{tier}-")
            ]
            assert {a.props["networkAclId"] for a in assocs} == {f"network-{tier}-nacl-id"}
            assert len(assocs) == 2
            for rule in rules(tier, False) + rules(tier, True):
                assert rule["ruleAction"] == "allow"
        # On-premises traffic enters the app tier only, and only DICOM TLS / HTTPS.
        for tier in ("ingress", "data"):
            for rule in rules(tier, False):
                net = ipaddress.ip_network(rule["cidrBlock"])
                assert not any(net.overlaps(o) and net.prefixlen > 0 for o in on_prem), rule
        app_from_onprem = {
            (r["fromPort"], r["toPort"])
            for r in rules("app", False)
            if ipaddress.ip_network(r["cidrBlock"]) in on_prem
        }
        assert app_from_onprem == {(443, 443), (2762, 2762)}
        # The data tier admits the ingress tier on HTTPS (interface endpoints) only.
        data_from_ingress = [
            r for r in rules("data", False) if r["cidrBlock"] in subnets["ingress"]
        ]
        assert {(r["protocol"], r["fromPort"], r["toPort"]) for r in data_from_ingress} == {
            ("6", 443, 443)
        }

    return after_registration(stack, check)


@pulumi.runtime.test
def test_flow_logs_capture_all_traffic_to_encrypted_group(stack: LoadedStack) -> pulumi.Output[Any]:
    network, keys = stack.component("network"), stack.component("keys")

    def check(args: list[Any]) -> None:
        vpc_id, group_arn, group_key, retention, logs_key = args
        [flow] = stack.mocks.of_type("aws:ec2/flowLog:FlowLog")
        assert flow.props["trafficType"] == "ALL"
        assert flow.props["vpcId"] == vpc_id
        assert flow.props["logDestinationType"] == "cloud-watch-logs"
        assert flow.props["logDestination"] == group_arn
        assert group_key == logs_key
        assert retention == _cfg(stack, "logRetentionDays")

    return pulumi.Output.all(
        network.vpc.id,
        network.flow_log_group.arn,
        network.flow_log_group.kms_key_id,
        network.flow_log_group.retention_in_days,
        keys.logs.arn,
    ).apply(check)


@pulumi.runtime.test
def test_vpc_endpoints(stack: LoadedStack) -> pulumi.Output[Any]:
    region = stack.config["aws:region"]

    def check() -> None:
        endpoints = {r.props["serviceName"]: r.props for r in stack.mocks.of_type(ENDPOINT)}
        s3 = endpoints.pop(f"com.amazonaws.{region}.s3")
        assert s3["vpcEndpointType"] == "Gateway"
        assert len(s3["routeTableIds"]) == 3
        expected = {
            "kms",
            "logs",
            "ssm",
            "ssmmessages",
            "ec2messages",
            "medical-imaging",
            "runtime-medical-imaging",
            "dicom-medical-imaging",
        }
        assert set(endpoints) == {f"com.amazonaws.{region}.{s}" for s in expected}
        for props in endpoints.values():
            assert props["vpcEndpointType"] == "Interface"
            assert props["privateDnsEnabled"] is True
            assert props["subnetIds"] == ["network-data-0-id", "network-data-1-id"]

    return after_registration(stack, check)


# ------------------------------------------------------------------------ keys and audit
@pulumi.runtime.test
def test_kms_keys_rotate_and_name_their_users(stack: LoadedStack) -> pulumi.Output[Any]:
    region = stack.config["aws:region"]

    def check() -> None:
        keys = {r.tags["Purpose"]: r.props for r in stack.mocks.of_type(KMS_KEY)}
        keys.pop("archive-dr", None), keys.pop("backup-dr", None)
        assert set(keys) == {"archive", "logs", "backup", "ebs"}
        for purpose, props in keys.items():
            assert props["enableKeyRotation"] is True, purpose
            sids = _by_sid(json.loads(props["policy"]))
            admin = sids["KeyAdministrationByAccount"]
            assert admin["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
            for statement in sids.values():
                assert statement["Principal"] != "*" and statement["Principal"] != {"AWS": "*"}
        logs = _by_sid(json.loads(keys["logs"]["policy"]))
        assert logs["CloudWatchLogsUse"]["Principal"] == {"Service": f"logs.{region}.amazonaws.com"}
        via = _by_sid(json.loads(keys["archive"]["policy"]))["S3Use"]["Condition"]
        assert via["StringEquals"]["kms:ViaService"] == f"s3.{region}.amazonaws.com"

    return after_registration(stack, check)


@pulumi.runtime.test
def test_cloudtrail_multi_region_validated_encrypted_with_archive_data_events(
    stack: LoadedStack,
) -> pulumi.Output[Any]:
    audit, archive, keys = (stack.component(n) for n in ("audit", "archive", "keys"))

    def check(args: list[Any]) -> pulumi.Output[None]:
        multi, validation, kms, bucket, archive_arn, logs_key, trail_bucket = args
        assert multi is True and validation is True
        assert kms == logs_key
        assert bucket == trail_bucket

        def check_selectors(selectors: list[Any]) -> None:
            [selector] = selectors
            assert selector["read_write_type"] == "All"
            assert selector["include_management_events"] is False
            [data] = selector["data_resources"]
            assert data["type"] == "AWS::S3::Object"
            assert data["values"] == [f"{archive_arn}/"]

        # Kept out of Output.all: its typed value has a `values` key that Output.all mistakes
        # for dict.values.
        return trail.event_selectors.apply(check_selectors)

    trail = audit.trail
    return pulumi.Output.all(
        trail.is_multi_region_trail,
        trail.enable_log_file_validation,
        trail.kms_key_id,
        trail.s3_bucket_name,
        archive.bucket.arn,
        keys.logs.arn,
        audit.trail_bucket.bucket,
    ).apply(check)


# ------------------------------------------------------------------------------ backup / VPN
@pulumi.runtime.test
def test_backup_vault_locked_plan_retention_and_tag_selection(
    stack: LoadedStack,
) -> pulumi.Output[Any]:
    backup, keys = stack.component("backup"), stack.component("keys")
    cfg = _cfg(stack, "backup")

    def check(args: list[Any]) -> None:
        vault_key, backup_key, rules = args
        assert vault_key == backup_key
        assert rules[0]["lifecycle"]["delete_after"] == cfg["retentionDays"]
        lock = stack.mocks.one(
            "aws:backup/vaultLockConfiguration:VaultLockConfiguration", "backup-vault-lock"
        )
        assert lock.props["minRetentionDays"] == cfg["vaultMinRetentionDays"]
        assert lock.props.get("changeableForDays") == cfg.get("vaultChangeableForDays")
        [selection] = stack.mocks.of_type("aws:backup/selection:Selection")
        [tag] = selection.props["selectionTags"]
        assert (tag["type"], tag["key"], tag["value"]) == (
            "STRINGEQUALS",
            "Backup",
            "radshield-pacs",
        )
        for volume in stack.mocks.of_type("aws:ebs/volume:Volume", INSTANCE):
            assert volume.tags["Backup"] == "radshield-pacs"

    return pulumi.Output.all(backup.vault.kms_key_arn, keys.backup.arn, backup.plan.rules).apply(
        check
    )


@pulumi.runtime.test
def test_vpn_two_tunnels_static_routes_to_app_tier_only(stack: LoadedStack) -> pulumi.Output[Any]:
    network, connectivity = stack.component("network"), stack.component("connectivity")

    def check(args: list[Any]) -> None:
        app_rt, vgw_id, vpn_id = args
        [vpn] = stack.mocks.of_type("aws:ec2/vpnConnection:VpnConnection")
        assert vpn.props["vpnGatewayId"] == vgw_id
        assert vpn.props["staticRoutesOnly"] is True
        for n in (1, 2):
            assert vpn.props[f"tunnel{n}IkeVersions"] == ["ikev2"]
            assert "AES256" in vpn.props[f"tunnel{n}Phase1EncryptionAlgorithms"]
            assert "AES256" in vpn.props[f"tunnel{n}Phase2EncryptionAlgorithms"]
        routes = stack.mocks.of_type("aws:ec2/vpnConnectionRoute:VpnConnectionRoute")
        assert sorted(r.props["destinationCidrBlock"] for r in routes) == sorted(
            _cfg(stack, "onPremCidrs")
        )
        assert {r.props["vpnConnectionId"] for r in routes} == {vpn_id}
        props = stack.mocks.of_type("aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation")
        assert [p.props["routeTableId"] for p in props] == [app_rt]
        for route in stack.mocks.of_type(ROUTE):
            assert route.props.get("gatewayId") != vgw_id or route.props["routeTableId"] == app_rt

    return pulumi.Output.all(
        network.route_tables["app"].id,
        connectivity.vpn_gateway.id,
        connectivity.vpn_connection.id,
    ).apply(check)


# --------------------------------------------------------------------------- policy pack
@pulumi.runtime.test
def test_policy_pack_accepts_the_landing_zone(stack: LoadedStack) -> pulumi.Output[Any]:
    import radshield_policies
    from pulumi_policy import StackValidationArgs

    def check() -> None:
        resources = list(stack.mocks)
        # Resource policies see inputs; the stack policy sees the outputs after create.
        inputs = [_as_policy_resource(r, r.props) for r in resources]
        # Outputs carry the provider id, which references such as routeTableId name.
        outputs = [_as_policy_resource(r, {**r.outputs, "id": r.id}) for r in resources]
        violations = radshield_policies.run_all(inputs, lambda _: StackValidationArgs(outputs))
        assert violations == []

    return after_registration(stack, check)


def _as_policy_resource(record: Recorded, props: dict[str, Any]) -> Any:
    from pulumi_policy import PolicyResource, PolicyResourceOptions

    opts = PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        additional_secret_outputs=[],
        custom_timeouts=None,
    )
    return PolicyResource(
        record.resource_type, props, record.urn, record.name, opts, None, None, [], {}
    )


@pulumi.runtime.test
def test_resource_count(stack: LoadedStack) -> pulumi.Output[Any]:
    def check() -> None:
        aws_resources = [r for r in stack.mocks if r.resource_type.startswith("aws:")]
        # Printed with `pytest -s`; guards against a component silently declaring nothing.
        print(f"\n{stack.name}: {len(aws_resources)} AWS resources")
        assert len(aws_resources) > 100

    return after_registration(stack, check)


@pulumi.runtime.test
def test_policy_pack_accepts_the_landing_zone_through_the_engine(
    stack: LoadedStack,
) -> pulumi.Output[Any]:
    """The same pack, called as the engine calls it (gRPC servicer, Struct properties)."""
    from policy_engine import Res, analyze, analyze_stack, engine_mode

    def check() -> None:
        records = [r for r in stack.mocks if r.resource_type.startswith("aws:")]
        with engine_mode(preview=False):
            for record in records:
                found = analyze(Res(record.resource_type, record.props, record.name, stack.name))
                assert found == [], (record.name, found)
            outputs = [
                Res(r.resource_type, {**r.outputs, "id": r.id}, r.name, stack.name) for r in records
            ]
            assert analyze_stack(outputs) == []

    return after_registration(stack, check)
