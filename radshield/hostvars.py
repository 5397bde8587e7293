"""Inventory variables as Ansible itself resolves them (flows, waivers).

``load(inventory)`` uses Ansible's own API (``InventoryManager`` + ``VariableManager`` +
``Templar``), so group_vars/host_vars beside the inventory, group precedence and Jinja values
(``"{{ lab_hosts['ws-01'].clinical }}"``) come out exactly as a playbook run would see them.
Role defaults (``roles/<role>/defaults/main.yml``) are the layer under the inventory, as in a
play that applies every role. Only the variables a caller names are templated (a lookup of a
secret or a key file elsewhere in the inventory is never evaluated).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class InventoryError(Exception):
    """The inventory cannot be read or a variable cannot be resolved (exit 2)."""


@dataclass
class Inventory:
    path: str
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)  # host -> resolved vars
    groups: dict[str, list[str]] = field(default_factory=dict)  # group -> hosts


def _role_defaults(loader: Any, roles_dir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in sorted(roles_dir.glob("*/defaults/main.yml")):
        data = loader.load_from_file(str(path))  # trusted as templates, like Ansible's own
        if isinstance(data, dict):
            out.update(data)
    return out


def load(
    inventory: str | Path,
    names: tuple[str, ...] | list[str],
    prefixes: tuple[str, ...] = (),
    roles_dir: Path = ROOT / "roles",
) -> Inventory:
    """Every host of ``inventory`` with the variables ``names`` (and any variable whose name
    starts with one of ``prefixes``) resolved; plus inventory_hostname, group_names, ansible_host.
    """
    path = Path(inventory)
    if not path.exists():
        raise InventoryError(f"inventory {path} not found")
    os.environ.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
    try:
        from ansible.errors import AnsibleError  # noqa: PLC0415
        from ansible.inventory.manager import InventoryManager  # noqa: PLC0415
        from ansible.parsing.dataloader import DataLoader  # noqa: PLC0415
        from ansible.template import Templar  # noqa: PLC0415
        from ansible.vars.manager import VariableManager  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - the venv has ansible
        raise InventoryError(f"Ansible is not importable ({exc}); run `make setup`") from exc
    loader = DataLoader()
    try:
        _vault_secrets(loader)
        inv = InventoryManager(loader=loader, sources=[str(path)])
        vm = VariableManager(loader=loader, inventory=inv)
        defaults = _role_defaults(loader, roles_dir)
    except AnsibleError as exc:
        raise InventoryError(f"cannot read inventory {path}: {exc}") from exc
    if not inv.hosts:
        raise InventoryError(f"inventory {path} has no hosts")
    out = Inventory(str(path))
    for name, group in sorted(inv.groups.items()):
        out.groups[name] = sorted(h.name for h in group.get_hosts())
    for host in sorted(inv.hosts.values(), key=lambda h: h.name):
        try:
            raw = {**defaults, **vm.get_vars(host=host, include_hostvars=False)}
        except AnsibleError as exc:
            raise InventoryError(f"{host.name}: cannot read its variables: {exc}") from exc
        templar = Templar(loader=loader, variables=raw)
        wanted = [k for k in raw if k in names or any(k.startswith(p) for p in prefixes)]
        resolved: dict[str, Any] = {}
        for key in [*wanted, "ansible_host"]:
            if key not in raw:
                continue
            try:
                resolved[key] = _plain(templar.template(raw[key]))
            except AnsibleError as exc:
                raise InventoryError(f"{host.name}: cannot resolve {key}: {exc}") from exc
        resolved["inventory_hostname"] = host.name
        resolved["group_names"] = sorted(
            g.name for g in host.get_groups() if g.name not in ("all", "ungrouped")
        )
        out.hosts[host.name] = resolved
    return out


def _vault_secrets(loader: Any) -> None:
    """The vault password files/ids of ansible.cfg or the environment, as ansible-inventory uses."""
    from ansible import constants as C  # noqa: PLC0415, N812
    from ansible.cli import CLI  # noqa: PLC0415

    files = [C.DEFAULT_VAULT_PASSWORD_FILE] if C.DEFAULT_VAULT_PASSWORD_FILE else []
    ids = list(C.DEFAULT_VAULT_IDENTITY_LIST or [])
    if files or ids:
        loader.set_vault_secrets(
            CLI.setup_vault_secrets(
                loader, vault_ids=ids, vault_password_files=files, ask_vault_pass=False,
                auto_prompt=False,
            )
        )  # fmt: skip


def _plain(value: Any) -> Any:
    """Ansible's tagged/lazy containers and strings as plain Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value
