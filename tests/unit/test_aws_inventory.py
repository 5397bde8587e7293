"""The amazon.aws.aws_ec2 inventory of the landing zone resolves the PACS instance from moto.

A moto server on 127.0.0.1 holds a VPC, an app subnet and two instances: the PACS (tags
Project=radshield, Role=pacs) and an unrelated one. ``ansible-inventory`` with
``inventories/aws/aws_ec2.yml`` (plus ``endpoint_url``) must list the PACS only, under its Name
tag, in ``pacs_servers`` and ``managed``, with ``ansible_host`` its private address.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.aws_inventory import CREDS, inventory_list, plain, write_inventory

boto3 = pytest.importorskip("boto3")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pacs(moto_url: str) -> Iterator[dict[str, str]]:
    ec2 = boto3.client(
        "ec2",
        region_name="us-east-1",
        endpoint_url=moto_url,
        **{k.lower(): v for k, v in CREDS.items()},
    )
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.60.16.0/20")["Subnet"]["SubnetId"]
    image = ec2.describe_images()["Images"][0]["ImageId"]

    def run(tags: dict[str, str]) -> dict[str, str]:
        inst = ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            SubnetId=subnet,
            MetadataOptions={"HttpTokens": "required"},
            TagSpecifications=[
                {
                    "ResourceType": "instance",
                    "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
                }
            ],
        )["Instances"][0]
        return {"id": inst["InstanceId"], "ip": inst["PrivateIpAddress"]}

    found = run(
        {
            "Project": "radshield",
            "Role": "pacs",
            "Environment": "prod",
            "Name": "radshield-prod-pacs",
        }
    )
    run({"Project": "other", "Name": "unrelated"})
    yield found
    ec2.terminate_instances(InstanceIds=[found["id"]])


def test_inventory_resolves_the_pacs_by_tag(
    pacs: dict[str, str], moto_url: str, tmp_path: Path
) -> None:
    inventory = write_inventory(tmp_path, moto_url)
    env = {**os.environ, **CREDS, "ANSIBLE_INVENTORY_ENABLED": "amazon.aws.aws_ec2"}
    data = inventory_list(inventory, env)
    hosts = data["_meta"]["hostvars"]

    assert list(hosts) == ["radshield-prod-pacs"], list(hosts)
    assert plain(hosts["radshield-prod-pacs"]["ansible_host"]) == pacs["ip"]
    assert plain(hosts["radshield-prod-pacs"]["instance_id"]) == pacs["id"]
    assert "radshield-prod-pacs" in data["pacs_servers"]["hosts"]
    assert "radshield-prod-pacs" in data["managed"]["hosts"]
    assert "radshield-prod-pacs" in data["env_prod"]["hosts"]
