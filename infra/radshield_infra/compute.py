"""The PACS server: one EC2 instance in the app tier, reachable only from on-premises.

IMDSv2 only, no public IP, root and data volumes encrypted with the EBS key (HIPAA
164.312(a)(2)(iv)), DICOM TLS (2762) and HTTPS (443) admitted only from the practice's
on-premises CIDRs (164.312(e)(1)), administration through SSM Session Manager (no SSH).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .common import BACKUP_TAG_KEY, BACKUP_TAG_VALUE, AccountInfo, assume_role_policy, child

DICOM_TLS_PORT = 2762
HTTPS_PORT = 443


@dataclass
class ComputeArgs:
    environment: str
    account: AccountInfo
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    subnet_id: pulumi.Input[str]
    availability_zone: str
    on_prem_cidrs: Sequence[str]
    s3_prefix_list_id: pulumi.Input[str]
    ebs_key_arn: pulumi.Input[str]
    ami: str
    instance_type: str
    root_volume_gb: int
    data_volume_gb: int
    tags: Mapping[str, str] = field(default_factory=dict)


class Compute(pulumi.ComponentResource):
    instance: aws.ec2.Instance
    security_group: aws.ec2.SecurityGroup
    data_volume: aws.ebs.Volume

    def __init__(
        self, name: str, args: ComputeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("radshield:compute:Compute", name, None, opts)
        tags = dict(args.tags)
        pacs_tags = {**tags, BACKUP_TAG_KEY: BACKUP_TAG_VALUE, "Role": "pacs"}
        onprem = list(args.on_prem_cidrs)
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-pacs-sg",
            vpc_id=args.vpc_id,
            description="PACS: DICOM TLS and HTTPS from on-premises only",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description="DICOM TLS from on-premises",
                    protocol="tcp",
                    from_port=DICOM_TLS_PORT,
                    to_port=DICOM_TLS_PORT,
                    cidr_blocks=onprem,
                ),
                aws.ec2.SecurityGroupIngressArgs(
                    description="HTTPS (viewers, DICOMweb) from on-premises",
                    protocol="tcp",
                    from_port=HTTPS_PORT,
                    to_port=HTTPS_PORT,
                    cidr_blocks=onprem,
                ),
            ],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    description="HTTPS to the VPC interface endpoints",
                    protocol="tcp",
                    from_port=HTTPS_PORT,
                    to_port=HTTPS_PORT,
                    cidr_blocks=[args.vpc_cidr],
                ),
                aws.ec2.SecurityGroupEgressArgs(
                    description="HTTPS to S3 through the gateway endpoint",
                    protocol="tcp",
                    from_port=HTTPS_PORT,
                    to_port=HTTPS_PORT,
                    prefix_list_ids=[args.s3_prefix_list_id],
                ),
                aws.ec2.SecurityGroupEgressArgs(
                    description="DICOM TLS to on-premises modalities and PACS",
                    protocol="tcp",
                    from_port=DICOM_TLS_PORT,
                    to_port=DICOM_TLS_PORT,
                    cidr_blocks=onprem,
                ),
            ],
            tags={**tags, "Name": f"radshield-{args.environment}-pacs"},
            opts=child(self),
        )
        role = aws.iam.Role(
            f"{name}-pacs-role",
            assume_role_policy=assume_role_policy("ec2.amazonaws.com"),
            tags=tags,
            opts=child(self),
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-pacs-ssm",
            role=role.name,
            policy_arn=f"arn:{args.account.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore",
            opts=child(self),
        )
        profile = aws.iam.InstanceProfile(
            f"{name}-pacs-profile", role=role.name, tags=tags, opts=child(self)
        )
        self.instance = aws.ec2.Instance(
            f"{name}-pacs",
            ami=args.ami,
            instance_type=args.instance_type,
            subnet_id=args.subnet_id,
            vpc_security_group_ids=[self.security_group.id],
            associate_public_ip_address=False,
            iam_instance_profile=profile.name,
            ebs_optimized=True,
            monitoring=True,
            disable_api_termination=True,
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": 1,
                "instance_metadata_tags": "disabled",
            },
            root_block_device={
                "encrypted": True,
                "kms_key_id": args.ebs_key_arn,
                "volume_type": "gp3",
                "volume_size": args.root_volume_gb,
                "delete_on_termination": True,
                "tags": pacs_tags,
            },
            tags={**pacs_tags, "Name": f"radshield-{args.environment}-pacs"},
            opts=child(self),
        )
        self.data_volume = aws.ebs.Volume(
            f"{name}-pacs-data",
            availability_zone=args.availability_zone,
            size=args.data_volume_gb,
            type="gp3",
            encrypted=True,
            kms_key_id=args.ebs_key_arn,
            tags={**pacs_tags, "Name": f"radshield-{args.environment}-pacs-data"},
            opts=child(self),
        )
        aws.ec2.VolumeAttachment(
            f"{name}-pacs-data-attachment",
            device_name="/dev/sdf",
            volume_id=self.data_volume.id,
            instance_id=self.instance.id,
            opts=child(self),
        )
        self.register_outputs(
            {"instance_id": self.instance.id, "private_ip": self.instance.private_ip}
        )
