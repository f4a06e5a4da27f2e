# The contract users type; every recipe is a thin call into scripts/platformctl (see README.md).
# `make help` lists the targets from their `##` comments.

ENV ?= dev
# The environment names, from environments.yaml (the one file that lists them; see its header).
ENVS := $(shell awk '/^environments:/ {on = 1; next} on && /^[^ \#]/ {on = 0} \
	on && /^  [a-z][a-z0-9]*:/ {sub(/:.*/, ""); print $$1}' environments.yaml 2>/dev/null)
_comma := ,
_empty :=
_space := $(_empty) $(_empty)
# Every variable a recipe uses is checked before anything runs, with make functions only (no shell) and on
# its unexpanded text ($(value ...)), so that nothing a user types can run as make or shell code: names and
# paths are limited to letters, digits and . _ / - ; switches to 0/1. ENV must be one of ENVS.
_SAFE := a b c d e f g h i j k l m n o p q r s t u v w x y z A B C D E F G H I J K L M N O P Q R S T U V W X Y Z \
         0 1 2 3 4 5 6 7 8 9 . _ / -
_strip = $(if $(2),$(call _strip,$(subst $(firstword $(2)),,$(1)),$(wordlist 2,999,$(2))),$(1))
_unsafe = $(strip $(call _strip,$(subst $$,?,$(value $(1))),$(_SAFE)))$(if $(word 2,$(value $(1))),space)
check_safe = $(if $(call _unsafe,$(1)),$(error $(1) may only contain letters, digits and . _ / -))
check_flag = $(if $(filter-out 0 1,$(value $(1))),$(error $(1) must be 0 or 1))
$(call check_safe,ENV)
ifeq ($(strip $(ENVS)),)
$(error environments.yaml is missing or lists no environment; restore it from git)
endif
ifeq ($(filter $(value ENV),$(ENVS)),)
$(shell printf "error: unknown ENV '%s' (choose %s)\n" '$(value ENV)' '$(subst $(_space),$(_comma)$(_space),$(strip $(ENVS)))' >&2)
$(error stopped)
endif
AUTO_APPROVE ?= 0
NO_BUILD ?= 0
CHECK ?= 0
FORCE ?= 0
$(foreach v,SECRET PLAN SITE BACKUP,$(call check_safe,$(v)))
$(foreach v,AUTO_APPROVE NO_BUILD CHECK FORCE,$(call check_flag,$(v)))

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
PLATFORMCTL := $(VENV)/bin/platformctl --env $(ENV)
# A site profile (docs/configuration.md) reaches platformctl through the environment, like KUBECONFIG.
ifneq ($(SITE),)
export PLATFORMCTL_SITE := $(SITE)
endif
APPLY_FLAGS := $(if $(PLAN),--plan-dir '$(PLAN)') $(if $(filter 1,$(AUTO_APPROVE)),--auto-approve) \
               $(if $(filter 1,$(NO_BUILD)),--no-build)
export PATH := $(CURDIR)/.tools/bin:$(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help setup tools test lint values plan apply smoke rotate backup restore destroy render bench e2e doctor clean

help: ## list the targets (ENV: a name of environments.yaml, default dev)
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  %-9s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# The venv is rebuilt only when a pyproject.toml changed; everything else is platformctl's job.
$(VENV)/.installed: pyproject.toml $(wildcard services/*/pyproject.toml)
	@echo "==> $(VENV): pip install -e .[dev]$(foreach s,$(wildcard services/*/pyproject.toml), -e $(dir $(s))[test]) (every pin of the pyproject.toml files: about 100 packages the first time)"
	@started=$$SECONDS; \
	$(PYTHON) -m venv $(VENV); \
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[dev]' $(foreach s,$(wildcard services/*/pyproject.toml),-e '$(dir $(s))[test]'); \
	echo "==> $(VENV) ready: pip install took $$((SECONDS - started))s"
	@touch $@

setup: $(VENV)/.installed ## create .venv and install the pinned tools into .tools/ (idempotent)
	@$(PLATFORMCTL) setup

# What the targets that run the tools need: `platformctl setup` only when the stamp a successful setup writes,
# .tools/.installed-<digest of versions.yaml's tools: section> (toolchain.tools_digest), is missing: the first
# time, and after the tools changed. `make setup` always checks everything.
tools: $(VENV)/.installed
	@digest=$$(awk '/^[^[:space:]]/ { keep = /^tools:/ } keep' versions.yaml | sha256sum | cut -c1-16); \
	[ -e "$${PLATFORMCTL_TOOLS_DIR:-.tools}/.installed-$$digest" ] || $(PLATFORMCTL) setup

doctor: $(VENV)/.installed ## can apply of ENV run now? each row ok/warn/FAIL with its fix; non-zero on a FAIL
	@$(PLATFORMCTL) doctor

lint: tools ## ruff, yamllint, terraform fmt, helm lint --strict, shellcheck
	@$(PLATFORMCTL) lint

test: lint ## lint, then every test suite that needs no cluster
	@$(PLATFORMCTL) test

values: tools ## generate and validate values/generated/ENV (secret checksums, image tags; no secret value)
	@$(PLATFORMCTL) values

render: tools ## render the own charts for ENV into reports/rendered/ENV
	@$(PLATFORMCTL) render

plan: tools ## values, then what apply would change for ENV (PLAN=DIR saves it for apply)
	@$(PLATFORMCTL) plan $(if $(PLAN),--out '$(PLAN)')

apply: tools ## cluster, namespaces, images, secrets, values, releases, smoke (PLAN=DIR AUTO_APPROVE=1 NO_BUILD=1 SITE=FILE)
	@$(PLATFORMCTL) apply $(APPLY_FLAGS)

smoke: tools ## post-deploy smoke tests against the current kube context
	@$(PLATFORMCTL) smoke --junit reports/junit/smoke.xml

rotate: tools ## rotate one secret: make rotate SECRET=name
	@$(PLATFORMCTL) rotate --secret '$(SECRET)'

backup: tools ## back up the users database now (a Job from its backup CronJob); list: platformctl backup list
	@$(PLATFORMCTL) backup run

restore: tools ## restore the users database: the newest backup or BACKUP=name; FORCE=1 replaces data
	@$(PLATFORMCTL) backup restore $(if $(BACKUP),--name '$(BACKUP)') $(if $(filter 1,$(FORCE)),--force)

destroy: tools ## tear down ENV's releases, namespaces, cluster and dev Vault (prod: AUTO_APPROVE=1)
	@$(PLATFORMCTL) destroy $(if $(filter 1,$(AUTO_APPROVE)),--auto-approve)

bench: tools ## benchmarks: figures against references of the same run (CHECK=1: fail on a missed goal)
	@$(PLATFORMCTL) bench $(if $(filter 1,$(CHECK)),--check)

e2e: tools ## make apply/smoke/rotate/destroy end to end on the cluster KUBECONFIG points at (tools/e2e)
	@$(VENV)/bin/python -m tools.e2e.driver

clean: ## stop the dev Vault; remove .venv, .tools, generated values, local state, Terraform's working dirs
	@if [ -x $(VENV)/bin/platformctl ]; then $(VENV)/bin/platformctl vault dev --stop; fi
	rm -rf $(VENV) .tools .state values/generated reports .pytest_cache .ruff_cache .mypy_cache .hypothesis terraform/.dev \
	  terraform/stacks/*/.terraform terraform/modules/*/.terraform scripts/*.egg-info services/*/*.egg-info
