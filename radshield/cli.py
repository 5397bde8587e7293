"""The `radshield` command line."""

from __future__ import annotations

import argparse
import sys

from radshield import lab


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="radshield",
        description="Harden and assess a radiology practice's imaging estate.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_lab = sub.add_parser(
        "lab",
        help="manage the local podman lab estate",
        description="up: build the image (cached) and start the practice's hosts and segments; "
        "down: remove every container, network and generated file of the lab; "
        "status: list the lab hosts (exit 1 if one is not running).",
    )
    p_lab.add_argument("action", choices=["up", "down", "status"])
    args = parser.parse_args(argv)
    if args.command == "lab":
        return lab.main([args.action])
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
