"""State after the ssh role (testinfra): the effective configuration as sshd itself reads it."""

import pytest


@pytest.fixture(scope="module")
def effective(host):
    out = host.check_output("sshd -T -C user=nobody,host=localhost,addr=127.0.0.1")
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def test_keys_only_no_root(effective):
    assert effective["passwordauthentication"] == "no"
    assert effective["kbdinteractiveauthentication"] == "no"
    assert effective["permitrootlogin"] == "no"
    assert effective["authenticationmethods"] == "publickey"


def test_allowed_groups_and_limits(effective):
    assert effective["allowgroups"] == "rsadmins"
    assert effective["maxauthtries"] == "4"
    assert effective["clientaliveinterval"] == "300"
    assert effective["x11forwarding"] == "no" and effective["allowtcpforwarding"] == "no"


def test_modern_crypto_only(effective):
    assert "cbc" not in effective["ciphers"]
    assert "sha1" not in effective["macs"] and "md5" not in effective["macs"]
    assert "group14-sha1" not in effective["kexalgorithms"]


def test_config_and_host_keys(host):
    cfg = host.file("/etc/ssh/sshd_config")
    assert (cfg.user, cfg.mode) == ("root", 0o600)
    assert host.file("/etc/ssh/ssh_host_ed25519_key").mode == 0o600
    bits = int(host.check_output("ssh-keygen -l -f /etc/ssh/ssh_host_rsa_key.pub").split()[0])
    assert bits >= 3072


def test_sshd_running_and_refusing_passwords(host):
    assert host.service("ssh").is_running
    # a real client against the real daemon: only publickey is offered
    out = host.run(
        "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        "-o PreferredAuthentications=password nobody@127.0.0.1 true"
    )
    assert out.rc == 255 and "Permission denied (publickey)" in out.stderr
