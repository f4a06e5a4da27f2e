# The contract users type; every recipe is a thin call into scripts/platformctl (see README.md).
# `make help` lists the targets from their `##` comments.

ENV ?= dev
ENVS := dev staging prod
# Fail before anything runs: no venv, no tool, no Terraform for an environment that does not exist.
ifeq ($(filter $(ENV),$(ENVS)),)
$(shell printf "error: unknown ENV '%s' (choose dev, staging, prod)\n" '$(ENV)' >&2)
$(error stopped)
endif

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
PLATFORMCTL := $(VENV)/bin/platformctl --env $(ENV)
export PATH := $(CURDIR)/.tools/bin:$(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help setup test lint plan apply smoke rotate destroy render bench e2e doctor clean

help: ## list the targets (ENV=dev|staging|prod, default dev)
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  %-9s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# The venv is rebuilt only when a pyproject.toml changed; everything else is platformctl's job.
$(VENV)/.installed: pyproject.toml $(wildcard services/*/pyproject.toml)
	@echo "==> creating $(VENV) with pinned dependencies"
	@$(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[dev]' $(foreach s,$(wildcard services/*/pyproject.toml),-e '$(dir $(s))[test]')
	@touch $@

setup: $(VENV)/.installed ## create .venv and install the pinned tools into .tools/ (idempotent)
	@$(PLATFORMCTL) setup

doctor: $(VENV)/.installed ## show tools, versions, Vault and kube context
	@$(PLATFORMCTL) doctor

lint: setup ## ruff, yamllint, terraform fmt, helm lint --strict, shellcheck
	@$(PLATFORMCTL) lint

test: lint ## lint, then every test suite that needs no cluster
	@$(PLATFORMCTL) test

render: setup ## render the own charts for ENV into reports/rendered/ENV
	@$(PLATFORMCTL) render

plan: setup ## show what apply would change for ENV (changes nothing)
	@$(PLATFORMCTL) plan

apply: setup ## cluster, secrets, values, releases and smoke tests for ENV
	@$(PLATFORMCTL) apply

smoke: setup ## post-deploy smoke tests against the current kube context
	@$(PLATFORMCTL) smoke --junit reports/junit/smoke.xml

rotate: setup ## rotate one secret: make rotate SECRET=name
	@$(PLATFORMCTL) rotate --secret '$(SECRET)'

destroy: setup ## tear down ENV's releases and cluster
	@$(PLATFORMCTL) destroy

bench: setup ## benchmarks; prints figures
	@$(PLATFORMCTL) bench

e2e: setup ## end-to-end deployment on the cluster KUBECONFIG points at
	@$(PLATFORMCTL) e2e

clean: ## remove .venv, .tools, generated values and local state
	rm -rf $(VENV) .tools .state values/generated reports .pytest_cache .ruff_cache
