"""Input checks shared by the roles, in Python rather than Jinja (issue 12): each returns a
list of messages, one per problem, each naming the variable; empty when the value is sound.
A role's assert task joins them, so a bad input stops the role before any change.

    {{ pacs_archive_copy_orthanc_password | radshield.hardening.secret_errors(
         'pacs_archive_copy_orthanc_password', user=pacs_archive_copy_orthanc_user) }}

A role's check is a list concatenation of these calls, no Jinja loop or branch; a check that
applies only while a feature is on is wrapped in `only_if`. The generic checks come first;
the role-specific ones (a role's own list schema, its lockout guard) are at the end.
"""

from __future__ import annotations

import ipaddress
import os
import re

# Example or vendor-default passwords refused whatever their length (compared lower-case).
WEAK_SECRETS = frozenset(
    ["changeme", "change_me", "orthanc", "password", "passw0rd", "admin", "secret", "example",
     "letmein", "123456"]
)  # fmt: skip
# Refused anywhere in a password (compared lower-case), where a role asks for it.
WEAK_PARTS = ("example", "changeme", "change-me", "placeholder")
_URL = re.compile(
    r"^(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<host>\[[0-9A-Fa-f:.]+\]|[^/?#:\s@\[\]]+)"
    r"(:(?P<port>[0-9]{1,5}))?(?P<path>/[^?#\s]*)?(?P<query>\?[^#\s]*)?$"
)
_USERINFO = re.compile(r"//[^/?#\s]*@")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_USER = re.compile(r"^[^\s:]+$")
# A POSIX user or group name as useradd/groupadd take it on Debian (at most 32 characters).
_POSIX_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_INT = re.compile(r"-?[0-9]+")
# Characters of a plain absolute path (no blanks, quotes, globs or shell metacharacters).
PATH_CHARS = "A-Za-z0-9_./@+-"
_CLAMAV_DB = re.compile(
    r".*\.(cvd|cld|cud|hdb|hsb|mdb|msb|ndb|ldb|cdb|ign2|fp|sfp|ftm|pdb|wdb|yar|yara|cbc|idb|crb)"
)
_CLAMAV_HASH = re.compile(r"[0-9a-fA-F]{32,64}:([0-9]+|\*):[A-Za-z0-9._-]+")
# A DICOM AE title as Orthanc takes it (1-16 of A-Z a-z 0-9 _ - space, no edge blank).
_AET = re.compile(r"[A-Za-z0-9_ -]{1,16}")
_UMASK = re.compile(r"0?[0-7]{3}")
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_RATE = re.compile(r"[0-9]+/(second|minute|hour|day)")
_MIRROR = re.compile(r"(https?://)?[A-Za-z0-9.-]+(:[0-9]+)?(/\S*)?")
# crypt(3): yescrypt, sha512, sha256, bcrypt, gost-yescrypt (a prefix check: never print it)
_CRYPT = re.compile(r"\$(y|6|5|2b|gy)\$")
_SSH_KEY = re.compile(
    r"(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)"
    r" [A-Za-z0-9+/=]+"
)


def _blank(value) -> bool:
    return value is None or str(value) == ""


def _kind(value) -> str:
    """What a value is, in words (Ansible 2.19 hands filters tagged subclasses of str/dict)."""
    for t, word in ((bool, "a boolean"), (str, "a string"), (dict, "a mapping"),
                    ((int, float), "a number"), ((list, tuple), "a list")):  # fmt: skip
        if isinstance(value, t):
            return word
    return "nothing" if value is None else type(value).__name__


def secret_errors(value, name, user="", min_length=16, env_file=True, weak=WEAK_SECRETS,
                  weak_parts=(), min_name="", owner=""):  # fmt: skip
    """A password or key from Vault: given, not an example, not the user name, at least
    `min_length` characters; with `env_file`, representable single-quoted in a systemd
    EnvironmentFile (no quote, backslash or line break). `weak_parts` (True: WEAK_PARTS) are
    refused anywhere in it; `min_name` is the variable holding `min_length`, `owner` whose
    password it is ("client 'pacs-01'"), both said in the messages."""
    if _blank(value):
        who = f" of {user}" if user else ""
        return [f"{name}: empty; give the password{who} (from Vault)"]
    v = str(value)
    low = v.lower()
    parts = WEAK_PARTS if weak_parts is True else (weak_parts or ())
    if low in weak or (user and low == str(user).lower()) or any(p in low for p in parts):
        return [f"{name}: {f'{owner} has ' if owner else ''}an example/default password"]
    if len(v) < int(min_length):
        least = f"{min_name} ({min_length})" if min_name else f"{min_length} characters"
        return [f"{name}: {f'{owner} is ' if owner else ''}shorter than {least}"]
    if env_file and any(c in v for c in "'\\\n\r"):
        return [f"{name}: contains a quote, backslash or line break (not in an EnvironmentFile)"]
    return []


def user_errors(value, name):
    """A login or REST user name: given, no ':' (HTTP Basic) and no blanks."""
    if _blank(value) or not _USER.match(str(value)):
        return [f"{name}: missing, or contains ':' or blanks"]
    return []


def _ipv6_literal_ok(host: str) -> bool:
    if not host.startswith("["):
        return True
    try:
        return ipaddress.ip_address(host[1:-1]).version == 6
    except ValueError:
        return False


def url_errors(value, name, schemes=("https",), required=True, paths=False, query=False):
    """scheme://host[:port] (and a /path when `paths`, a ?query when `query`) with one of
    `schemes` (https only by default: PHI in transit); the host may be an [IPv6] literal; an
    empty value is an error only when `required`. Credentials in a URL are refused and never
    printed."""
    if _blank(value):
        return [f"{name}: required ({'/'.join(schemes)}://host[:port])"] if required else []
    shown = _USERINFO.sub("//***@", str(value))
    m = _URL.match(str(value))
    if (
        not m
        or not _ipv6_literal_ok(m.group("host"))
        or (m.group("port") and not 0 < int(m.group("port")) < 65536)
        or (m.group("path") not in (None, "/") and not paths)
        or (m.group("query") is not None and not query)
    ):
        form = f"scheme://host[:port]{'[/path]' if paths else ''}{'[?query]' if query else ''}"
        return [f"{name}: '{shown}' is not a URL ({form})"]
    if m.group("scheme") not in schemes:
        return [
            f"{name}: '{shown}' is not {' or '.join(s + '://' for s in schemes)} (PHI in transit)"
        ]
    return []


def differ_errors(value, name, other, other_name):
    """`value` is not `other` (two secrets that must not be the same one)."""
    if not _blank(other) and value == other:
        return [f"{name}: must differ from {other_name}"]
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


def plain_name_errors(value, name, what="name"):
    """A plain name (a host, a REST user, a directory): A-Z a-z 0-9 '.', '_' and '-', a letter
    or digit first; a string."""
    if isinstance(value, str) and _PREFIX.fullmatch(value):
        return []
    return [f"{name}: '{value}' is not a plain {what} (A-Z a-z 0-9 . _ -, a letter or digit first)"]


def nonempty_errors(value, name, what="entry", hint=""):
    """At least one item (a list, a mapping, a string)."""
    if value is not None and len(value) > 0:
        return []
    return [f"{name}: no {what} given{f'; {hint}' if hint else ''}"]


def duration_errors(value, name, units="smhd", compound=False, bare=False, example="25h"):
    """A duration: digits and one of `units` (`bare`: the unit may be left out; `compound`:
    several such pieces, as restic's 1y6m)."""
    piece = f"[0-9]+[{units}]{'?' if bare else ''}"
    pattern = f"({piece})+" if compound else piece
    if not isinstance(value, bool) and re.fullmatch(pattern, str(value)):
        return []
    return [f"{name}: '{value}' is not a duration like {example} (units: {' '.join(units)})"]


def controller_file_errors(value, name, check_mode=False, why=""):
    """A file on the controller (filters run there). In --check (`check_mode`) a missing file
    is accepted: an earlier role may make it in the real run (the practice CA of pacs_orthanc)."""
    if _blank(value) or not (check_mode or os.path.isfile(str(value))):
        return [f"{name}: '{'' if value is None else value}' is not a file on the controller{why}"]
    return []


def path_errors(value, name, chars=PATH_CHARS, root_ok=True):
    """An absolute path (a string starting with '/'), of `chars` only (a regex character
    class; None: any); `root_ok=False` refuses '/' itself."""
    ok = isinstance(value, str) and value.startswith("/") and (root_ok or value != "/")
    if ok and chars is not None:
        ok = re.fullmatch(f"/[{chars}]*", value) is not None
    if ok:
        return []
    only = "" if chars is None else f" (only {chars.replace('A-Za-z0-9', 'letters, digits and ')})"
    return [f"{name}: '{value}' is not an absolute path{only}"]


def path_list_errors(values, name, chars=PATH_CHARS, required=False, hint=""):
    """A list of absolute paths (`path_errors`), each named by its index; empty only when not
    `required` (`hint` says why it is)."""
    if not isinstance(values, (list, tuple)):
        return [f"{name}: must be a list of absolute paths, not {_kind(values)}"]
    if required and not values:
        return nonempty_errors(values, name, what="path", hint=hint)
    return [e for i, v in enumerate(values) for e in path_errors(v, f"{name}[{i}]", chars)]


def address_list_errors(values, name):
    """A list of IPv4/IPv6 addresses or networks in CIDR notation, each named by its index."""
    if not isinstance(values, (list, tuple)):
        return [f"{name}: must be a list of addresses or CIDRs, not {_kind(values)}"]
    errors = []
    for i, v in enumerate(values):
        try:
            ipaddress.ip_network(v if isinstance(v, str) else "", strict=False)
        except ValueError:
            errors.append(f"{name}[{i}]: '{v}' is not an address or a CIDR")
    return errors


def rate_errors(value, name, example="5/minute"):
    """An nftables `limit rate`: a count per second, minute, hour or day."""
    if isinstance(value, str) and _RATE.fullmatch(value):
        return []
    return [f"{name}: '{value}' is not a rate like {example} (per second, minute, hour or day)"]


def dicom_aet_errors(value, name):
    """A DICOM Application Entity title: 1-16 of A-Z a-z 0-9 '_', '-' and space, no leading or
    trailing blank."""
    if isinstance(value, str) and _AET.fullmatch(value) and value == value.strip():
        return []
    return [
        f"{name}: '{value}' is not a DICOM AE title (1-16 of A-Z 0-9 _ - space, no edge blanks)"
    ]


def at_least_errors(value, name, other, other_name, strict=False):
    """`value` is at least (`strict`: more than) `other`, compared only when both are whole
    numbers (`int_errors` names the one that is not)."""
    a, b = _int(value), _int(other)
    if a is None or b is None or a > b or (a == b and not strict):
        return []
    if strict:
        return [f"{name}: must be more than {other_name} ({other})"]
    return [f"{name}: smaller than {other_name} ({other})"]


def argv_errors(value, name):
    """A command as an argv list: [] (none), or non-empty strings, the first an absolute path
    (no shell, no search of PATH)."""
    ok = isinstance(value, (list, tuple)) and (
        not value
        or (all(isinstance(a, str) and a != "" for a in value) and str(value[0]).startswith("/"))
    )
    if ok:
        return []
    return [f"{name}: must be [] or an argv list of strings, the first an absolute path"]


def umask_errors(value, name, floor="027"):
    """A umask as a string of three octal digits (a leading 0 allowed) masking at least the
    bits `floor` masks (027: no write for the group, nothing for others)."""
    need = int(floor, 8)
    if isinstance(value, str) and _UMASK.fullmatch(value) and int(value, 8) & need == need:
        return []
    return [f"{name}: '{value}' is not a umask (three octal digits) at least as strict as {floor}"]


def clock_time_errors(value, name):
    """A time of day as HH:MM (24 hours)."""
    if isinstance(value, str) and _CLOCK.fullmatch(value):
        return []
    return [f"{name}: '{value}' is not a time of day HH:MM (00:00 to 23:59)"]


def only_if(errors, condition):
    """`errors` while `condition` holds (a feature switched on), else none: the checks of a
    feature that is off do not stop the role. Truth as Jinja's `{% if %}` had it."""
    return list(errors) if condition else []


def _int(value):
    """`value` as an int when it is one: an int (not a boolean) or a string of digits (as
    `-e name=5` gives it); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT.fullmatch(value):
        return int(value)
    return None


def int_errors(value, name, lo=None, hi=None, unit=""):
    """A whole number (an int, or a string of digits; not a boolean, not a float) in
    [lo, hi] (either bound may be left open); `unit` is said in the message."""
    n = _int(value)
    if n is not None and (lo is None or n >= lo) and (hi is None or n <= hi):
        return []
    if lo is not None and hi is not None:
        bounds = f" in [{lo}, {hi}]"
    elif lo is not None:
        bounds = f" of at least {lo}"
    else:
        bounds = "" if hi is None else f" of at most {hi}"
    return [f"{name}: '{value}' is not a whole number{bounds}{f' ({unit})' if unit else ''}"]


def posix_name_errors(value, name, what="user name"):
    """A user or group name useradd/groupadd accept: a-z, 0-9, '_' and '-', starting with a
    letter or '_', at most 32 characters."""
    if isinstance(value, str) and _POSIX_NAME.fullmatch(value):
        return []
    return [f"{name}: '{value}' is not a {what} (a-z 0-9 _ -, a letter or _ first, at most 32)"]


def name_list_errors(values, name, what="user name"):
    """A list of user or group names (`posix_name_errors`), each named by its index."""
    if not isinstance(values, (list, tuple)):
        return [f"{name}: must be a list of {what}s, not {_kind(values)}"]
    return [e for i, v in enumerate(values) for e in posix_name_errors(v, f"{name}[{i}]", what)]


def crypt_hash_errors(value, name, required=False):
    """A crypt(3) hash ($y$ yescrypt, $6$ sha512 ...), never a clear-text password; an empty
    value is an error only when `required`. The value is never printed."""
    if _blank(value):
        return [f"{name}: empty; give a crypt(3) hash (from Vault)"] if required else []
    if isinstance(value, str) and _CRYPT.match(value):
        return []
    return [
        f"{name}: not a crypt(3) hash (yescrypt $y$ or sha512 $6$), never a clear-text password"
    ]


def ssh_key_errors(keys, name, required=False, why=""):
    """A list of OpenSSH public keys (ed25519, RSA, ECDSA, FIDO sk-), one message per bad key
    naming its index; an empty list is an error only when `required` (`why` says why)."""
    if keys is None:
        keys = []
    if not isinstance(keys, (list, tuple)):
        return [f"{name}: must be a list of public keys, not {_kind(keys)}"]
    if not keys:
        return [f"{name}: empty{f'; {why}' if why else ''}"] if required else []
    return [
        f"{name}[{i}]: not an OpenSSH public key"
        for i, k in enumerate(keys)
        if not (isinstance(k, str) and _SSH_KEY.match(k))
    ]


def unique_errors(items, name, key="name", fold_case=False):
    """Each `key` of a list of mappings given once (compared case-blind with `fold_case`)."""
    seen, dups = set(), []
    for item in items if isinstance(items, (list, tuple)) else []:
        if not isinstance(item, dict):
            continue
        v = str(item.get(key, ""))
        v = v.upper() if fold_case else v
        if v in seen and v not in dups:
            dups.append(v)
        seen.add(v)
    return [f"{name}: {key} '{v}' is listed more than once" for v in dups]


# ------------------------------------------------------------------ role-specific checks


def access_control_account_errors(accounts, name, admins=False):
    """access_control_admins / _users: per account (named by its index) a user name, a crypt
    hash if any, a list of public keys; a present administrator needs at least one key."""
    if not isinstance(accounts, (list, tuple)):
        return [f"{name}: must be a list of accounts, not {_kind(accounts)}"]
    errors = []
    for i, u in enumerate(accounts):
        p = f"{name}[{i}]"
        if not isinstance(u, dict):
            errors += posix_name_errors(None, f"{p}.name")
            continue
        present = u.get("state", "present") == "present"
        errors += (
            posix_name_errors(u.get("name"), f"{p}.name")
            + crypt_hash_errors(u.get("password_hash"), f"{p}.password_hash")
            + ssh_key_errors(u.get("ssh_keys"), f"{p}.ssh_keys", required=admins and present,
                             why="an administrator needs at least one SSH key")
        )  # fmt: skip
    return errors


def access_control_guard_errors(connecting_user, admins, ssh_connection):
    """The lockout guard: over SSH, a connecting user other than root must be a present entry
    of access_control_admins (the role could otherwise remove its access)."""
    if not ssh_connection or connecting_user == "root":
        return []
    present = [
        a.get("name")
        for a in (admins if isinstance(admins, (list, tuple)) else [])
        if isinstance(a, dict) and a.get("state", "present") == "present"
    ]  # fmt: skip
    if connecting_user in present:
        return []
    return [
        f"lockout guard: the connecting admin {connecting_user} is not a present entry of"
        " access_control_admins; add it (with its SSH key) or this run could remove its access"
    ]


def backup_server_client_errors(clients, name, min_length, weak, min_name=""):
    """backup_server_clients: per client (named by its index) a plain host name, and its REST
    and repository passwords (not an example or the client's name, long enough)."""
    errors = []
    for i, c in enumerate(clients if isinstance(clients, (list, tuple)) else []):
        p = f"{name}[{i}]"
        c = c if isinstance(c, dict) else {}
        client = "" if c.get("name") is None else str(c.get("name"))
        errors += plain_name_errors(client, f"{p}.name", what="host name")
        for k in ("rest_password", "repo_password"):
            errors += secret_errors(c.get(k), f"{p}.{k}", user=client, min_length=min_length,
                                    env_file=False, weak=weak, weak_parts=True, min_name=min_name,
                                    owner=f"client '{client}'")  # fmt: skip
    return errors


def endpoint_protection_clamav_errors(mirror_url, signature_files, hash_signatures, scan_paths,
                                      quarantine_dir):  # fmt: skip
    """ClamAV's inputs: a signature source (the Internet is not reachable), the mirror as a
    host or http(s) URL, database file names ClamAV loads, hash signatures as sigtool writes
    them, and a quarantine directory of its own (not scanned, not a system directory)."""
    errors = []
    files = signature_files if isinstance(signature_files, (list, tuple)) else []
    hashes = hash_signatures if isinstance(hash_signatures, (list, tuple)) else []
    if _blank(mirror_url) and not files and not hashes:
        errors.append(
            "ClamAV has no signatures: set endpoint_protection_clamav_mirror_url (a private"
            " freshclam mirror) or endpoint_protection_clamav_signature_files (signature files on"
            " the controller) (or endpoint_protection_clamav_hash_signatures); signatures cannot"
            " be downloaded from the Internet here"
        )
    if not _blank(mirror_url) and not _MIRROR.fullmatch(str(mirror_url)):
        errors.append(
            f"endpoint_protection_clamav_mirror_url: '{mirror_url}' is not a host name or"
            " http(s) URL"
        )
    for var, items, pattern, what in (
        ("endpoint_protection_clamav_signature_files", signature_files, _CLAMAV_DB,
         "a ClamAV database file name (.cvd, .hdb, .ndb ...)"),
        ("endpoint_protection_clamav_hash_signatures", hash_signatures, _CLAMAV_HASH,
         'a hash signature "<md5|sha1|sha256>:<size|*>:<name>"'),
    ):  # fmt: skip
        if not isinstance(items, (list, tuple)):
            errors.append(f"{var}: must be a list, not {_kind(items)}")
            continue
        errors += [
            f"{var}[{i}]: '{v}' is not {what}"
            for i, v in enumerate(items)
            if not (isinstance(v, str) and pattern.fullmatch(v))
        ]
    scanned = scan_paths if isinstance(scan_paths, (list, tuple)) else []
    if quarantine_dir in scanned or quarantine_dir in ("/", "/var", "/var/lib", "/tmp"):
        errors.append(
            f"endpoint_protection_clamav_quarantine_dir: '{quarantine_dir}' is not a directory of"
            " its own (a scanned path, or a system directory)"
        )
    return errors


def pacs_orthanc_user_errors(users, name, min_length, weak, min_name=""):
    """pacs_orthanc_users: per user (named by its index) an HTTP Basic user name and a password
    that is not an example or the user's name, long enough."""
    errors = []
    for i, u in enumerate(users if isinstance(users, (list, tuple)) else []):
        p = f"{name}[{i}]"
        u = u if isinstance(u, dict) else {}
        user = "" if u.get("name") is None else str(u.get("name"))
        errors += user_errors(user, f"{p}.name") + secret_errors(
            u.get("password"), f"{p}.password", user=user, min_length=min_length, env_file=False,
            weak=weak, min_name=min_name, owner=f"user '{user}'",
        )  # fmt: skip
    return errors


def pacs_orthanc_modality_errors(modalities, name):
    """pacs_orthanc_modalities: per peer (named by its index) an AE title, a host (Orthanc
    checks the address of every modality) and a TCP port (104 when left out)."""
    errors = []
    for i, m in enumerate(modalities if isinstance(modalities, (list, tuple)) else []):
        p = f"{name}[{i}]"
        m = m if isinstance(m, dict) else {}
        errors += dicom_aet_errors(m.get("aet", ""), f"{p}.aet")
        if _blank(m.get("host")) or not str(m.get("host")).strip():
            errors.append(
                f"{p}.host: missing; Orthanc checks the address of every modality"
                " (DicomCheckModalityHost)"
            )
        errors += int_errors(m.get("port", 104), f"{p}.port", lo=1, hi=65535, unit="a TCP port")
    return errors


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
            "plain_name_errors": plain_name_errors,
            "nonempty_errors": nonempty_errors,
            "duration_errors": duration_errors,
            "controller_file_errors": controller_file_errors,
            "path_errors": path_errors,
            "path_list_errors": path_list_errors,
            "address_list_errors": address_list_errors,
            "rate_errors": rate_errors,
            "differ_errors": differ_errors,
            "dicom_aet_errors": dicom_aet_errors,
            "at_least_errors": at_least_errors,
            "argv_errors": argv_errors,
            "umask_errors": umask_errors,
            "clock_time_errors": clock_time_errors,
            "only_if": only_if,
            "int_errors": int_errors,
            "posix_name_errors": posix_name_errors,
            "name_list_errors": name_list_errors,
            "crypt_hash_errors": crypt_hash_errors,
            "ssh_key_errors": ssh_key_errors,
            "unique_errors": unique_errors,
            "access_control_account_errors": access_control_account_errors,
            "access_control_guard_errors": access_control_guard_errors,
            "backup_server_client_errors": backup_server_client_errors,
            "endpoint_protection_clamav_errors": endpoint_protection_clamav_errors,
            "pacs_orthanc_user_errors": pacs_orthanc_user_errors,
            "pacs_orthanc_modality_errors": pacs_orthanc_modality_errors,
        }
