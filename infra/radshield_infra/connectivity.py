"""Site-to-site VPN from the practice to the app tier (HIPAA 164.312(e)(1) transmission security).

IPsec (IKEv2, AES-256, SHA2-256, DH group 20/21) on both tunnels of one VPN connection; static
routes for the on-premises CIDRs; routes propagated to the app tier's route table only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from .common import child

TUNNEL_COUNT = 2


@dataclass
class ConnectivityArgs:
    environment: str
    vpc_id: pulumi.Input[str]
    app_route_table_id: pulumi.Input[str]
    on_prem_cidrs: Sequence[str]
    customer_gateway_ip: str
    customer_gateway_bgp_asn: int
    tags: Mapping[str, str] = field(default_factory=dict)


def tunnel_options() -> dict[str, Any]:
    """The same strong IPsec parameters for each of the connection's two tunnels."""
    options: dict[str, Any] = {}
    for n in range(1, TUNNEL_COUNT + 1):
        options.update(
            {
                f"tunnel{n}_ike_versions": ["ikev2"],
                f"tunnel{n}_phase1_encryption_algorithms": ["AES256", "AES256-GCM-16"],
                f"tunnel{n}_phase1_integrity_algorithms": ["SHA2-256", "SHA2-384"],
                f"tunnel{n}_phase1_dh_group_numbers": [20, 21],
                f"tunnel{n}_phase2_encryption_algorithms": ["AES256", "AES256-GCM-16"],
                f"tunnel{n}_phase2_integrity_algorithms": ["SHA2-256", "SHA2-384"],
                f"tunnel{n}_phase2_dh_group_numbers": [20, 21],
                f"tunnel{n}_startup_action": "start",
            }
        )
    return options


class Connectivity(pulumi.ComponentResource):
    vpn_gateway: aws.ec2.VpnGateway
    vpn_connection: aws.ec2.VpnConnection

    def __init__(
        self, name: str, args: ConnectivityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("radshield:connectivity:Connectivity", name, None, opts)
        tags = dict(args.tags)
        self.vpn_gateway = aws.ec2.VpnGateway(
            f"{name}-vgw",
            vpc_id=args.vpc_id,
            tags={**tags, "Name": f"radshield-{args.environment}"},
            opts=child(self),
        )
        customer_gateway = aws.ec2.CustomerGateway(
            f"{name}-cgw",
            ip_address=args.customer_gateway_ip,
            bgp_asn=str(args.customer_gateway_bgp_asn),
            type="ipsec.1",
            tags={**tags, "Name": f"radshield-{args.environment}-practice"},
            opts=child(self),
        )
        self.vpn_connection = aws.ec2.VpnConnection(
            f"{name}-vpn",
            vpn_gateway_id=self.vpn_gateway.id,
            customer_gateway_id=customer_gateway.id,
            type="ipsec.1",
            static_routes_only=True,
            **tunnel_options(),
            tags={**tags, "Name": f"radshield-{args.environment}-practice"},
            opts=child(self),
        )
        for i, cidr in enumerate(args.on_prem_cidrs):
            aws.ec2.VpnConnectionRoute(
                f"{name}-vpn-route-{i}",
                vpn_connection_id=self.vpn_connection.id,
                destination_cidr_block=cidr,
                opts=child(self),
            )
        # Only the app tier learns the on-premises routes; ingress and data tiers never do.
        aws.ec2.VpnGatewayRoutePropagation(
            f"{name}-app-propagation",
            vpn_gateway_id=self.vpn_gateway.id,
            route_table_id=args.app_route_table_id,
            opts=child(self),
        )
        self.register_outputs(
            {
                "vpn_connection_id": self.vpn_connection.id,
                "tunnel1_address": self.vpn_connection.tunnel1_address,
                "tunnel2_address": self.vpn_connection.tunnel2_address,
            }
        )
