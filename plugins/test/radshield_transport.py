"""Jinja test `radshield_ssh_transport`: is a connection name SSH?

The lockout guards of the roles apply only to SSH. Ansible names that connection `ssh`,
`smart`, `paramiko` (or their FQCNs); the mitogen strategy renames it `mitogen_ssh` in the
variables an action sees (`assert` evaluates `that` there). One list, for every role.
"""

from __future__ import annotations

SSH_NAMES = frozenset(
    (
        "ssh",
        "smart",
        "paramiko",
        "ansible.builtin.ssh",
        "ansible.builtin.paramiko_ssh",
        "mitogen_ssh",
    )
)


def ssh_transport(name: object) -> bool:
    return str(name) in SSH_NAMES


class TestModule:
    def tests(self) -> dict:
        return {"radshield_ssh_transport": ssh_transport}
