#!/usr/bin/env bash
# Installs the pinned Python-packaged tools (cargo-lambda, cfn-lint, moto) into .local/venv.
# Usage: tools.sh [cargo-lambda] [cfn-lint] [moto] [sam] [schemathesis] [openapi-python-client]
# (no argument: all)
source "$(dirname "$0")/common.sh"

wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=(cargo-lambda cfn-lint moto sam schemathesis openapi-python-client)

if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed: install Python 3 with the venv module"
fi

specs=()
for tool in "${wanted[@]}"; do
  case $tool in
    cargo-lambda) spec="cargo-lambda==$CARGO_LAMBDA_VERSION" ;;
    cfn-lint) spec="cfn-lint==$CFN_LINT_VERSION" ;;
    moto) spec="moto[server]==$MOTO_VERSION" ;;
    sam) spec="aws-sam-cli==$SAM_CLI_VERSION" ;;
    schemathesis) spec="schemathesis==$SCHEMATHESIS_VERSION" ;;
    openapi-python-client) spec="openapi-python-client==$OPENAPI_PYTHON_CLIENT_VERSION" ;;
    *) die "unknown tool: $tool" ;;
  esac
  stamp="$VENV/.installed-${spec//[^A-Za-z0-9.=_-]/_}"
  [ -f "$stamp" ] || specs+=("$spec")
done

if [ ${#specs[@]} -gt 0 ]; then
  say "installing ${specs[*]}"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${specs[@]}"
  for spec in "${specs[@]}"; do touch "$VENV/.installed-${spec//[^A-Za-z0-9.=_-]/_}"; done
fi
