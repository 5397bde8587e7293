"""State after the baseline role (testinfra)."""


def test_kernel_parameters_file(host):
    f = host.file("/etc/sysctl.d/60-radshield-baseline.conf")
    assert f.mode == 0o644
    assert "net.ipv4.conf.all.accept_redirects = 0" in f.content_string
    assert "kernel.randomize_va_space = 2" in f.content_string


def test_unused_modules_cannot_load(host):
    conf = host.file("/etc/modprobe.d/radshield-baseline.conf").content_string
    for mod in ("cramfs", "udf", "dccp", "sctp"):
        assert f"install {mod} /bin/false" in conf


def test_core_dumps_off(host):
    assert (
        "hard    core    0"
        in host.file("/etc/security/limits.d/60-radshield-coredump.conf").content_string
    )
    assert "Storage=none" in host.file("/etc/systemd/coredump.conf").content_string


def test_login_defs_and_umask(host):
    defs = host.file("/etc/login.defs").content_string
    assert "PASS_MAX_DAYS       365" in defs and "ENCRYPT_METHOD      YESCRYPT" in defs
    assert "UMASK               027" in defs
    # a login shell really gets the umask
    assert host.run("bash -lc umask").stdout.strip() == "0027"


def test_identity_files(host):
    shadow = host.file("/etc/shadow")
    assert (shadow.user, shadow.group, shadow.mode) == ("root", "shadow", 0o640)
    assert host.file("/etc/passwd").mode == 0o644


def test_banner_and_cron(host):
    assert "Authorised use only" in host.file("/etc/issue.net").content_string
    assert host.file("/etc/cron.allow").content_string.strip() == "root"


def test_journald_persistent_and_timesyncd_configured(host):
    assert "Storage=persistent" in host.file("/etc/systemd/journald.conf").content_string
    assert host.package("systemd-timesyncd").is_installed
    assert "NTP=0.debian.pool.ntp.org" in host.file("/etc/systemd/timesyncd.conf").content_string


def test_unattended_upgrades(host):
    assert host.package("unattended-upgrades").is_installed
    conf = host.file("/etc/apt/apt.conf.d/52radshield-unattended-upgrades").content_string
    assert 'APT::Periodic::Unattended-Upgrade "1";' in conf
    # apt itself reads the setting
    assert 'APT::Periodic::Unattended-Upgrade "1"' in host.run("apt-config dump").stdout


def test_no_insecure_clients(host):
    for pkg in ("telnet", "rsh-client", "nis", "ftp"):
        assert not host.package(pkg).is_installed
