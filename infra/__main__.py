"""radshield landing zone: read and validate the stack config, then wire the components."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
from radshield_infra.archive import Archive, ArchiveArgs
from radshield_infra.audit import Audit, AuditArgs
from radshield_infra.backup import Backup, BackupArgs
from radshield_infra.common import AccountInfo
from radshield_infra.compute import Compute, ComputeArgs
from radshield_infra.config import ConfigValidationError, read_engine_config, validate_config
from radshield_infra.connectivity import Connectivity, ConnectivityArgs
from radshield_infra.dr import DisasterRecovery, DisasterRecoveryArgs
from radshield_infra.keys import Keys, KeysArgs
from radshield_infra.network import Network, NetworkArgs

try:
    # The WHOLE radshield namespace from PULUMI_CONFIG: pulumi.Config cannot list keys, so a
    # misspelt key would otherwise be ignored instead of refused.
    conf = validate_config(read_engine_config())
except ConfigValidationError as exc:
    raise pulumi.RunError(str(exc)) from exc

identity = aws.get_caller_identity()
partition = aws.get_partition()
account = AccountInfo(
    account_id=identity.account_id, region=conf.region, partition=partition.partition
)
tags = dict(conf.tags)
env = conf.environment

keys = Keys(
    "keys",
    KeysArgs(
        environment=env,
        account=account,
        deletion_window_days=conf.kms_deletion_window_days,
        tags=tags,
    ),
)

network = Network(
    "network",
    NetworkArgs(
        environment=env,
        account=account,
        vpc_cidr=conf.vpc_cidr,
        availability_zones=conf.availability_zones,
        subnets=conf.subnets,
        on_prem_cidrs=conf.on_prem_cidrs,
        logs_key_arn=keys.logs.arn,
        log_retention_days=conf.log_retention_days,
        ingress_internet_gateway=conf.ingress_internet_gateway,
        tags=tags,
    ),
)

archive = Archive(
    "archive",
    ArchiveArgs(
        environment=env,
        account=account,
        archive_key_arn=keys.archive.arn,
        object_lock_mode=conf.object_lock.mode,
        object_lock_retention_days=conf.object_lock.retention_days,
        standard_ia_days=conf.lifecycle.standard_ia_days,
        glacier_ir_days=conf.lifecycle.glacier_ir_days,
        deep_archive_days=conf.lifecycle.deep_archive_days,
        tags=tags,
    ),
)

audit = Audit(
    "audit",
    AuditArgs(
        environment=env,
        account=account,
        logs_key_arn=keys.logs.arn,
        archive_bucket_arn=archive.bucket.arn,
        tags=tags,
    ),
)

dr: DisasterRecovery | None = None
if conf.dr_region:
    dr = DisasterRecovery(
        "dr",
        DisasterRecoveryArgs(
            environment=env,
            account=account,
            dr_region=conf.dr_region,
            source_bucket_arn=archive.bucket.arn,
            source_bucket_id=archive.bucket.id,
            source_key_arn=keys.archive.arn,
            source_versioning=archive.images.versioning,
            object_lock_mode=conf.object_lock.mode,
            object_lock_retention_days=conf.object_lock.retention_days,
            vault_min_retention_days=conf.backup.vault_min_retention_days,
            vault_max_retention_days=conf.backup.vault_max_retention_days,
            vault_changeable_for_days=conf.backup.vault_changeable_for_days,
            tags=tags,
        ),
    )
    pulumi.export("dr_replica_bucket", dr.replica_bucket.bucket)

backup = Backup(
    "backup",
    BackupArgs(
        environment=env,
        account=account,
        backup_key_arn=keys.backup.arn,
        retention_days=conf.backup.retention_days,
        schedule=conf.backup.schedule,
        vault_min_retention_days=conf.backup.vault_min_retention_days,
        vault_max_retention_days=conf.backup.vault_max_retention_days,
        vault_changeable_for_days=conf.backup.vault_changeable_for_days,
        copy_vault_arn=dr.vault.arn if dr else None,
        tags=tags,
    ),
)

connectivity = Connectivity(
    "connectivity",
    ConnectivityArgs(
        environment=env,
        vpc_id=network.vpc.id,
        app_route_table_id=network.route_tables["app"].id,
        on_prem_cidrs=conf.on_prem_cidrs,
        customer_gateway_ip=conf.customer_gateway.ip_address,
        customer_gateway_bgp_asn=conf.customer_gateway.bgp_asn,
        tags=tags,
    ),
)

compute: Compute | None = None
if conf.compute.enabled:
    compute = Compute(
        "compute",
        ComputeArgs(
            environment=env,
            account=account,
            vpc_id=network.vpc.id,
            vpc_cidr=conf.vpc_cidr,
            subnet_id=network.subnet_ids["app"][0],
            availability_zone=conf.availability_zones[0],
            on_prem_cidrs=conf.on_prem_cidrs,
            s3_prefix_list_id=network.s3_endpoint.prefix_list_id,
            ebs_key_arn=keys.ebs.arn,
            ami=conf.compute.ami,
            instance_type=conf.compute.instance_type,
            root_volume_gb=conf.compute.root_volume_gb,
            data_volume_gb=conf.compute.data_volume_gb,
            tags=tags,
        ),
        opts=pulumi.ResourceOptions(depends_on=[backup]),
    )
    pulumi.export("pacs_private_ip", compute.instance.private_ip)

pulumi.export("vpc_id", network.vpc.id)
pulumi.export("archive_bucket", archive.bucket.bucket)
pulumi.export("access_log_bucket", archive.log_bucket.bucket)
pulumi.export("trail_bucket", audit.trail_bucket.bucket)
pulumi.export("backup_vault", backup.vault.name)
pulumi.export("vpn_connection_id", connectivity.vpn_connection.id)
pulumi.export(
    "vpn_tunnel_addresses",
    [
        connectivity.vpn_connection.tunnel1_address,
        connectivity.vpn_connection.tunnel2_address,
    ],
)
