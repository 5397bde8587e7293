"""The amazon.aws.aws_ec2 inventory of the landing zone resolves the PACS instance from moto.

A moto server on 127.0.0.1 holds a VPC, an app subnet and two instances: the PACS (tags
Project=radshield, Role=pacs) and an unrelated one. ``ansible-inventory`` with
``inventories/aws/aws_ec2.yml`` (plus ``endpoint_url``) must list the PACS only, under its Name
tag, in ``pacs_servers`` and ``managed``, with ``ansible_host`` its private address.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

boto3 = pytest.importorskip("boto3")
ROOT = Path(__file__).resolve().parents[2]
CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


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
    binary = shutil.which("ansible-inventory") or str(
        Path(sys.executable).parent / "ansible-inventory"
    )
    if not Path(binary).exists():
        pytest.skip("ansible-inventory not installed (make setup)")
    config = yaml.safe_load((ROOT / "inventories/aws/aws_ec2.yml").read_text())
    config["endpoint_url"] = moto_url
    inventory = tmp_path / "aws_ec2.yml"  # the plugin wants the file name to end in aws_ec2.yml
    inventory.write_text(yaml.safe_dump(config))
    env = {**os.environ, **CREDS, "ANSIBLE_INVENTORY_ENABLED": "amazon.aws.aws_ec2"}
    out = subprocess.run(
        [binary, "-i", str(inventory), "--list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    hosts = data["_meta"]["hostvars"]

    def plain(value: object) -> object:  # ansible-core 2.19 marks inventory strings unsafe
        return value.get("__ansible_unsafe", value) if isinstance(value, dict) else value

    assert list(hosts) == ["radshield-prod-pacs"], out.stderr
    assert plain(hosts["radshield-prod-pacs"]["ansible_host"]) == pacs["ip"]
    assert plain(hosts["radshield-prod-pacs"]["instance_id"]) == pacs["id"]
    assert "radshield-prod-pacs" in data["pacs_servers"]["hosts"]
    assert "radshield-prod-pacs" in data["managed"]["hosts"]
    assert "radshield-prod-pacs" in data["env_prod"]["hosts"]
