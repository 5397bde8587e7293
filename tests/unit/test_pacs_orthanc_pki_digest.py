"""pacs_orthanc's PKI stamp without the lab: the digest that lets a second run skip the PKI
tasks is the same when only the order of a host's addresses changed (a rebuilt container on
three networks brings its interfaces up in another order; CI caught the stamp rewritten,
changed=1), and differs when what is asked for or a file on the controller changed."""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.playbook_runner import run_playbook

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "pacs_orthanc"

PLAY = """
- name: Render the PKI digest of the role
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files: ["{{ role }}/defaults/main.yml", "{{ role }}/vars/main.yml"]
  tasks:
    - name: Digest
      ansible.builtin.copy:
        content: "{{ {'digest': _pacs_orthanc_pki_digest, 'stamp': _pacs_orthanc_pki_stamp,
                      'entities': _pacs_orthanc_entities} | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""


def _render(tmp_path: Path, name: str, addresses: list[str]) -> dict:
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    out = tmp_path / f"{name}.json"
    values = {
        "ansible_python_interpreter": "/usr/bin/python3",
        "role": str(ROLE),
        "out": str(out),
        "pacs_orthanc_pki_dir": str(tmp_path / "pki"),
        "ansible_facts": {"fqdn": "pacs-01.lab", "all_ipv4_addresses": addresses},
    }
    extra = tmp_path / f"{name}.vars.json"
    extra.write_text(json.dumps(values))
    proc = run_playbook("-i", "localhost,", str(play), "-e", f"@{extra}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return json.loads(out.read_text())


def test_digest_ignores_the_order_of_the_addresses_and_follows_their_set_and_the_files(tmp_path):
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.crt").write_text("first\n")
    a = _render(tmp_path, "a", ["10.89.1.11", "10.89.2.11", "10.89.3.11"])
    b = _render(tmp_path, "b", ["10.89.3.11", "10.89.1.11", "10.89.2.11"])
    assert a["digest"] == b["digest"] and a["stamp"] == b["stamp"]
    sans = a["entities"][0]["sans"]
    assert {"IP:10.89.1.11", "IP:10.89.2.11", "IP:10.89.3.11", "DNS:localhost"} <= set(sans)

    # a host that gained an address needs a new certificate: the digest changes
    c = _render(tmp_path, "c", ["10.89.1.11", "10.89.2.11", "10.89.3.11", "10.89.4.11"])
    assert c["digest"] != a["digest"]
    # a file on the controller that changed is checked again: the digest changes
    (tmp_path / "pki" / "ca.crt").write_text("second\n")
    d = _render(tmp_path, "d", ["10.89.1.11", "10.89.2.11", "10.89.3.11"])
    assert d["digest"] != a["digest"]
