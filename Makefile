# The verbs of this project. `make dev` and `make test` set up everything they need.
SHELL := bash
.DEFAULT_GOAL := help
PORT ?= 9000

.PHONY: help dev test lint-template migrate db-start db-stop fmt

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

dev: ## Serve the whole API locally on http://127.0.0.1:$(PORT) (database, migrations, watch)
	@PORT=$(PORT) bash tests/harness/dev.sh

test: ## Every check: fmt, clippy, unit/database/handler tests, black-box HTTP tests, template lint
	@bash tests/harness/test.sh

lint-template: ## Lint template.yaml with cfn-lint
	@bash tests/harness/tools.sh cfn-lint
	@.local/venv/bin/cfn-lint template.yaml

migrate: ## Apply migrations to DATABASE_URL (or the local cluster)
	@DATABASE_URL=$${DATABASE_URL:-$$(bash tests/harness/postgres.sh start)} cargo run --quiet -p migrate

db-start: ## Start the local PostgreSQL cluster and print its URL
	@bash tests/harness/postgres.sh start

db-stop: ## Stop the local PostgreSQL cluster
	@bash tests/harness/postgres.sh stop

fmt: ## Format the code
	cargo fmt --all
