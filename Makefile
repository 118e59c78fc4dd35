# The verbs of this project. `make dev` and `make test` set up everything they need.
SHELL := bash
.DEFAULT_GOAL := help
PORT ?= 9000

.PHONY: help dev test fuzz drill bench test-remote lint-template rehearse build deploy migrate db-start db-stop fmt

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

dev: ## Serve the whole API locally on http://127.0.0.1:$(PORT) (database, migrations, watch)
	@PORT=$(PORT) bash tests/harness/dev.sh

test: ## Every check: fmt, clippy, unit/database/handler tests, black-box HTTP tests, template lint
	@bash tests/harness/test.sh

fuzz: ## Fuzz the API against openapi.yaml with schemathesis (EXAMPLES per operation, default 150)
	@bash tests/harness/fuzz.sh $(or $(EXAMPLES),150)

drill: ## Burst drill: 200 instances of a function at once against max_connections 50, directly and through PgBouncer
	@bash tests/harness/burst.sh

bench: ## Benchmark the release binaries as Lambda runs them (FUNCTIONS="me refresh" for some; prints the BENCHMARKS.md table)
	@FUNCTIONS="$(FUNCTIONS)" bash tests/harness/bench.sh

test-remote: ## Run the black-box tests against a deployed stack: make test-remote API_BASE_URL=https://...
	@test -n "$(API_BASE_URL)" || { echo "set API_BASE_URL to the stack's ApiBaseUrl output" >&2; exit 2; }
	API_BASE_URL=$(API_BASE_URL) cargo test -p api-tests --locked

lint-template: ## Check template.yaml: sam validate --lint, cfn-lint, and routes/roles against the code
	@bash tests/harness/tools.sh cfn-lint sam
	@SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 .local/venv/bin/sam validate --lint --template template.yaml
	@.local/venv/bin/cfn-lint template.yaml
	@.local/venv/bin/python tests/harness/check_routes.py --self-test

# The architecture to build for: ARCH, else the Architecture saved in samconfig.toml, else x86_64.
ARCH ?= $(or $(shell grep -oE 'Architecture=\\?"?(x86_64|arm64)' samconfig.toml 2>/dev/null | grep -oE 'x86_64|arm64' | head -n1),x86_64)

rehearse: ## Expand template.yaml as CloudFormation will (both modes) and check it; make test also runs the functions
	@bash tests/harness/tools.sh cfn-lint sam
	@AWS_DEFAULT_REGION=us-east-1 .local/venv/bin/python tests/harness/rehearse.py --template-only

build: ## Build every function for Lambda with sam build (cargo-lambda, offline) for ARCH
	@bash tests/harness/tools.sh cargo-lambda sam
	@PATH="$(CURDIR)/.local/venv/bin:$$PATH" SAM_CLI_TELEMETRY=0 sam build --template template.yaml \
	  --parameter-overrides Architecture=$(ARCH)

deploy: build ## Deploy with sam deploy (guided the first time, then from samconfig.toml)
	@if [ -f samconfig.toml ]; then \
	  PATH="$(CURDIR)/.local/venv/bin:$$PATH" SAM_CLI_TELEMETRY=0 sam deploy; \
	else \
	  PATH="$(CURDIR)/.local/venv/bin:$$PATH" SAM_CLI_TELEMETRY=0 sam deploy --guided --capabilities CAPABILITY_IAM \
	    --parameter-overrides Architecture=$(ARCH); \
	fi

migrate: ## Apply migrations to DATABASE_URL (or the local cluster)
	@DATABASE_URL=$${DATABASE_URL:-$$(bash tests/harness/postgres.sh start)} cargo run --quiet -p migrate

db-start: ## Start the local PostgreSQL cluster and print its URL
	@bash tests/harness/postgres.sh start

db-stop: ## Stop the local PostgreSQL cluster
	@bash tests/harness/postgres.sh stop

fmt: ## Format the code
	cargo fmt --all
