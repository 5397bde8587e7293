# radshield: the two commands are `make lab` (the main job) and `make test`.
# Both run `make setup` first. `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV ?= .venv
BIN := $(VENV)/bin
INVENTORY ?= inventories/lab/hosts.yml
LIMIT ?= managed
PLAYBOOK_ARGS ?=
# radshield probe options; a real estate: PROBE_ARGS="--transport ssh"
PROBE_ARGS ?=
DRILL_ARGS ?=
REPORTS ?= reports
# mitogen (fast) or plain (OpenSSH only). Both are tested; mitogen is the default.
RADSHIELD_STRATEGY ?= mitogen
# Molecule scenarios at once (each its own container; Ansible's controller side is the bottleneck).
MOLECULE_JOBS ?= 2
# Unit test workers (pytest-xdist; each fixture that starts a server starts its own).
UNIT_JOBS ?= 2
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)
ifeq ($(RADSHIELD_STRATEGY),mitogen)
export ANSIBLE_STRATEGY_PLUGINS := $(CURDIR)/$(VENV)/lib/python3.11/site-packages/ansible_mitogen/plugins/strategy
export ANSIBLE_STRATEGY := mitogen_linear
export ANSIBLE_DEPRECATION_WARNINGS := False
endif

.PHONY: help setup lab lab-up lab-down lab-status ping harden check assess probe report \
        lint unit migrate-test standby-test backup-test tamper-test lab-test molecule test bench bench-migrate \
        bench-forward bench-forward-lab bench-backup bench-tamper loopback-tests clean mutate-infra drill plan \
        verify-cloud prowler peer ee

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

setup: ## install Debian packages, podman config and the pinned virtualenv (root; quick when done)
	@scripts/setup.sh

lab: setup ## the main job: lab up, assess, harden, assess again, probe, report
	@$(MAKE) --no-print-directory lab-up
	@mkdir -p $(REPORTS)
	@if [ -f $(REPORTS)/before.json ] && [ $(REPORTS)/before.json -nt .lab/estate-created ]; then \
	  echo "radshield: hosts unchanged since $(REPORTS)/before.json: keeping that 'before' assessment"; \
	else \
	  $(BIN)/radshield assess -i $(INVENTORY) --limit $(LIMIT) --label before --out $(REPORTS)/before.json --critical-exit 0; \
	fi
	$(BIN)/ansible-playbook -i $(INVENTORY) playbooks/site.yml $(PLAYBOOK_ARGS)
	$(BIN)/radshield assess -i $(INVENTORY) --limit $(LIMIT) --label after --out $(REPORTS)/after.json --critical-exit 0 --history $(REPORTS)/history
	$(BIN)/radshield probe -i $(INVENTORY) --out $(REPORTS)/probes.json --fail-exit 0
	$(BIN)/radshield report --before $(REPORTS)/before.json --after $(REPORTS)/after.json --probes $(REPORTS)/probes.json --history $(REPORTS)/history --out-dir $(REPORTS)
	@echo "radshield: report at $(REPORTS)/report.html (machine-readable: $(REPORTS)/report.json)"

lab-up: ## start the lab estate (builds the image once; keeps healthy hosts)
	@python3 -m radshield.lab up

lab-down: ## remove every lab container, network and generated file (the image cache stays)
	@python3 -m radshield.lab down

lab-status: ## list the lab hosts
	@python3 -m radshield.lab status

ping: ## reach every host of INVENTORY over SSH and print its facts
	$(BIN)/ansible-playbook -i $(INVENTORY) playbooks/ping.yml

harden: ## apply the site playbook to INVENTORY
	$(BIN)/ansible-playbook -i $(INVENTORY) playbooks/site.yml $(PLAYBOOK_ARGS)

check: ## dry run of the site playbook against INVENTORY (--check --diff, changes nothing)
	$(BIN)/ansible-playbook -i $(INVENTORY) playbooks/site.yml --check --diff $(PLAYBOOK_ARGS)

assess: ## decide every control on INVENTORY, read-only; exit 3 when a critical control fails
	@mkdir -p $(REPORTS)
	$(BIN)/radshield assess -i $(INVENTORY) --limit $(LIMIT) --label current --out $(REPORTS)/assess.json

probe: ## adversary probes with real clients from untrusted and trusted lab hosts
	@mkdir -p $(REPORTS)
	$(BIN)/radshield probe -i $(INVENTORY) --out $(REPORTS)/probes.json $(PROBE_ARGS)

lint: ## ruff, yamllint, ansible-lint (production profile)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/yamllint -s .
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/.collections $(BIN)/ansible-lint --profile production --offline playbooks roles

unit: ## fast tests, no podman: lab module, roles rendered, controls, assess/report, Pulumi mocks, policies, verify-cloud on moto
	$(BIN)/pytest -q -n $(UNIT_JOBS) tests/unit tests/infra tests/drill

migrate-test: ## archive migration against real Orthanc + nginx + moto_server on loopback (no podman)
	$(BIN)/pytest -q tests/migrate

standby-test: ## standby copy: the pacs_forwarder program between two real Orthancs on loopback (no podman)
	$(BIN)/pytest -q tests/standby

backup-test: ## PACS backups against real Orthanc + nginx, rclone (append-only) and restic on loopback (no podman)
	$(BIN)/pytest -q tests/backup

tamper-test: ## ransomware detection: the pacs_tamper_detect watcher on a real Orthanc's storage on loopback (no podman)
	$(BIN)/pytest -q tests/tamper

mutate-infra: setup ## mutation testing of infra/ (mutmut; MUTATE_SAMPLE=N for a sample per scope); reports/mutation/
	@MUTATE_OUT=$(CURDIR)/$(REPORTS)/mutation scripts/mutate_infra.sh

ENVIRONMENT ?= prod
REGION ?= us-east-1
verify-cloud: ## check the deployed landing zone (ENVIRONMENT, REGION, AWS credentials) -> reports/cloud/
	$(BIN)/radshield verify-cloud --environment $(ENVIRONMENT) --region $(REGION) --out-dir $(REPORTS)/cloud

prowler: ## generic AWS checks with Prowler's HIPAA framework, in its own venv (.venv-prowler) -> reports/prowler/
	@[ -x .venv-prowler/bin/prowler ] || { python3 -m venv .venv-prowler && .venv-prowler/bin/pip install -q -r requirements-prowler.txt; }
	.venv-prowler/bin/prowler aws --compliance hipaa_aws --region $(REGION) --output-formats json-ocsf html --output-directory $(REPORTS)/prowler

ee: setup ## AWX/AAP execution environment: collection tarball, then `ansible-builder create` -> dist/ee/context
	@rm -rf dist/ee/context
	@contrib/ee/build-collection.sh dist/ee
	$(BIN)/ansible-builder create -f execution-environment.yml -c dist/ee/context --output-filename Containerfile
	@echo "radshield: EE build context at dist/ee/context (build it: podman build -t IMAGE:TAG dist/ee/context)"

lab-test: ## pristine-system setup test, lab lifecycle, then hardened hosts proved from outside
	$(BIN)/pytest -q tests/pristine
	$(BIN)/pytest -q tests/lifecycle
	$(BIN)/pytest -q tests/lab

molecule: ## every role's molecule scenario (check, converge, idempotence, verify); MOLECULE_JOBS in parallel
	$(BIN)/pytest -q -n $(MOLECULE_JOBS) tests/molecule

test: setup lint ## the whole suite, as CI runs it: molecule beside the loopback suites, then the lab
	$(MAKE) --no-print-directory -j2 --output-sync=target loopback-tests molecule
	$(MAKE) --no-print-directory lab-test

# The suites without podman, one after the other (molecule runs beside them in `make test`:
# its containers have their own names, and its waits overlap their CPU work; about 8 min saved).
loopback-tests: ## unit, migrate, standby, backup and tamper suites in a row (no podman)
	$(MAKE) --no-print-directory -j1 unit migrate-test standby-test backup-test tamper-test

# The bench's public peer, devsec.hardening (os_hardening + ssh_hardening), built from a copy
# of its source (Galaxy is not reachable): PEER_SRC is a git dir or checkout of
# dev-sec/ansible-collection-hardening; installed outside the repository in PEER_DEST.
PEER_SRC ?=
PEER_DEST ?= /tmp/radshield-peer/collections
peer: ## build + install the bench's peer devsec.hardening from PEER_SRC; prints RADSHIELD_PEER_COLLECTIONS
	@PEER_SRC="$(PEER_SRC)" PEER_DEST="$(PEER_DEST)" VENV="$(VENV)" scripts/build_peer.sh

bench: setup ## wall times: ansible setup (floor), harden cold and warm, assess, make lab warm; ratios
	$(BIN)/python -m radshield.bench

bench-migrate: setup ## migrate/restore throughput vs raw put_object, GET+PUT loop and C-STORE floors; peak RSS
	$(BIN)/python -m radshield.migrate.bench

bench-forward: setup ## forwarder lag (C-STORE ack -> on the standby, p50/p95) and throughput vs a GET+POST loop floor
	$(BIN)/python -m radshield.standby.bench

bench-forward-lab: setup ## lab only, after `make lab`: forwarder lag under a sustained C-STORE load from mod-01 (p50/p95 vs its poll interval)
	$(BIN)/python -m radshield.standby.lab_bench

bench-backup: setup ## restic backup/restore MB/s through rclone's append-only HTTPS server vs a tar stream floor
	$(BIN)/python -m radshield.backup_bench

drill: setup ## lab only, after `make lab`: ransomware drill on pacs-01, timed (reports/drill/)
	$(BIN)/radshield drill ransomware $(DRILL_ARGS)

plan: setup ## the incident response plan of INVENTORY (HTML + PDF in reports/)
	$(BIN)/radshield plan -i $(INVENTORY) -o reports

bench-tamper: setup ## tamper watcher detection latency (rewrite -> CRIT alert, p50/p95 of 20) vs a bare inotify read floor
	$(BIN)/python -m radshield.tamper_bench

clean: lab-down ## lab-down plus caches (keeps the venv and the image)
	rm -rf .pytest_cache .ruff_cache $(REPORTS)
