"""The `radshield` command line: `radshield <command> --help` explains each command."""

from __future__ import annotations

import argparse
import sys

COMMANDS = {
    "lab": "manage the local podman lab estate (up | down | status)",
    "assess": "decide every control on every host of an inventory, changing nothing "
    "(pass / fail / not applicable with the reason); exit 3 when a critical control fails",
    "probe": "try what an attacker tries, with real clients from untrusted and trusted hosts",
    "report": "write report.html and report.json (and --pdf) from before/after assessments "
    "and probes: risk register, data-flow map, waivers, drift over time (--history)",
    "drift": "exit non-zero and log to syslog when a control passed in the previous kept "
    "assessment and fails in the latest (radshield assess --history DIR; nightly timer)",
    "migrate": "copy the Orthanc archive into the archive bucket (SSE-KMS, checksummed, "
    "resumable, incremental); --verify checks every migrated object",
    "restore": "bring studies back from the archive bucket into an Orthanc (REST or DICOM TLS)",
    "evidence": "verify an evidence bundle of playbooks/ir/collect-evidence.yml: every hash "
    "recomputed from the tar against manifest.json and its sidecar; exit 5 naming the first mismatch",
    "plan": "write the practice's incident response plan (HTML, PDF) from the inventory: "
    "recovery sequence, contacts, decisions, emergency mode, last drill; exit 3 when incomplete",
    "drill": "lab only: `drill ransomware` attacks the lab's PACS and recovers it without a "
    "human, timing detection, containment, emergency reads, RTO and RPO (reports/drill/)",
    "verify-cloud": "read the deployed AWS landing zone (boto3, read-only) and check every "
    "promise of infra/; writes a cloud assessment, report.json and report.html",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="radshield",
        description="Harden, assess and prove the security of a radiology practice's imaging "
        "estate. Exit codes: 0 ok, 2 usage or input error (also an expired or malformed waiver), "
        "3 a critical control or probe failed, 4 drift (radshield drift), "
        "5 an evidence bundle does not verify (radshield evidence verify).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in COMMANDS.items():
        sub.add_parser(name, help=text, add_help=False)
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        parser.parse_args(argv)  # prints the usage error, exits 2
    if command == "lab":
        from radshield import lab  # noqa: PLC0415

        if rest and rest[0] in ("-h", "--help"):
            print("usage: radshield lab {up|down|status}\n\n" + (lab.__doc__ or ""))
            return 0
        return lab.main(rest)
    if command == "assess":
        from radshield import assess  # noqa: PLC0415

        return assess.main(rest)
    if command in ("migrate", "restore"):
        from radshield.migrate import cli as mcli  # noqa: PLC0415

        return mcli.migrate_main(rest) if command == "migrate" else mcli.restore_main(rest)
    if command == "drill":
        from radshield.drill import ransomware  # noqa: PLC0415

        return ransomware.main(rest)
    if command == "probe":
        from radshield import probe  # noqa: PLC0415

        return probe.main(rest)
    if command == "drift":
        from radshield import history  # noqa: PLC0415

        return history.main(rest)
    if command == "evidence":
        from radshield import evidence_bundle  # noqa: PLC0415

        return evidence_bundle.main(rest)
    if command == "plan":
        from radshield import plan  # noqa: PLC0415

        return plan.main(rest)
    if command == "verify-cloud":
        from radshield import verify_cloud  # noqa: PLC0415

        return verify_cloud.main(rest)
    from radshield import report  # noqa: PLC0415

    return report.main(rest)


if __name__ == "__main__":
    sys.exit(main())
