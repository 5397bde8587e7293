"""The input-check filters of plugins/filter/radshield_inputs.py, one case a row: each bad
value gives one message naming the variable, each sound value none."""

from __future__ import annotations

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
