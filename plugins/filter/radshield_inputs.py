"""Input checks shared by the roles, in Python rather than Jinja (issue 12): each returns a
list of messages, one per problem, each naming the variable; empty when the value is sound.
A role's assert task joins them, so a bad input stops the role before any change.

    {{ pacs_archive_copy_orthanc_password | radshield.hardening.secret_errors(
         'pacs_archive_copy_orthanc_password', user=pacs_archive_copy_orthanc_user) }}
"""

from __future__ import annotations

import re

# Example or vendor-default passwords refused whatever their length (compared lower-case).
WEAK_SECRETS = frozenset(
    ["changeme", "change_me", "orthanc", "password", "passw0rd", "admin", "secret", "example",
     "letmein", "123456"]
)  # fmt: skip
_URL = re.compile(
    r"^(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<host>[^/?#:\s@]+)(:(?P<port>[0-9]{1,5}))?(?P<path>/[^?#\s]*)?$"
)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_USER = re.compile(r"^[^\s:]+$")


def _blank(value) -> bool:
    return value is None or str(value) == ""


def secret_errors(value, name, user="", min_length=16, env_file=True, weak=WEAK_SECRETS):
    """A password or key from Vault: given, not an example, not the user name, at least
    `min_length` characters; with `env_file`, representable single-quoted in a systemd
    EnvironmentFile (no quote, backslash or line break)."""
    if _blank(value):
        who = f" of {user}" if user else ""
        return [f"{name}: empty; give the password{who} (from Vault)"]
    v = str(value)
    if v.lower() in weak or (user and v.lower() == str(user).lower()):
        return [f"{name}: an example/default password"]
    if len(v) < int(min_length):
        return [f"{name}: shorter than {min_length} characters"]
    if env_file and any(c in v for c in "'\\\n\r"):
        return [f"{name}: contains a quote, backslash or line break (not in an EnvironmentFile)"]
    return []


def user_errors(value, name):
    """A login or REST user name: given, no ':' (HTTP Basic) and no blanks."""
    if _blank(value) or not _USER.match(str(value)):
        return [f"{name}: missing, or contains ':' or blanks"]
    return []


def url_errors(value, name, schemes=("https",), required=True, paths=False):
    """scheme://host[:port] (and a /path when `paths`) with one of `schemes` (https only by
    default: PHI in transit); an empty value is an error only when `required`."""
    if _blank(value):
        return [f"{name}: required ({'/'.join(schemes)}://host[:port])"] if required else []
    m = _URL.match(str(value))
    if (
        not m
        or (m.group("port") and not 0 < int(m.group("port")) < 65536)
        or (m.group("path") not in (None, "/") and not paths)
    ):
        return [
            f"{name}: '{value}' is not a URL (scheme://host[:port]{'[/path]' if paths else ''})"
        ]
    if m.group("scheme") not in schemes:
        return [
            f"{name}: '{value}' is not {' or '.join(s + '://' for s in schemes)} (PHI in transit)"
        ]
    return []


def number_errors(value, name, lo, hi, integer=False):
    """A number (not a boolean, not a string) in [lo, hi]; an integer when `integer`."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and integer:
        ok = isinstance(value, int) or float(value).is_integer()
    if not ok or not lo <= value <= hi:
        return [
            f"{name}: '{value}' is not {'an integer' if integer else 'a number'} in [{lo}, {hi}]"
        ]
    return []


def s3_bucket_errors(value, name):
    """An S3 bucket name (3-63 lower-case letters, digits, dots and hyphens; no '..')."""
    v = "" if value is None else str(value)
    if not _BUCKET.match(v) or ".." in v:
        return [f"{name}: '{v}' is not an S3 bucket name"]
    return []


def aws_region_errors(value, name):
    v = "" if value is None else str(value)
    return [] if _REGION.match(v) else [f"{name}: '{v}' is not an AWS region"]


def key_prefix_errors(value, name):
    """A plain key prefix: letters, digits, '.', '_' and '-', no '/' (no traversal)."""
    v = "" if value is None else str(value)
    return (
        []
        if _PREFIX.match(v)
        else [f"{name}: '{v}' is not a plain key prefix (letters, digits, . _ -)"]
    )


class FilterModule:
    def filters(self):
        return {
            "secret_errors": secret_errors,
            "user_errors": user_errors,
            "url_errors": url_errors,
            "number_errors": number_errors,
            "s3_bucket_errors": s3_bucket_errors,
            "aws_region_errors": aws_region_errors,
            "key_prefix_errors": key_prefix_errors,
        }
