"""The execution environment for AWX / Ansible Automation Platform (execution-environment.yml and
contrib/ee/): the real `ansible-builder create` into a scratch directory, then the steps of the
generated build that need no container, run here on that context as the Containerfile runs
them: the galaxy stage's collection install from the context's requirements.yml, the builder
stage's introspect.py (the Python and system requirements it hands to pip and bindep), and
bindep itself on this Debian host. The image is built where a registry is reachable (README,
"Running from AWX / Ansible Automation Platform")."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EE_FILE = ROOT / "execution-environment.yml"
EE_DIR = ROOT / "contrib" / "ee"
# Pinned in the EE only: AWX runs jobs through ansible-runner; the project never does.
EE_ONLY = {"ansible-runner"}
# What the collection's controller side and the radshield CLI import (beyond the standard
# library and what ansible-core brings): each must be in the EE, at the project's pin.
NEEDED = {"ansible", "mitogen", "boto3", "pydicom", "pynetdicom"}
DEBIAN_PACKAGES = {"openssh-client", "sshpass", "e2fsprogs", "ca-certificates"}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_NOCOLOR="1", PATH=f"{BIN}:{env.get('PATH', '')}")
    return env


def _run(argv: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, cwd=cwd, env={**_env(), **env}, text=True, capture_output=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0, f"{argv}: {proc.stdout}{proc.stderr}"
    return proc


def _pins(lines: list[str]) -> dict[str, Requirement]:
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            out[canonicalize_name(req.name)] = req
    return out


def _project_pins() -> dict[str, Requirement]:
    return _pins((ROOT / "requirements.txt").read_text().splitlines())


def _ee_pins() -> dict[str, Requirement]:
    ee = yaml.safe_load(EE_FILE.read_text())["dependencies"]
    lines = (ROOT / ee["python"]).read_text().splitlines()
    lines += [ee["ansible_core"]["package_pip"], ee["ansible_runner"]["package_pip"]]
    return _pins(lines)


@pytest.fixture(scope="module")
def context(tmp_path_factory) -> Path:
    """`make ee`'s two steps, into scratch: the definition and contrib/ee/ copied as they are
    (their relative paths kept), the tarball built there by contrib/ee/build-collection.sh,
    then `ansible-builder create`."""
    scratch = tmp_path_factory.mktemp("ee")
    src = scratch / "src"
    shutil.copytree(EE_DIR, src / "contrib" / "ee")
    shutil.copy2(EE_FILE, src / EE_FILE.name)
    _run([str(EE_DIR / "build-collection.sh"), str(src / "dist" / "ee")], scratch,
         ANSIBLE_GALAXY=str(BIN / "ansible-galaxy"))  # fmt: skip
    ctx = scratch / "context"
    _run([str(BIN / "ansible-builder"), "create", "-f", str(src / EE_FILE.name), "-c", str(ctx),
          "--output-filename", "Containerfile"], scratch)  # fmt: skip
    return ctx


@pytest.fixture(scope="module")
def installed(context, tmp_path_factory) -> Path:
    """The galaxy stage: `ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS
    -r requirements.yml` in the context's _build (the image's WORKDIR /build)."""
    containerfile = (context / "Containerfile").read_text()
    opts = re.search(r'^ARG ANSIBLE_GALAXY_CLI_COLLECTION_OPTS="([^"]*)"', containerfile, re.M)
    assert opts, containerfile
    path = tmp_path_factory.mktemp("ee-collections")
    _run([str(BIN / "ansible-galaxy"), "collection", "install", *opts.group(1).split(),
          "-r", "requirements.yml", "--collections-path", str(path)], context / "_build")  # fmt: skip
    return path


@pytest.fixture(scope="module")
def introspected(context, installed, tmp_path_factory) -> tuple[list[str], list[str]]:
    """The builder stage's introspect.py, with the arguments of the Containerfile's RUN line,
    over the collections the galaxy stage installed: (pip lines, bindep lines) for assemble."""
    containerfile = (context / "Containerfile").read_text()
    line = next(x for x in containerfile.splitlines() if "/output/scripts/introspect.py" in x)
    out = tmp_path_factory.mktemp("ee-introspect")
    args = line.split("introspect.py", 1)[1].replace("/tmp/src/", f"{out}/").split()
    assert args[0] == "introspect", line
    script = context / "_build" / "scripts" / "introspect.py"
    _run([sys.executable, str(script), "introspect", str(installed), *args[1:]],
         context / "_build")  # fmt: skip
    pip_lines = (out / "requirements.txt").read_text().splitlines()
    return pip_lines, (out / "bindep.txt").read_text().splitlines()


def test_containerfile_base_image_package_manager_and_python(context):
    text = (context / "Containerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="docker.io/library/python:3.11-slim-bookworm"' in text
    assert 'ARG PKGMGR="/usr/bin/apt-get"' in text
    assert 'ARG PYCMD="/usr/local/bin/python3"' in text
    # install-from-bindep's apt-get install runs after the lists are fetched, without recommends
    final = text.split("FROM base AS final", 1)[1]
    assert final.index("RUN apt-get update") < final.index("install-from-bindep")
    assert "ARG PKGMGR_OPTS=--no-install-recommends" in final
    assert "USER 1000" in final and "LABEL ansible-execution-environment=true" in final


def test_context_carries_the_collection_tarball_of_this_checkout(context):
    tarball = context / "_build" / "collections" / "radshield-hardening.tar.gz"
    assert tarball.is_file()
    with tarfile.open(tarball) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
        names = tar.getnames()
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    for key in ("namespace", "name", "version"):
        assert manifest[key] == galaxy[key], key
    assert "roles/pacs_orthanc/tasks/main.yml" in names and "playbooks/site.yml" in names
    leaked = [n for n in names if n.startswith(("contrib/ee", "execution-environment", "dist/"))]
    assert not leaked, leaked
    assert "COPY _build /build" in (context / "Containerfile").read_text()


def test_galaxy_stage_installs_radshield_hardening_from_the_context(installed):
    top = installed / "ansible_collections" / "radshield" / "hardening"
    manifest = json.loads((top / "MANIFEST.json").read_text())["collection_info"]
    assert manifest["version"] == yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    assert (top / "plugins" / "modules" / "radshield_files.py").is_file()
    # --no-deps: nothing but radshield.hardening, the rest comes with the pinned ansible package
    assert sorted(p.name for p in (installed / "ansible_collections").iterdir()) == ["radshield"]


def test_the_ees_collections_run_the_site_playbook(installed):
    """radshield.hardening from the EE's collections path, its dependencies from the ansible
    package (as in the image): the site playbook by FQCN passes Ansible's syntax check."""
    work = installed.parent / "ee-user"
    work.mkdir(exist_ok=True)
    (work / "ansible.cfg").write_text(
        f"[defaults]\ncollections_path = {installed}\nroles_path = /nonexistent\n"
    )
    inventory = ROOT / "tests" / "unit" / "fixtures" / "inventory.yml"
    _run([str(BIN / "ansible-playbook"), "-i", str(inventory), "--syntax-check",
          "radshield.hardening.site"], work, ANSIBLE_CONFIG=str(work / "ansible.cfg"))  # fmt: skip


def test_pinned_ansible_package_carries_the_collections_galaxy_yml_needs():
    """Why --no-deps is right: every dependency of galaxy.yml is in the pinned `ansible`
    package that the EE installs, at a version inside the declared range."""
    import ansible_collections  # noqa: PLC0415 - the ansible package's collections

    roots = [Path(p) for p in ansible_collections.__path__]
    deps = yaml.safe_load((ROOT / "galaxy.yml").read_text())["dependencies"]
    for fqcn, spec in deps.items():
        ns, name = fqcn.split(".")
        manifest = next((r / ns / name / "MANIFEST.json" for r in roots
                         if (r / ns / name / "MANIFEST.json").is_file()), None)  # fmt: skip
        assert manifest, f"{fqcn} is not in the ansible package"
        version = json.loads(manifest.read_text())["collection_info"]["version"]
        assert SpecifierSet(spec).contains(version), (fqcn, version, spec)


def test_builder_stage_python_requirements_are_the_pinned_libraries(context, introspected):
    pip_lines, _ = introspected
    pins = _pins(pip_lines)
    project = _project_pins()
    for name in NEEDED - {"ansible"}:
        assert str(pins[name]) == str(project[name]), name
    refs = re.search(
        r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"', (context / "Containerfile").read_text(), re.M
    )
    assert refs, "no ANSIBLE_INSTALL_REFS"
    installed_first = _pins(refs.group(1).split())
    assert str(installed_first["ansible"]) == str(project["ansible"])
    assert "ansible-runner" in installed_first


def test_builder_stage_bindep_lists_the_debian_packages(introspected, tmp_path):
    _, bindep_lines = introspected
    listed = tmp_path / "bindep.txt"
    listed.write_text("\n".join(bindep_lines) + "\n")
    proc = _run([str(BIN / "bindep"), "-f", str(listed), "-l", "newline"], tmp_path)
    packages = set(proc.stdout.split())
    # this host is Debian 12 like the image: [platform:dpkg] names, not the RPM ones
    assert packages == DEBIAN_PACKAGES, packages


def test_ee_pins_are_the_projects_pins():
    """Fails when execution-environment.yml or contrib/ee/requirements.txt and the project's
    requirements.txt drift: every EE pin is exact and equal to the project's, except the
    EE-only ones; everything the controller side needs is in the EE."""
    ee, project = _ee_pins(), _project_pins()
    for name, req in ee.items():
        assert len(req.specifier) == 1 and next(iter(req.specifier)).operator == "==", req
        if name in EE_ONLY:
            assert name not in project, (
                f"{name} is pinned in requirements.txt now: drop it from EE_ONLY"
            )
            continue
        assert name in project, f"{name} is in the EE but not in requirements.txt"
        assert req.specifier == project[name].specifier, (str(req), str(project[name]))
    assert set(ee) >= NEEDED, NEEDED - set(ee)
    # ansible-builder, the tool that writes the context, is a pinned dev tool of the project
    assert len(project["ansible-builder"].specifier) == 1


def test_context_requirements_are_copies_of_contrib_ee(context):
    build = context / "_build"
    assert (build / "requirements.txt").read_text() == (EE_DIR / "requirements.txt").read_text()
    assert (build / "bindep.txt").read_text() == (EE_DIR / "bindep.txt").read_text()
    assert (build / "requirements.yml").read_text() == (EE_DIR / "requirements.yml").read_text()
