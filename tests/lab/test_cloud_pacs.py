"""The landing zone's PACS found by `amazon.aws.aws_ec2` and proved hardened with testinfra.

No AWS here, so the cloud side is `moto_server` on 127.0.0.1: it holds a VPC with the lab's
management subnet and an instance tagged as the landing zone tags its PACS
(Project=radshield, Role=pacs), whose private address is pacs-01's. The committed inventory
`inventories/aws/aws_ec2.yml` (plus `endpoint_url`) resolves that instance; testinfra then
reaches it through that inventory, over SSH with the lab's admin key, and checks what a
hardened PACS must be. Read-only: nothing on pacs-01 changes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from radshield.migrate import testbed
from tests.aws_inventory import CREDS, inventory_list, plain, write_inventory

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def cloud_inventory(hardened_lab, tmp_path_factory):
    import boto3  # noqa: PLC0415

    port = testbed.free_port()
    url = f"http://127.0.0.1:{port}"
    moto = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        testbed.wait_port(port, moto, "moto_server")  # bounded wait
        ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=url,
                           **{k.lower(): v for k, v in CREDS.items()})  # fmt: skip
        address = hardened_lab.host_ip("pacs-01", "mgmt")
        vpc = ec2.create_vpc(CidrBlock="10.213.30.0/24")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.213.30.0/24")["Subnet"]["SubnetId"]
        image = ec2.describe_images()["Images"][0]["ImageId"]
        tags = {"Project": "radshield", "Role": "pacs", "Environment": "prod", "Name": "cloud-pacs"}
        ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet,
                          PrivateIpAddress=address, MetadataOptions={"HttpTokens": "required"},
                          TagSpecifications=[{"ResourceType": "instance",
                                              "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}])  # fmt: skip
        d = tmp_path_factory.mktemp("aws-inventory")
        write_inventory(d, url)
        # How Ansible reaches the instance: the lab's admin and known hosts (a real estate
        # sets these in the same place: group_vars/all beside the aws_ec2 file).
        lab_vars = json.loads(
            (ROOT / "inventories" / "lab" / "hosts.yml").read_text().split("\n", 1)[1]
        )
        (d / "group_vars").mkdir()
        (d / "group_vars" / "all.yml").write_text(yaml.safe_dump(lab_vars["all"]["vars"]))
        env = {**os.environ, **CREDS, "ANSIBLE_INVENTORY_ENABLED": "amazon.aws.aws_ec2,yaml"}
        yield d, env, address
    finally:
        moto.terminate()
        moto.wait(timeout=15)


def _inventory(cloud_inventory) -> dict:
    d, env, _ = cloud_inventory
    return inventory_list(d, env)


def test_aws_ec2_inventory_finds_the_pacs_at_its_private_address(cloud_inventory):
    inv = _inventory(cloud_inventory)
    assert inv["pacs_servers"]["hosts"] == ["cloud-pacs"], inv.get("pacs_servers")
    assert "cloud-pacs" in inv["managed"]["hosts"]
    assert plain(inv["_meta"]["hostvars"]["cloud-pacs"]["ansible_host"]) == cloud_inventory[2]


def test_the_cloud_pacs_is_hardened_testinfra(cloud_inventory):
    """testinfra on the host the aws_ec2 inventory resolved, with the connection settings that
    inventory gives it: what a hardened PACS must be. (testinfra's own ansible:// backend
    cannot read ansible-core 2.19's unsafe-marked --list values, so the address and SSH
    settings are taken from ansible-inventory and handed to its ssh:// backend.)"""
    import testinfra  # noqa: PLC0415

    hv = {
        k: plain(v)
        for k, v in _inventory(cloud_inventory)["_meta"]["hostvars"]["cloud-pacs"].items()
    }
    host = testinfra.get_host(
        f"ssh://{hv['ansible_user']}@{hv['ansible_host']}",
        ssh_identity_file=hv["ansible_ssh_private_key_file"],
        ssh_extra_args=hv["ansible_ssh_common_args"],
        sudo=True,
    )
    sshd = dict(
        line.split(" ", 1) for line in host.check_output("sshd -T").splitlines() if " " in line
    )
    assert sshd["passwordauthentication"] == "no"
    assert sshd["permitrootlogin"] == "no"
    assert sshd["kbdinteractiveauthentication"] == "no"
    assert host.service("orthanc").is_running and host.service("nginx").is_running
    assert host.socket("tcp://0.0.0.0:8043").is_listening  # HTTPS through nginx only
    # Orthanc's own plain HTTP (8042) binds every address but answers loopback only
    # (RemoteAccessAllowed false) and the host firewall drops it: from outside, no answer.
    with pytest.raises(OSError):
        socket.create_connection((hv["ansible_host"], 8042), timeout=3).close()
    cfg = host.file("/etc/orthanc/orthanc.json")
    assert cfg.user == "root" and cfg.group == "orthanc" and cfg.mode & 0o007 == 0
    conf = json.loads(cfg.content_string)
    assert conf["AuthenticationEnabled"] is True and conf["DicomTlsEnabled"] is True
    assert (
        conf["DicomTlsRemoteCertificateRequired"] is True and conf["RemoteAccessAllowed"] is False
    )
    ruleset = json.loads(host.check_output("nft -j list ruleset"))["nftables"]
    inputs = [c["chain"] for c in ruleset if "chain" in c and c["chain"].get("hook") == "input"]
    assert inputs and all(c.get("policy") == "drop" for c in inputs), inputs
    assert host.service("nftables").is_enabled
