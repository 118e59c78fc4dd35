#!/usr/bin/env bash
# Installs the pinned Python-packaged tools (cargo-lambda, cfn-lint, moto) into .local/venv.
# Usage: tools.sh [cargo-lambda] [cfn-lint] [moto] [sam] [schemathesis] [openapi-python-client]
#                 [awscli]   (no argument: all but awscli, which has a venv of its own)
source "$(dirname "$0")/common.sh"

wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=(cargo-lambda cfn-lint moto sam schemathesis openapi-python-client)

if [ "${wanted[*]}" = awscli ]; then
  stamp="$AWS_VENV/.installed-awscli==$AWSCLI_VERSION"
  if [ ! -f "$stamp" ]; then
    [ -x "$AWS_VENV/bin/python" ] || python3 -m venv "$AWS_VENV" || die "python3 -m venv failed"
    say "installing awscli==$AWSCLI_VERSION"
    "$AWS_VENV/bin/pip" install --quiet --disable-pip-version-check "awscli==$AWSCLI_VERSION"
    touch "$stamp"
  fi
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed: install Python 3 with the venv module"
fi

specs=()
for tool in "${wanted[@]}"; do
  case $tool in
    cargo-lambda) spec="cargo-lambda==$CARGO_LAMBDA_VERSION" ;;
    cfn-lint) spec="cfn-lint==$CFN_LINT_VERSION cfn-lint-serverless==$CFN_LINT_SERVERLESS_VERSION cloud-radar==$CLOUD_RADAR_VERSION" ;;
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
  # shellcheck disable=SC2046 # a tool may be several packages, space-separated
  "$VENV/bin/pip" install --quiet --disable-pip-version-check $(printf '%s ' "${specs[@]}")
  for spec in "${specs[@]}"; do touch "$VENV/.installed-${spec//[^A-Za-z0-9.=_-]/_}"; done
fi
