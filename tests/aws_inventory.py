"""The landing zone's aws_ec2 inventory pointed at a local moto server, as the tests use it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def plain(value: object) -> object:
    """ansible-core 2.19 marks values an inventory plugin composed as unsafe in --list JSON."""
    if isinstance(value, dict) and set(value) == {"__ansible_unsafe"}:
        return value["__ansible_unsafe"]
    return value


def write_inventory(directory: Path, endpoint_url: str) -> Path:
    """inventories/aws/aws_ec2.yml with endpoint_url, in DIRECTORY (the plugin wants the file
    name to end in aws_ec2.yml)."""
    config = yaml.safe_load((ROOT / "inventories" / "aws" / "aws_ec2.yml").read_text())
    config["endpoint_url"] = endpoint_url
    path = directory / "aws_ec2.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def inventory_list(source: Path, env: dict[str, str]) -> dict:
    """`ansible-inventory -i SOURCE --list`, parsed; fails with Ansible's stderr."""
    binary = Path(sys.executable).parent / "ansible-inventory"
    proc = subprocess.run([str(binary), "-i", str(source), "--list"], env=env, text=True,
                          capture_output=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)
