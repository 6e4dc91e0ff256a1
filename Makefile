# mloop: run `make help` for the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.venv/.installed: pyproject.toml uv.lock
	$(UV) sync --frozen --extra dev
	@touch $@

# alibi-detect pins numpy<2, so its backend lives in a second environment from the same lock.
.venv-alibi/.installed: pyproject.toml uv.lock
	UV_PROJECT_ENVIRONMENT=.venv-alibi $(UV) sync --frozen --extra drift-alibi
	@touch $@

# MLServer, the peer B2 measures against, clashes with our pins: its own environment, from pinned versions.
.venv-peers/.installed: benchmarks/peers.txt
	$(UV) venv --quiet --allow-existing --python 3.11 .venv-peers
	$(UV) pip sync --quiet --python .venv-peers/bin/python benchmarks/peers.txt
	@touch $@

.PHONY: peers
peers: .venv-peers/.installed ## Install the peer server for B2 (MLServer) into .venv-peers.

.PHONY: install
install: .venv/.installed .venv-alibi/.installed ## Install mloop, every extra and the dev tools (uv, locked versions).

.PHONY: test
test: install ## Run the whole test suite (starts its own API emulator and S3 server on 127.0.0.1).
	$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: lint
lint: install ## ruff, mypy --strict and the import-linter layer contracts.
	.venv/bin/ruff check operator tests benchmarks
	.venv/bin/ruff format --check operator tests benchmarks
	.venv/bin/mypy
	.venv/bin/lint-imports

.PHONY: format
format: install ## Apply ruff's fixes and formatting.
	.venv/bin/ruff check --fix operator tests benchmarks
	.venv/bin/ruff format operator tests benchmarks

.PHONY: crds
crds: install ## Regenerate crds/ from the pydantic API models.
	$(PY) -m mloop.crdgen crds/

.PHONY: docs
docs: install ## Regenerate the README's resource reference from the API models.
	$(PY) -m mloop.crdgen.reference README.md

GENERATED := crds/ README.md charts/mloop/files/crds/ deploy/ docs/argocd.md

.PHONY: verify
verify: crds docs manifests ## Regenerate everything and fail if the committed files differ.
	@git diff --exit-code -- $(GENERATED) || { echo "Generated files are stale: commit the output of 'make crds docs manifests'."; exit 1; }
	@test -z "$$(git status --porcelain -- $(GENERATED))" || { echo "Untracked generated files: commit them."; git status --porcelain -- $(GENERATED); exit 1; }

.PHONY: manifests
manifests: install ## Copy crds/ into the chart; render deploy/ and docs/argocd.md from charts/mloop (Helm SDK).
	$(PY) -m mloop.chartgen

VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' operator/mloop/__init__.py)
IMAGE_REPOSITORY ?= ghcr.io/mloop-io
COMPONENTS := operator trainer server drift
DOCKER ?= docker

.PHONY: images
images: ## Build the four images ghcr.io/mloop-io/mloop-<component>:<version> (needs a Docker engine).
	@$(DOCKER) info >/dev/null 2>&1 || { echo "make images: no Docker engine is reachable ('$(DOCKER) info' failed), so nothing was built."; echo "The Dockerfiles are still checked statically by tests/packaging/test_dockerfiles.py."; exit 1; }
	@for c in $(COMPONENTS); do \
	  echo "==> $(IMAGE_REPOSITORY)/mloop-$$c:$(VERSION)"; \
	  DOCKER_BUILDKIT=1 $(DOCKER) build -f images/$$c/Dockerfile --build-arg VERSION=$(VERSION) \
	    -t $(IMAGE_REPOSITORY)/mloop-$$c:$(VERSION) . || exit 1; \
	done

.PHONY: demo
demo: install ## The whole loop on an embedded control plane: train, gate, serve, drift, retrain, canary.
	$(PY) -m mloop.demo --home .local/demo

.PHONY: bench
bench: install ## Run the benchmarks; prints ratios and writes benchmarks/results.json.
	-$(MAKE) --no-print-directory peers  # B2 says so and skips the peer if this fails
	$(PY) -m benchmarks

.PHONY: operator
operator: install ## Run the operator against the current kubeconfig (MLOOP_* settings from the environment).
	$(PY) -m mloop.operator

.PHONY: emulator
emulator: install ## Run the Kubernetes API emulator on 127.0.0.1:8001, kubeconfig in .local/kubeconfig.
	$(PY) -m mloop.local.apiserver --host 127.0.0.1 --port 8001 --kubeconfig .local/kubeconfig

.PHONY: clean
clean: ## Remove the virtualenv and caches.
	rm -rf .venv .venv-alibi .venv-peers .mypy_cache .ruff_cache .pytest_cache
