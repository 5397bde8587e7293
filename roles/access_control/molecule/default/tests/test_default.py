"""State after the access_control role (testinfra), and real sudo/PAM behaviour."""


def test_admin_account_with_key_in_admin_group(host):
    admin = host.user("moladmin")
    assert "rsadmins" in admin.groups
    keys = host.file("/home/moladmin/.ssh/authorized_keys").content_string
    assert keys.strip().startswith("ssh-ed25519 ") and len(keys.strip().splitlines()) == 1


def test_absent_account_removed(host):
    assert not host.user("leaver").exists


def test_sudoers_validated_and_admin_group_only(host):
    assert host.run("visudo -c").rc == 0
    rules = host.file("/etc/sudoers.d/60-radshield-admins")
    assert rules.mode == 0o440 and "%rsadmins ALL=(ALL:ALL) NOPASSWD: ALL" in rules.content_string
    assert host.run("runuser -u moladmin -- sudo -n true").rc == 0
    assert host.run("runuser -u clinician1 -- sudo -n true").rc != 0


def test_pam_stack_has_faillock_and_pwquality(host):
    auth = host.file("/etc/pam.d/common-auth").content_string
    assert "pam_faillock.so preauth" in auth and "pam_faillock.so authfail" in auth
    assert "pam_pwquality.so" in host.file("/etc/pam.d/common-password").content_string
    assert "deny = 5" in host.file("/etc/security/faillock.conf").content_string


def test_session_timeout(host):
    assert host.run("bash -lc 'echo $TMOUT'").stdout.strip() == "900"


def test_system_accounts_cannot_log_in(host):
    for name in ("daemon", "bin", "sys", "www-data"):
        if host.user(name).exists:
            assert host.user(name).shell in ("/usr/sbin/nologin", "/bin/false")


def test_breakglass_locked_and_alerting(host):
    assert host.user("breakglass").exists
    assert host.check_output("passwd -S breakglass").split()[1] == "L"
    assert "radshield-breakglass-audit" in host.file("/etc/pam.d/common-session").content_string
    # the hook PAM runs for every session raises the alert in the journal for this account only
    host.run("PAM_USER=clinician1 PAM_TYPE=open_session /usr/local/sbin/radshield-breakglass-audit")
    host.run(
        "PAM_USER=breakglass PAM_TYPE=open_session PAM_SERVICE=sshd PAM_RHOST=10.0.0.9 "
        "/usr/local/sbin/radshield-breakglass-audit"
    )
    log = host.run("journalctl -t radshield-breakglass --no-pager -n 5").stdout
    assert "RADSHIELD BREAK-GLASS open_session by breakglass service=sshd from=10.0.0.9" in log
    assert "clinician1" not in log


def test_su_restricted(host):
    assert "pam_wheel.so use_uid group=rsadmins" in host.file("/etc/pam.d/su").content_string
