"""The input-check filters of plugins/filter/radshield_inputs.py, one case a row: each bad
value gives one message naming the variable, each sound value none."""

from __future__ import annotations

import itertools
import re

import pytest
from ansible_collections.radshield.hardening.plugins.filter import radshield_inputs as f

N = "role_var"


@pytest.mark.parametrize(
    ("value", "kw", "message"),
    [
        ("", {}, "role_var: empty; give the password (from Vault)"),
        (None, {"user": "bob"}, "role_var: empty; give the password of bob (from Vault)"),
        ("ChangeMe", {}, "role_var: an example/default password"),
        ("archiver-long-name", {"user": "Archiver-Long-Name"}, "role_var: an example/default password"),
        ("short-1234", {}, "role_var: shorter than 16 characters"),
        ("twenty-characters-xx", {"min_length": 24}, "role_var: shorter than 24 characters"),
        ("it's-a-long-password", {}, "role_var: contains a quote, backslash or line break"),
        ("back\\slash-long-password", {}, "role_var: contains a quote, backslash or line break"),
        ("line\nbreak-long-password", {}, "role_var: contains a quote, backslash or line break"),
    ],
)  # fmt: skip
def test_secret_errors(value, kw, message):
    errors = f.secret_errors(value, N, **kw)
    assert len(errors) == 1 and errors[0].startswith(message), errors


def test_sound_secrets_pass():
    assert f.secret_errors("a-sound-Password-0123", N, user="archiver") == []
    assert f.secret_errors("it's-fine-outside-an-env-file", N, env_file=False) == []


@pytest.mark.parametrize(
    ("value", "kw", "ok"),
    [
        ("https://127.0.0.1:8043", {}, True),
        ("https://pacs-01.example.org", {}, True),
        ("https://pacs-01:8043/", {}, True),
        ("http://127.0.0.1:5799", {"schemes": ["https", "http"]}, True),
        ("", {"required": False}, True),
        ("", {}, False),
        ("http://127.0.0.1:8042", {}, False),
        ("https://user@host:8043", {}, False),
        ("https://host:99999", {}, False),
        ("https://host/path?q", {}, False),
        ("s3 please", {"required": False}, False),
    ],
)  # fmt: skip
def test_url_errors(value, kw, ok):
    errors = f.url_errors(value, N, **kw)
    assert (errors == []) is ok, errors
    assert all(e.startswith(f"{N}: ") for e in errors)


def test_http_is_refused_naming_why():
    assert f.url_errors("http://pacs:8042", N) == [
        "role_var: 'http://pacs:8042' is not https:// (PHI in transit)"
    ]


@pytest.mark.parametrize(
    ("value", "lo", "hi", "integer", "ok"),
    [(1, 1, 10, False, True), (10, 1, 10, True, True), (2.5, 1, 10, False, True),
     (0, 1, 10, False, False), (11, 1, 10, False, False), (2.5, 1, 10, True, False),
     (True, 0, 10, False, False), ("5", 1, 10, False, False), (None, 1, 10, False, False),
     (4.0, 1, 10, True, True)],
)  # fmt: skip
def test_number_errors(value, lo, hi, integer, ok):
    assert (f.number_errors(value, N, lo, hi, integer=integer) == []) is ok


@pytest.mark.parametrize(
    ("fn", "good", "bad"),
    [
        (f.s3_bucket_errors, ["practice-archive-123", "a.b.c"], ["", "Practice", "ab", "a..b", "-ab", "x" * 64]),
        (f.aws_region_errors, ["us-east-1", "eu-central-2", "us-gov-west-1"], ["", "moon", "US-EAST-1"]),
        (f.key_prefix_errors, ["radshield", "site_a-2"], ["", "a/b", "../x", ".hidden"]),
        (f.user_errors, ["archiver", "viewer"], ["", "a:b", "a b", None]),
    ],
)  # fmt: skip
def test_names(fn, good, bad):
    for v in good:
        assert fn(v, N) == [], v
    for v in bad:
        errors = fn(v, N)
        assert len(errors) == 1 and errors[0].startswith(f"{N}: "), (v, errors)


def test_url_paths_only_when_asked():
    assert f.url_errors("https://pacs-02:8043/orthanc", N, paths=True) == []
    assert f.url_errors("https://pacs-02:8043/orthanc", N) == [
        "role_var: 'https://pacs-02:8043/orthanc' is not a URL (scheme://host[:port])"
    ]


# ------------------------------------------------------------ generic checks (issue 12)


@pytest.mark.parametrize(
    ("value", "kw", "ok"),
    [(5, {}, True), ("5", {}, True), ("-3", {"lo": -5}, True), (60, {"lo": 60}, True),
     (10, {"lo": 1, "hi": 10}, True), (0, {"hi": 0}, True),
     (59, {"lo": 60}, False), (11, {"lo": 1, "hi": 10}, False), (1, {"hi": 0}, False),
     (True, {}, False), (False, {"lo": 0}, False), (5.0, {}, False), (2.5, {}, False),
     (" 5", {}, False), ("+5", {}, False), ("five", {}, False), (None, {}, False), ([5], {}, False)],
)  # fmt: skip
def test_int_errors(value, kw, ok):
    errors = f.int_errors(value, N, **kw)
    assert (errors == []) is ok, errors
    assert all(e.startswith(f"{N}: '{value}' is not a whole number") for e in errors)


def test_int_errors_say_the_bounds_and_unit():
    assert f.int_errors(59, N, lo=60, unit="seconds") == [
        "role_var: '59' is not a whole number of at least 60 (seconds)"
    ]
    assert f.int_errors(11, N, lo=1, hi=10) == ["role_var: '11' is not a whole number in [1, 10]"]
    assert f.int_errors(7, N, hi=6) == ["role_var: '7' is not a whole number of at most 6"]


@pytest.mark.parametrize(
    ("value", "ok"),
    [("alice", True), ("_svc-dicom", True), ("a" * 32, True), ("rs_admins", True),
     ("Alice", False), ("9lives", False), ("-x", False), ("a" * 33, False), ("a b", False),
     ("alice\n", False), ("", False), (None, False), (7, False), ("al.ice", False)],
)  # fmt: skip
def test_posix_name_errors(value, ok):
    errors = f.posix_name_errors(value, N)
    assert (errors == []) is ok, errors
    assert all(e.startswith(f"{N}: ") and "user name" in e for e in errors)
    assert "group name" in "".join(f.posix_name_errors("Bad", N, what="group name"))


@pytest.mark.parametrize(
    ("value", "required", "ok"),
    [("$6$salt$" + "x" * 86, False, True), ("$y$j9T$salt$hash", True, True), ("$2b$12$x", False, True),
     ("$gy$j9T$x", False, True), ("", False, True), (None, False, True),
     ("", True, False), (None, True, False), ("Clear-Text-1", False, False), ("$1$md5$x", False, False),
     ("x$6$", False, False), (123, False, False)],
)  # fmt: skip
def test_crypt_hash_errors(value, required, ok):
    errors = f.crypt_hash_errors(value, N, required=required)
    assert (errors == []) is ok, errors
    assert all(e.startswith(f"{N}: ") for e in errors)
    if isinstance(value, str) and value:
        assert all(value not in e for e in errors)  # never printed


KEYS = ["ssh-ed25519 AAAAC3Nza alice", "ssh-rsa AAAAB3Nza== bob", "ecdsa-sha2-nistp384 AAAAE2V",
        "sk-ssh-ed25519@openssh.com AAAAGnNr", "sk-ecdsa-sha2-nistp256@openssh.com AAAAInNr"]  # fmt: skip


def test_ssh_key_errors():
    assert f.ssh_key_errors(KEYS, N) == []
    assert f.ssh_key_errors([], N) == [] and f.ssh_key_errors(None, N) == []
    assert f.ssh_key_errors([], N, required=True, why="needed") == ["role_var: empty; needed"]
    assert f.ssh_key_errors(KEYS[0], N) == ["role_var: must be a list of public keys, not a string"]
    assert f.ssh_key_errors({"a": 1}, N) == [
        "role_var: must be a list of public keys, not a mapping"
    ]
    bad = [KEYS[0], "ssh-dss AAAA", "ecdsa-sha2-nistp999 AAAA", "ssh-ed25519", 5,
           "sk-ssh-ed25519@opensshXcom AAAA", "AAAAC3Nza ssh-ed25519"]  # fmt: skip
    assert f.ssh_key_errors(bad, N) == [
        f"role_var[{i}]: not an OpenSSH public key" for i in range(1, 7)
    ]


def test_unique_errors():
    items = [{"name": "a"}, {"name": "b"}, {"name": "a"}, {"name": "a"}, "junk", {"other": 1}]
    assert f.unique_errors(items, N) == ["role_var: name 'a' is listed more than once"]
    assert f.unique_errors([{"aet": "ct1"}, {"aet": "CT1"}], N, key="aet") == []
    assert f.unique_errors([{"aet": "ct1"}, {"aet": "CT1"}], N, key="aet", fold_case=True) == [
        "role_var: aet 'CT1' is listed more than once"
    ]
    assert f.unique_errors([{}, {}], N) == ["role_var: name '' is listed more than once"]
    assert f.unique_errors("not a list", N) == []


def test_only_if():
    assert f.only_if(["x"], True) == ["x"] and f.only_if(["x"], False) == []
    assert f.only_if(["x"], "") == [] and f.only_if(("x",), 1) == ["x"]


# ------------------------------------------------------------ role-specific checks


def test_access_control_account_errors():
    sound = [{"name": "alice", "ssh_keys": KEYS[:1]}, {"name": "gone", "state": "absent"}]
    assert f.access_control_account_errors(sound, "admins", admins=True) == []
    assert f.access_control_account_errors([{"name": "bob"}], "users") == []
    errors = f.access_control_account_errors(
        [{"name": "Bob", "ssh_keys": KEYS[0], "password_hash": "clear"}, {"name": "eve"}, "junk"],
        "admins", admins=True,
    )  # fmt: skip
    assert [e.split(":")[0] for e in errors] == [
        "admins[0].name", "admins[0].password_hash", "admins[0].ssh_keys", "admins[1].ssh_keys",
        "admins[2].name",
    ]  # fmt: skip
    assert f.access_control_account_errors({"name": "x"}, "users") == [
        "users: must be a list of accounts, not a mapping"
    ]


def test_access_control_guard_errors():
    admins = [{"name": "alice", "ssh_keys": KEYS[:1]}, {"name": "gone", "state": "absent"}]
    g = f.access_control_guard_errors
    assert (
        g("alice", admins, True) == [] and g("root", [], True) == [] and g("eve", [], False) == []
    )
    for user in ("eve", "gone"):
        (msg,) = g(user, admins, True)
        assert msg.startswith(f"lockout guard: the connecting admin {user} is not a present entry")


def test_secret_errors_parts_owner_and_min_name():
    kw = {"env_file": False, "weak_parts": True}
    for pw in (
        "my-EXAMPLE-password-123456",
        "xx-ChangeMe-xx-long-enough",
        "a-placeholder-long-value",
    ):
        assert f.secret_errors(pw, N, **kw) == ["role_var: an example/default password"], pw
    assert f.secret_errors("my-EXAMPLE-password-123456", N) == []  # parts only when asked
    assert f.secret_errors("long-but-weak-part-xyz", N, weak_parts=["weak"]) != []
    assert f.secret_errors("restic", N, weak=["restic"]) == [
        "role_var: an example/default password"
    ]
    assert f.secret_errors("changeme", N, owner="client 'a'") == [
        "role_var: client 'a' has an example/default password"
    ]
    assert f.secret_errors("short-1", N, owner="client 'a'", min_name="min_var") == [
        "role_var: client 'a' is shorter than min_var (16)"
    ]
    assert f.secret_errors("short-1", N, min_length=8) == ["role_var: shorter than 8 characters"]
    assert f.secret_errors("it's-long-enough-outside", N, **kw) == []


@pytest.mark.parametrize(
    ("fn", "good", "bad"),
    [
        (f.plain_name_errors, ["pacs-01", "PACS_02.site", "9x"], ["", "pacs 01", "-x", ".x", "a/b", None, 5, "a\n"]),
        (f.nonempty_errors, [[1], {"a": 1}, "x"], [[], {}, "", None]),
    ],
)  # fmt: skip
def test_plain_and_nonempty(fn, good, bad):
    for v in good:
        assert fn(v, N) == [], v
    for v in bad:
        errors = fn(v, N)
        assert len(errors) == 1 and errors[0].startswith(f"{N}: "), (v, errors)
    assert f.nonempty_errors([], N, what="client", hint="give one") == [
        "role_var: no client given; give one"
    ]


@pytest.mark.parametrize(
    ("value", "kw", "ok"),
    [("25h", {}, True), ("90s", {}, True), ("7d", {"units": "ymdh"}, True),
     ("1y6m2d12h", {"units": "ymdh", "compound": True}, True), ("600", {"units": "smhdw", "bare": True}, True),
     (600, {"units": "smhdw", "bare": True}, True), ("1w", {"units": "smhdw", "bare": True}, True),
     ("", {}, False), ("25", {}, False), ("25 h", {}, False), ("1d2h", {}, False), ("7w", {}, False),
     ("7 days", {"units": "ymdh", "compound": True}, False), ("h", {}, False), (25, {}, False),
     (True, {"bare": True}, False), (None, {}, False), ("10m\n", {}, False)],
)  # fmt: skip
def test_duration_errors(value, kw, ok):
    errors = f.duration_errors(value, N, **kw)
    assert (errors == []) is ok, errors
    assert all(e.startswith(f"{N}: '{value}' is not a duration") for e in errors)


def test_controller_file_errors(tmp_path):
    real = tmp_path / "ca.crt"
    real.write_text("x")
    assert f.controller_file_errors(str(real), N) == []
    assert f.controller_file_errors(str(tmp_path), N) == [
        f"role_var: '{tmp_path}' is not a file on the controller"
    ]
    assert f.controller_file_errors("/no/such", N, why=" (mode)") == [
        "role_var: '/no/such' is not a file on the controller (mode)"
    ]
    assert f.controller_file_errors("/no/such", N, check_mode=True) == []  # made in the real run
    assert f.controller_file_errors("", N, check_mode=True) != []  # but it must be named
    assert f.controller_file_errors(None, N) == ["role_var: '' is not a file on the controller"]


def test_backup_server_client_errors():
    good = [
        {
            "name": "pacs-01",
            "rest_password": "a-Rest-Password-0123",
            "repo_password": "a-Repo-Password-0123",
        }
    ]
    weak = ["restic", "backup"]
    assert f.backup_server_client_errors(good, "c", 16, weak) == []
    bad = [
        {"name": "pacs 01", "rest_password": "", "repo_password": "Restic"},
        {"name": "pacs-02", "rest_password": "PACS-02", "repo_password": "short"},
        {"rest_password": "a-Rest-Password-0123", "repo_password": "a-Repo-Password-0123"},
        {
            "name": None,
            "rest_password": "a-Rest-Password-0123",
            "repo_password": "a-Repo-Password-0123",
        },
    ]
    errors = f.backup_server_client_errors(bad, "c", 16, weak, min_name="min")
    assert errors == [
        "c[0].name: 'pacs 01' is not a plain host name (A-Z a-z 0-9 . _ -, a letter or digit first)",
        "c[0].rest_password: empty; give the password of pacs 01 (from Vault)",
        "c[0].repo_password: client 'pacs 01' has an example/default password",
        "c[1].rest_password: client 'pacs-02' has an example/default password",
        "c[1].repo_password: client 'pacs-02' is shorter than min (16)",
        "c[2].name: '' is not a plain host name (A-Z a-z 0-9 . _ -, a letter or digit first)",
        "c[3].name: '' is not a plain host name (A-Z a-z 0-9 . _ -, a letter or digit first)",
    ]
    assert f.backup_server_client_errors([{**good[0], "name": 5}], "c", 16, weak) == []


@pytest.mark.parametrize(
    ("value", "kw", "ok"),
    [("/", {}, True), ("/srv/dicom@import+1", {}, True), ("/etc/nftables.d", {"root_ok": False}, True),
     ("/a b", {"chars": None}, True), ("/", {"root_ok": False}, False), ("rel/x", {}, False),
     ("", {}, False), ("/a b", {}, False), ("/a;b", {}, False), ("/a@b", {"chars": "A-Za-z0-9_./-"}, False),
     (None, {}, False), (["/x"], {}, False), ("rel", {"chars": None}, False), ("/x\n", {}, False)],
)  # fmt: skip
def test_path_errors(value, kw, ok):
    errors = f.path_errors(value, N, **kw)
    assert (errors == []) is ok, errors
    assert all(e.startswith(f"{N}: '{value}' is not an absolute path") for e in errors)


def test_path_list_and_address_list_errors():
    assert f.path_list_errors(["/etc", "/srv"], N) == [] and f.path_list_errors([], N) == []
    assert f.path_list_errors([], N, required=True, hint="on") == ["role_var: no path given; on"]
    assert [e.split(":")[0] for e in f.path_list_errors(["/etc", "x", "/y", "z z"], N)] == [
        "role_var[1]", "role_var[3]",
    ]  # fmt: skip
    assert f.path_list_errors("/etc", N) == [
        "role_var: must be a list of absolute paths, not a string"
    ]
    good = ["10.0.0.1", "10.213.30.0/24", "10.213.30.7/24", "fd00::1", "fd00:30::/64"]
    assert f.address_list_errors(good, N) == []
    bad = ["10.0.0.1", "10.0.0.300", "10.0.0.0/33", "host.lan", "", None, "::::", "1.2.3.4/-1"]
    assert [e.split(":")[0] for e in f.address_list_errors(bad, N)] == [
        f"role_var[{i}]" for i in range(1, 8)
    ]
    assert f.address_list_errors("10.0.0.1", N) != []


def test_endpoint_protection_clamav_errors():
    c = f.endpoint_protection_clamav_errors
    q = "/var/lib/radshield/quarantine"
    eicar = "44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test"
    for sources in (("av-mirror.lan", [], []), ("", ["/s/main.cvd"], []), ("", [], [eicar])):
        assert c(*sources, ["/home"], q) == [], sources
    for url in ("http://m.lan:8080/clamav", "https://m.lan", "m.lan:3128", "10.0.0.5"):
        assert c(url, [], [], ["/home"], q) == [], url
    (msg,) = c("", [], [], ["/home"], q)
    assert (
        msg.startswith("ClamAV has no signatures")
        and "endpoint_protection_clamav_mirror_url" in msg
    )
    for url in ("ftp://m.lan", "http://m lan", "http://user@m.lan", "m.lan:port"):
        assert c(url, [], [eicar], ["/home"], q) == [
            f"endpoint_protection_clamav_mirror_url: '{url}' is not a host name or http(s) URL"
        ]
    errors = c("", ["/s/a.cvd", "/s/readme.txt", "/s/x.yara", "/s/hdb"],
               [eicar, "nothex:1:x", "a" * 64 + ":*:n", "a" * 31 + ":1:n", eicar + " x"], ["/home"], q)  # fmt: skip
    assert [e.split(":")[0] for e in errors] == [
        "endpoint_protection_clamav_signature_files[1]", "endpoint_protection_clamav_signature_files[3]",
        "endpoint_protection_clamav_hash_signatures[1]", "endpoint_protection_clamav_hash_signatures[3]",
        "endpoint_protection_clamav_hash_signatures[4]",
    ]  # fmt: skip
    for quarantine, scanned in ((q, [q]), ("/var", []), ("/", []), ("/tmp", []), ("/var/lib", [])):
        (msg,) = c("m.lan", [], [], scanned, quarantine)
        assert msg.startswith("endpoint_protection_clamav_quarantine_dir: ")
    assert c("m.lan", "x.cvd", None, [], q) == [
        "endpoint_protection_clamav_signature_files: must be a list, not a string",
        "endpoint_protection_clamav_hash_signatures: must be a list, not nothing",
    ]


@pytest.mark.parametrize(
    ("value", "ok"),
    [("10/second", True), ("5/minute", True), ("100/hour", True), ("1/day", True),
     ("5/week", False), ("fast", False), ("5 /minute", False), ("/minute", False), ("5/minutes", False),
     ("", False), (None, False), (5, False), ("5/minute\n", False)],
)  # fmt: skip
def test_rate_errors(value, ok):
    errors = f.rate_errors(value, N, example="10/second")
    assert (errors == []) is ok, errors
    assert all(e.startswith(f"{N}: '{value}' is not a rate like 10/second") for e in errors)


@pytest.mark.parametrize(
    ("value", "kw", "ok"),
    [("https://[fd00:40::5]:8000", {}, True), ("https://[::1]", {}, True),
     ("https://siem/hook?token=x", {"paths": True, "query": True}, True),
     ("https://[10.0.0.1]:8000", {}, False), ("https://[zz::1]", {}, False), ("https://fd00::5:8000", {}, False),
     ("https://siem/hook?token=x", {"paths": True}, False), ("https://siem/hook#frag", {"paths": True, "query": True}, False),
     ("https://b/a b", {"paths": True}, False), ("https://b:abc", {}, False)],
)  # fmt: skip
def test_url_errors_ipv6_and_query(value, kw, ok):
    assert (f.url_errors(value, N, **kw) == []) is ok


def test_url_credentials_are_never_printed():
    for url in ("https://user:s3cret@host:8000", "http://user:s3cret@host"):
        (msg,) = f.url_errors(url, N)
        assert "s3cret" not in msg and "//***@host" in msg, msg


def test_differ_errors():
    assert f.differ_errors("a", N, "b", "other") == []
    assert f.differ_errors("", N, "", "other") == [] and f.differ_errors(None, N, None, "o") == []
    assert f.differ_errors("same", N, "same", "other") == ["role_var: must differ from other"]


@pytest.mark.parametrize(
    ("value", "ok"),
    [("RADSHIELD_PACS", True), ("MOD 01", True), ("A" * 16, True), ("ws-1", True),
     ("", False), ("A" * 17, False), (" PACS", False), ("PACS ", False), ("CT\\01", False),
     ("PACS\u00e9", False), ("PACS\n", False), (None, False), (104, False)],
)  # fmt: skip
def test_dicom_aet_errors(value, ok):
    errors = f.dicom_aet_errors(value, N)
    assert (errors == []) is ok, errors
    assert all(e.startswith(f"{N}: ") for e in errors)


def test_pacs_orthanc_user_errors():
    pw = "A-long-enough-password-42"
    weak = ["orthanc", "changeme"]
    assert f.pacs_orthanc_user_errors([{"name": "admin", "password": pw}], "u", 16, weak) == []
    bad = [{"name": "adm:in", "password": pw}, {"name": "a b", "password": pw}, {"name": "", "password": pw},
           {"name": "v", "password": ""}, {"name": "v", "password": "V"}, {"name": "t", "password": "Orthanc"},
           {"name": "s", "password": "Sh0rt-pass"}, {"password": pw}, "junk"]  # fmt: skip
    errors = f.pacs_orthanc_user_errors(bad, "u", 16, weak, min_name="min")
    assert [e.split(":")[0] for e in errors] == [
        "u[0].name", "u[1].name", "u[2].name", "u[3].password", "u[4].password", "u[5].password",
        "u[6].password", "u[7].name", "u[8].name", "u[8].password",
    ]  # fmt: skip
    assert "u[6].password: user 's' is shorter than min (16)" in errors
    assert all(pw not in e for e in errors)


def test_pacs_orthanc_modality_errors():
    good = [{"aet": "MOD01", "host": "10.0.0.1"}, {"aet": "WS", "host": "ws", "port": "11112"}]
    assert f.pacs_orthanc_modality_errors(good, "m") == []
    bad = [{"aet": "A" * 17, "host": "h", "port": 0}, {"aet": "OK", "host": " "}, {"aet": "OK", "port": 70000},
           {"aet": "OK", "host": "h", "port": None}, {"host": "h"}]  # fmt: skip
    assert [e.split(":")[0] for e in f.pacs_orthanc_modality_errors(bad, "m")] == [
        "m[0].aet", "m[0].port", "m[1].host", "m[2].host", "m[2].port", "m[3].port", "m[4].aet",
    ]  # fmt: skip


def test_at_least_errors():
    a = f.at_least_errors
    assert a(10, N, 10, "lo") == [] and a("11", N, 10, "lo", strict=True) == []
    assert a(9, N, 10, "lo") == ["role_var: smaller than lo (10)"]
    assert a(10, N, 10, "lo", strict=True) == ["role_var: must be more than lo (10)"]
    for x, y in ((True, 10), ("x", 10), (5, None), (5, 2.5)):  # int_errors names these
        assert a(x, N, y, "lo") == [] and a(y, N, x, "lo", strict=True) == []


@pytest.mark.parametrize(
    ("value", "ok"),
    [([], True), (["/usr/local/sbin/isolate"], True), (("/bin/x", "--now", "-v"), True),
     (["isolate"], False), (["/bin/x", ""], False), (["/bin/x", 5], False), ([""], False),
     ("/usr/local/sbin/isolate", False), ({"cmd": "/bin/x"}, False), (None, False), (5, False)],
)  # fmt: skip
def test_argv_errors(value, ok):
    assert (f.argv_errors(value, N) == []) is ok


def test_name_list_errors():
    assert f.name_list_errors(["alice", "_svc-1"], N) == [] and f.name_list_errors([], N) == []
    errors = f.name_list_errors(["rsadmins", "Bad Group", "ok", 5], N, what="group name")
    assert [e.split(":")[0] for e in errors] == ["role_var[1]", "role_var[3]"]
    assert all("is not a group name" in e for e in errors)
    # a string is not iterated character by character (each letter passed the Jinja loop)
    assert f.name_list_errors("rsadmins", N, what="group name") == [
        "role_var: must be a list of group names, not a string"
    ]


def test_umask_errors_accept_what_the_jinja_regex_did():
    """Every 3- and 4-digit candidate: the same verdict as the role's old `^0?[0-7][2367]7$`."""
    old = re.compile(r"^0?[0-7][2367]7$")
    for n in (3, 4):
        for digits in itertools.product("0123456789", repeat=n):
            v = "".join(digits)
            assert (f.umask_errors(v, N) == []) is bool(old.match(v)), v
    for v in ("", "27", "00027", "0o27", None, 23, "027\n"):
        assert f.umask_errors(v, N) != [], v
    assert (
        f.umask_errors("077", N, floor="077") == [] and f.umask_errors("027", N, floor="077") != []
    )


@pytest.mark.parametrize(
    ("value", "ok"),
    [("00:00", True), ("03:00", True), ("23:59", True), ("24:00", False), ("3:00", False),
     ("12:60", False), ("12-00", False), ("", False), (None, False), ("03:00\n", False)],
)  # fmt: skip
def test_clock_time_errors(value, ok):
    assert (f.clock_time_errors(value, N) == []) is ok
