# radshield: the two commands are `make lab` (the main job) and `make test`.
# Both run `make setup` first. See README.md for every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV ?= .venv
BIN := $(VENV)/bin
INVENTORY ?= inventories/lab/hosts.yml
PLAYBOOK_ARGS ?=
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help setup lab lab-up lab-down lab-status ping harden check lint unit lab-test molecule test bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

setup: ## install Debian packages, podman config and the pinned virtualenv (as root; quick when done)
	@scripts/setup.sh

lab: setup ## the main job: lab up, harden every host, prove it from outside
	@$(MAKE) --no-print-directory lab-up
	$(BIN)/ansible-playbook -i $(INVENTORY) playbooks/ping.yml
	$(BIN)/ansible-playbook -i $(INVENTORY) playbooks/site.yml $(PLAYBOOK_ARGS)

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

lint: ## ruff, yamllint, ansible-lint (production profile)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint --profile production --offline playbooks roles

unit: ## fast tests: no podman (lab module, validators, Pulumi mocks, policy pack)
	$(BIN)/pytest -q -m "not lab and not molecule"

lab-test: ## tests against the live lab (fresh hosts; removes the lab at the end)
	$(BIN)/pytest -q -m lab

molecule: ## every role's molecule scenario (converge, idempotence, verify)
	$(BIN)/pytest -q -m molecule

test: setup lint unit lab-test molecule ## the whole suite, as CI runs it

bench: setup ## time ansible setup (floor), harden cold and re-run over the lab; ratios to the floor
	$(BIN)/python -m radshield.bench

clean: lab-down ## lab-down plus caches (keeps the venv and the image)
	rm -rf .pytest_cache .ruff_cache
