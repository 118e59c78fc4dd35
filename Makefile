# The verbs of this project. `make dev` and `make test` set up everything they need.
SHELL := bash
.DEFAULT_GOAL := help
PORT ?= 9000

.PHONY: help dev maintenance storage check sqlx-prepare test fuzz drill bench test-remote lint-template rehearse build deploy deploy-guided destroy migrate db-start db-stop fmt

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

dev: ## Serve the whole API locally on http://127.0.0.1:$(PORT) (database, migrations, watch)
	@PORT=$(PORT) bash tests/harness/dev.sh

maintenance: ## Run the retention function once in the API make dev serves (PORT) and print what it deleted
	@PORT=$(PORT) bash tests/harness/maintenance.sh

storage: ## Measure the database's storage per million logins, with and without retention
	@bash tests/harness/storage.sh

check: ## The inner loop (under 2 minutes warm): fmt, clippy, unit tests and template checks, no database
	@bash tests/harness/check.sh

sqlx-prepare: ## Describe every sqlx::query! again into .sqlx/ (after changing a statement or a migration)
	@bash tests/harness/sqlx.sh prepare

test: ## Every check: fmt, clippy, unit/database/handler tests, black-box HTTP tests, template lint
	@bash tests/harness/test.sh

fuzz: ## Fuzz the API against openapi.yaml with schemathesis (EXAMPLES per operation, default 150)
	@bash tests/harness/fuzz.sh $(or $(EXAMPLES),150)

drill: ## Burst drill: 200 instances of a function at once against max_connections 50, directly and through PgBouncer
	@bash tests/harness/burst.sh

bench: ## Benchmark the release binaries as Lambda runs them (FUNCTIONS="me refresh" for some; prints the BENCHMARKS.md table)
	@FUNCTIONS="$(FUNCTIONS)" bash tests/harness/bench.sh

# At most this many requests at once (a new AWS account may allow only 10 concurrent Lambda
# instances): the burst test sends CONCURRENCY logins, the other tests run CONCURRENCY/2 at a time.
CONCURRENCY ?= 16
test-remote: ## Run the black-box tests against a deployed stack: make test-remote API_BASE_URL=https://... [CONCURRENCY=6]
	@test -n "$(API_BASE_URL)" || { echo "set API_BASE_URL to the stack's ApiBaseUrl output" >&2; exit 2; }
	API_BASE_URL=$(API_BASE_URL) TEST_BURST=$(CONCURRENCY) cargo test -p api-tests --locked -- --test-threads=$$(( $(CONCURRENCY) / 2 > 0 ? $(CONCURRENCY) / 2 : 1 ))

lint-template: ## Check template.yaml: sam validate --lint, cfn-lint (with the serverless rules), and routes/roles against the code
	@bash tests/harness/tools.sh cfn-lint sam
	@SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 .local/venv/bin/sam validate --lint --template template.yaml
	@.local/venv/bin/python tests/harness/lint.py
	@.local/venv/bin/python tests/harness/check_routes.py --self-test

rehearse: ## Render template.yaml as CloudFormation will (every mode, cloud-radar) and check it; make test also runs the functions
	@bash tests/harness/tools.sh cfn-lint sam
	@AWS_DEFAULT_REGION=us-east-1 .local/venv/bin/python tests/harness/rehearse.py --template-only

build: ## Build every function's release bootstrap for Lambda in one cargo invocation (ARCH=x86_64 or arm64)
	@bash tests/harness/build.sh $(or $(ARCH),x86_64)

deploy: ## Create or update the stack, asking nothing (STACK=taskapi, ARCH, PARAMS="Name=value ..."); prints the API URL
	@bash tests/harness/deploy.sh

deploy-guided: ## The same with sam deploy --guided: asks for every parameter and saves samconfig.toml
	@bash tests/harness/deploy.sh --guided

destroy: ## Delete the stack (STACK=taskapi) without asking; the database leaves a final snapshot
	@bash tests/harness/destroy.sh

migrate: ## Apply migrations to DATABASE_URL (or the local cluster)
	@DATABASE_URL=$${DATABASE_URL:-$$(bash tests/harness/postgres.sh start)} cargo run --quiet -p migrate

db-start: ## Start the local PostgreSQL cluster and print its URL
	@bash tests/harness/postgres.sh start

db-stop: ## Stop the local PostgreSQL cluster
	@bash tests/harness/postgres.sh stop

fmt: ## Format the code
	cargo fmt --all
