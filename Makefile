# studylink: patients download their imaging study through a secret link.
# `make help` lists the targets; each is a thin wrapper over npm workspace scripts.
.DEFAULT_GOAL := help
SHELL := /bin/bash

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

node_modules: package-lock.json
	npm ci
	@touch node_modules

.PHONY: install
install: node_modules ## Install npm dependencies from the lockfile

.PHONY: deps
deps: ## Install missing Debian packages (PostgreSQL, nginx, Orthanc + DICOMweb, dcmtk, Chromium) and start PostgreSQL
	bash scripts/install-deps.sh

.PHONY: build
build: node_modules ## Compile every workspace (tsc -b) and bundle the patient viewer (packages/patient-viewer/dist)
	npx tsc -b
	npm run build -w @studylink/patient-viewer

.PHONY: lint
lint: node_modules ## Format and lint check (biome) and type-check everything, tests included
	npx biome check .
	npx tsc -p tsconfig.check.json
	npx tsc -p packages/patient-viewer/tsconfig.json

.PHONY: format
format: node_modules ## Rewrite files with biome's formatting and safe fixes
	npx biome check --write .

.PHONY: test
test: deps build ## Run every test: unit, integration (PostgreSQL, Orthanc) and e2e (the real stack)
	@status=0; npx vitest run --reporter=default --reporter=json --outputFile.json=.test-results.json || status=$$?; \
	  node scripts/test-summary.mjs .test-results.json; exit $$status

.PHONY: test-unit
test-unit: node_modules ## Only the package tests (no stack needed beyond PostgreSQL/Orthanc fixtures)
	npx vitest run --project packages

.PHONY: migrate
migrate: node_modules ## Apply SQL migrations to DATABASE_URL (under an advisory lock)
	node migrations/migrate.mjs

.PHONY: dev
dev: deps build ## Run the whole stack on loopback in the foreground (PostgreSQL, Orthanc with demo data unless set, both services, nginx)
	node --enable-source-maps scripts/dev.mjs

.PHONY: bench
bench: build ## Measure export throughput, memory and page latency, then the viewer's; prints figures
	node --enable-source-maps scripts/bench.mjs
	node --enable-source-maps scripts/bench-viewer.mjs

.PHONY: bench-staff-search
bench-staff-search: build ## Measure the staff search's index on a stock Orthanc: walks of the store, a search page
	node --enable-source-maps scripts/bench-staff-search.mjs

.PHONY: bench-viewer
bench-viewer: build ## Measure the viewer: time to first image and to the whole series, export memory with 10 viewers
	node --enable-source-maps scripts/bench-viewer.mjs

# Docker: `docker compose` (v2) if the docker CLI has it, else docker-compose (v1).
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo docker compose || echo docker-compose)
# The Dockerfiles use BuildKit (a build secret for an extra CA bundle, npm's cache): compose v1 and
# Docker 20.10 build with it only when asked.
export DOCKER_BUILDKIT := 1
export COMPOSE_DOCKER_CLI_BUILD := 1

.PHONY: test-docker
test-docker: deps build ## Build the images (stand-in bases from Debian) and run the compose stack for real: links, zip, viewer, operations, upgrade; prints figures
	node --enable-source-maps scripts/docker/test-docker.mjs

.PHONY: images
images: ## Build the product images and write them to build/images/*.tar with their digests (STANDINS=1: on the stand-in bases)
	node scripts/docker/images.mjs

.PHONY: standins
standins: ## Build stand-in base images (node, postgres, nginx, orthanc) from Debian packages; prints the .env lines
	bash deploy/standins/build.sh

.PHONY: up
up: ## Run everything in Docker with a demo PACS (writes .env with fresh secrets if missing); prints a demo link
	node deploy/demo.mjs env
	$(COMPOSE) --profile demo up -d --build
	node deploy/demo.mjs link

.PHONY: down
down: ## Stop the Docker stack (data volumes are kept; `docker compose --profile demo down -v` deletes them)
	$(COMPOSE) --profile demo down

.PHONY: logs
logs: ## Follow the Docker stack's logs (JSON lines from every service)
	$(COMPOSE) --profile demo logs -f --tail=200
