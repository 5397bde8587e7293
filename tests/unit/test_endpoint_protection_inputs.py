"""endpoint_protection's input check (its first assert, before any change): a sound input
passes, every bad value is named, several per ansible-playbook run (each run costs seconds),
and the checks of a feature switched off do not stop the role. The good run is in --check:
once the check passes, the role's other `always` tasks look at this machine's services."""

from __future__ import annotations

import pytest

from tests.unit.playbook_runner import assert_names, refusal, role_inputs

TASK = "Check signature sources, paths and fail2ban settings"
EICAR = "44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature"

GOOD = {
    "endpoint_protection_clamav_mirror_url": "http://av-mirror.practice.lan:8080/clamav",
    "endpoint_protection_clamav_signature_files": ["/srv/sigs/main.cvd", "/srv/sigs/practice.hdb"],
    "endpoint_protection_clamav_hash_signatures": [EICAR, "a" * 64 + ":*:sha256-any_size.1"],
    "endpoint_protection_clamav_scan_paths": ["/", "/home", "/srv/dicom@import+1"],
    "endpoint_protection_clamav_quarantine_dir": "/var/lib/radshield/quarantine",
    "endpoint_protection_aide_paths": ["/etc", "/usr/local/bin"],
    "endpoint_protection_aide_exclude": ["/var/log"],
    "endpoint_protection_audit_watch_dirs": ["/etc/orthanc", "/opt/viewer/etc"],
    "endpoint_protection_fail2ban_maxretry": 20,
    "endpoint_protection_fail2ban_bantime": "600",
    "endpoint_protection_fail2ban_findtime": "1w",
    "endpoint_protection_fail2ban_ignoreip": ["10.213.30.0/24", "10.213.30.7", "fd00:30::/64"],
}

BAD_ON = {
    "endpoint_protection_clamav_mirror_url": "ftp://av mirror",
    "endpoint_protection_clamav_signature_files": ["/srv/sigs/main.cvd", "/srv/sigs/readme.txt"],
    "endpoint_protection_clamav_hash_signatures": [EICAR, "nothex:68:x", "44d88612fea8a8f36de82e1278abb02f:big:x"],
    "endpoint_protection_clamav_scan_paths": ["/home", "rel/scan", "/var/lib/radshield/quarantine"],
    "endpoint_protection_clamav_quarantine_dir": "/var/lib/radshield/quarantine",  # inside a scanned path
    "endpoint_protection_aide_paths": ["/etc", "rel/aide"],
    "endpoint_protection_aide_exclude": ["/var/log", "rel/exclude"],
    "endpoint_protection_audit_watch_dirs": ["/etc/orthanc", "rel/watch"],
    "endpoint_protection_fail2ban_maxretry": 21,
    "endpoint_protection_fail2ban_bantime": "1 hour",
    "endpoint_protection_fail2ban_findtime": "10x",
    "endpoint_protection_fail2ban_ignoreip": ["10.0.0.1", "not-an-address"],
}  # fmt: skip
NAMED_ON = [
    "endpoint_protection_clamav_mirror_url",
    "readme.txt",
    "nothex:68:x",
    ":big:x",
    "rel/scan",
    "endpoint_protection_clamav_quarantine_dir",
    "rel/aide",
    "rel/exclude",
    "rel/watch",
    "endpoint_protection_fail2ban_maxretry",
    "endpoint_protection_fail2ban_bantime",
    "endpoint_protection_fail2ban_findtime",
    "not-an-address",
    # by their own index (the Jinja check counted only the bad items: readme.txt was [0])
    "endpoint_protection_clamav_signature_files[1]",
    "endpoint_protection_clamav_hash_signatures[1]",
    "endpoint_protection_clamav_hash_signatures[2]",
    "endpoint_protection_clamav_scan_paths[1]",
    "endpoint_protection_aide_paths[1]",
    "endpoint_protection_aide_exclude[1]",
    "endpoint_protection_audit_watch_dirs[1]",
    "endpoint_protection_fail2ban_ignoreip[1]",
]
NOT_NAMED_ON = ["main.cvd", "Eicar", "10.0.0.1", "ClamAV has no signatures"]

EMPTY = {
    "endpoint_protection_clamav_mirror_url": "",
    "endpoint_protection_clamav_scan_paths": [],
    "endpoint_protection_clamav_quarantine_dir": "/var",
    "endpoint_protection_aide_paths": [],
    "endpoint_protection_fail2ban_maxretry": 0,
}
NAMED_EMPTY = [
    "endpoint_protection_clamav_mirror_url",  # no signature source at all
    "endpoint_protection_clamav_signature_files",
    "endpoint_protection_clamav_scan_paths",
    "endpoint_protection_clamav_quarantine_dir",
    "endpoint_protection_aide_paths",
    "endpoint_protection_fail2ban_maxretry",
]

# Switched off, a feature's inputs are not checked; the audit watch list always is.
OFF = {
    **BAD_ON,
    "endpoint_protection_clamav_enabled": False,
    "endpoint_protection_aide_enabled": False,
    "endpoint_protection_fail2ban_enabled": False,
}
NOT_NAMED_OFF = [n for n in NAMED_ON if "watch" not in n]


def test_sound_input_passes(tmp_path):
    proc = role_inputs("endpoint_protection", tmp_path, GOOD, "--check")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert TASK in proc.stdout


@pytest.mark.parametrize(
    ("values", "named", "not_named"),
    [
        (BAD_ON, NAMED_ON, NOT_NAMED_ON),
        (EMPTY, NAMED_EMPTY, ["[0]", "[1]"]),
        (OFF, ["endpoint_protection_audit_watch_dirs[1]: 'rel/watch'"], NOT_NAMED_OFF),
    ],
    ids=["every-check", "empty-and-boundaries", "features-off"],
)
def test_bad_values_are_each_named(tmp_path, values, named, not_named):
    proc = role_inputs("endpoint_protection", tmp_path, values)
    assert TASK in proc.stdout
    error = refusal(proc)
    assert_names(error, named, not_named)
