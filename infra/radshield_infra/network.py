"""One VPC per environment with isolated ``ingress``, ``app`` and ``data`` tiers in two AZs.

- no subnet maps public IPs; only the ingress tier may route to an internet gateway, and only
  when ``radshield:ingressInternetGateway`` is true;
- the default security group and default network ACL are emptied (deny all);
- one network ACL per tier limits which tier may talk to which;
- VPC flow logs (ALL traffic) go to a KMS-encrypted CloudWatch log group (HIPAA 164.312(b));
- AWS APIs are reached through VPC endpoints (S3 gateway, interface endpoints with private DNS).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .common import AccountInfo, assume_role_policy, child, policy_document

TIERS = ("ingress", "app", "data")
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
ANYWHERE = "0.0.0.0/0"
EPHEMERAL = (1024, 65535)
ALL = ("-1", 0, 0)


@dataclass
class NetworkArgs:
    environment: str
    account: AccountInfo
    vpc_cidr: str
    availability_zones: Sequence[str]
    subnets: Mapping[str, Sequence[str]]
    on_prem_cidrs: Sequence[str]
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    ingress_internet_gateway: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AclRule:
    egress: bool
    cidr: str
    protocol: str
    from_port: int
    to_port: int


def tier_acl_rules(
    tier: str,
    subnets: Mapping[str, Sequence[str]],
    on_prem: Sequence[str],
    internet: bool,
) -> list[AclRule]:
    """Allow rules of one tier's network ACL (everything else hits the implicit deny).

    Tier to tier: ingress <-> app (all), app <-> data (all), ingress -> data only HTTPS to the
    VPC endpoints. On-premises (over the VPN) reaches the app tier only: DICOM TLS and HTTPS.
    App and data may send HTTPS out, which without an IGW route only reaches the S3 gateway
    endpoint; its return traffic is the ephemeral-port rule from ``0.0.0.0/0``.
    """
    rules: list[AclRule] = []

    def both(cidrs: Sequence[str], proto: str = "-1", ports: tuple[int, int] = (0, 0)) -> None:
        for cidr in cidrs:
            rules.append(AclRule(False, cidr, proto, *ports))
            rules.append(AclRule(True, cidr, proto, *ports))

    def inbound(cidrs: Sequence[str], proto: str, ports: tuple[int, int]) -> None:
        rules.extend(AclRule(False, c, proto, *ports) for c in cidrs)

    def outbound(cidrs: Sequence[str], proto: str, ports: tuple[int, int]) -> None:
        rules.extend(AclRule(True, c, proto, *ports) for c in cidrs)

    if tier == "ingress":
        both(subnets["ingress"])
        both(subnets["app"])
        outbound(subnets["data"], "6", (443, 443))
        inbound(subnets["data"], "6", EPHEMERAL)
        if internet:
            inbound([ANYWHERE], "6", (443, 443))
            inbound([ANYWHERE], "6", EPHEMERAL)
            outbound([ANYWHERE], "6", EPHEMERAL)
            outbound([ANYWHERE], "6", (443, 443))
    elif tier == "app":
        both(subnets["ingress"])
        both(subnets["app"])
        both(subnets["data"])
        for port in (443, 2762):
            inbound(on_prem, "6", (port, port))
        outbound(on_prem, "6", EPHEMERAL)
        outbound(on_prem, "6", (2762, 2762))
        outbound([ANYWHERE], "6", (443, 443))
        inbound([ANYWHERE], "6", EPHEMERAL)
    elif tier == "data":
        both(subnets["app"])
        both(subnets["data"])
        inbound(subnets["ingress"], "6", (443, 443))
        outbound(subnets["ingress"], "6", EPHEMERAL)
        outbound([ANYWHERE], "6", (443, 443))
        inbound([ANYWHERE], "6", EPHEMERAL)
    else:
        raise ValueError(f"unknown tier {tier!r}")
    return rules


class Network(pulumi.ComponentResource):
    vpc: aws.ec2.Vpc
    subnet_ids: dict[str, list[pulumi.Output[str]]]
    route_tables: dict[str, aws.ec2.RouteTable]
    s3_endpoint: aws.ec2.VpcEndpoint
    endpoint_security_group: aws.ec2.SecurityGroup
    flow_log_group: aws.cloudwatch.LogGroup

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("radshield:network:Network", name, None, opts)
        tags = dict(args.tags)
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={**tags, "Name": f"radshield-{args.environment}"},
            opts=child(self),
        )
        # Close the defaults AWS creates with every VPC: no rules means deny all.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=self.vpc.id,
            tags={**tags, "Name": "default-closed"},
            opts=child(self),
        )
        aws.ec2.DefaultNetworkAcl(
            f"{name}-default-nacl",
            default_network_acl_id=self.vpc.default_network_acl_id,
            tags={**tags, "Name": "default-closed"},
            opts=child(self),
        )

        self.subnet_ids = {}
        self.route_tables = {}
        subnets_by_tier: dict[str, list[aws.ec2.Subnet]] = {}
        for tier in TIERS:
            rt = aws.ec2.RouteTable(
                f"{name}-{tier}-rt",
                vpc_id=self.vpc.id,
                tags={**tags, "Name": f"radshield-{args.environment}-{tier}", "Tier": tier},
                opts=child(self),
            )
            self.route_tables[tier] = rt
            subnets_by_tier[tier] = []
            for i, (az, cidr) in enumerate(
                zip(args.availability_zones, args.subnets[tier], strict=True)
            ):
                subnet = aws.ec2.Subnet(
                    f"{name}-{tier}-{i}",
                    vpc_id=self.vpc.id,
                    cidr_block=cidr,
                    availability_zone=az,
                    map_public_ip_on_launch=False,
                    assign_ipv6_address_on_creation=False,
                    tags={
                        **tags,
                        "Name": f"radshield-{args.environment}-{tier}-{az}",
                        "Tier": tier,
                    },
                    opts=child(self),
                )
                aws.ec2.RouteTableAssociation(
                    f"{name}-{tier}-{i}-rta",
                    subnet_id=subnet.id,
                    route_table_id=rt.id,
                    opts=child(self),
                )
                subnets_by_tier[tier].append(subnet)
            self.subnet_ids[tier] = [s.id for s in subnets_by_tier[tier]]

        if args.ingress_internet_gateway:
            igw = aws.ec2.InternetGateway(
                f"{name}-igw", vpc_id=self.vpc.id, tags=tags, opts=child(self)
            )
            aws.ec2.Route(
                f"{name}-ingress-default-route",
                route_table_id=self.route_tables["ingress"].id,
                destination_cidr_block=ANYWHERE,
                gateway_id=igw.id,
                opts=child(self),
            )

        for tier in TIERS:
            acl = aws.ec2.NetworkAcl(
                f"{name}-{tier}-nacl",
                vpc_id=self.vpc.id,
                tags={**tags, "Name": f"radshield-{args.environment}-{tier}", "Tier": tier},
                opts=child(self),
            )
            rules = tier_acl_rules(
                tier, args.subnets, args.on_prem_cidrs, args.ingress_internet_gateway
            )
            counters = {False: 100, True: 100}
            for rule in rules:
                number = counters[rule.egress]
                counters[rule.egress] += 10
                direction = "out" if rule.egress else "in"
                aws.ec2.NetworkAclRule(
                    f"{name}-{tier}-nacl-{direction}-{number}",
                    network_acl_id=acl.id,
                    rule_number=number,
                    egress=rule.egress,
                    protocol=rule.protocol,
                    rule_action="allow",
                    cidr_block=rule.cidr,
                    from_port=rule.from_port,
                    to_port=rule.to_port,
                    opts=child(self),
                )
            for i, subnet in enumerate(subnets_by_tier[tier]):
                aws.ec2.NetworkAclAssociation(
                    f"{name}-{tier}-{i}-nacl-assoc",
                    network_acl_id=acl.id,
                    subnet_id=subnet.id,
                    opts=child(self),
                )

        self._flow_logs(name, args, tags)
        self._endpoints(name, args, tags)

        self.register_outputs(
            {
                "vpc_id": self.vpc.id,
                "subnet_ids": self.subnet_ids,
                "route_table_ids": {t: rt.id for t, rt in self.route_tables.items()},
            }
        )

    def _flow_logs(self, name: str, args: NetworkArgs, tags: Mapping[str, str]) -> None:
        self.flow_log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=f"/radshield/{args.environment}/vpc-flow-logs",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.logs_key_arn,
            tags=dict(tags),
            opts=child(self),
        )
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            assume_role_policy=assume_role_policy("vpc-flow-logs.amazonaws.com"),
            tags=dict(tags),
            opts=child(self),
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs-write",
            role=role.id,
            policy=self.flow_log_group.arn.apply(
                lambda arn: policy_document(
                    [
                        {
                            "Effect": "Allow",
                            "Action": [
                                "logs:CreateLogStream",
                                "logs:PutLogEvents",
                                "logs:DescribeLogStreams",
                            ],
                            "Resource": [arn, f"{arn}:*"],
                        }
                    ]
                )
            ),
            opts=child(self),
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=self.flow_log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=dict(tags),
            opts=child(self),
        )

    def _endpoints(self, name: str, args: NetworkArgs, tags: Mapping[str, str]) -> None:
        region = args.account.region
        self.s3_endpoint = aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=self.vpc.id,
            service_name=f"com.amazonaws.{region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in self.route_tables.values()],
            tags={**tags, "Name": f"radshield-{args.environment}-s3"},
            opts=child(self),
        )
        self.endpoint_security_group = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            vpc_id=self.vpc.id,
            description="HTTPS from inside the VPC to the AWS interface endpoints",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description="HTTPS from the VPC",
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_blocks=[args.vpc_cidr],
                )
            ],
            tags=dict(tags),
            opts=child(self),
        )
        for service in INTERFACE_ENDPOINTS:
            aws.ec2.VpcEndpoint(
                f"{name}-{service}",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=self.subnet_ids["data"],
                security_group_ids=[self.endpoint_security_group.id],
                tags={**tags, "Name": f"radshield-{args.environment}-{service}"},
                opts=child(self),
            )
