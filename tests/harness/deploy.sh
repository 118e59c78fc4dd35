#!/usr/bin/env bash
# `make deploy`: builds the release bootstraps and creates or updates the stack, asking nothing.
# Needs AWS credentials and a region (AWS_REGION, or the AWS configuration's); everything else
# has a default: STACK (taskapi), the architecture (ARCH, else the one the stack was deployed
# with, else x86_64), the artifacts bucket (SAM's managed one), the IAM capabilities.
# PARAMS="Name=value ..." overrides template parameters; others keep their value (on an update)
# or their default (on the first deploy). `deploy.sh --guided` runs `sam deploy --guided` instead.
# SAM_CLI and AWS_CLI name other `sam` and `aws` programs (the tests give stand-ins).
source "$(dirname "$0")/common.sh"
cd "$ROOT"

aws_target
# cargo-lambda and zig for the build.
export PATH="$PATH:$VENV/bin"

err=$(mktemp)
trap 'rm -f "$err"' EXIT
"$aws" sts get-caller-identity --region "$region" --query Account --output text >/dev/null 2>"$err" \
  || { cat "$err" >&2; die "no usable AWS credentials (see above): set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"; }

# The architecture the stack runs now, if it exists.
if deployed=$("$aws" cloudformation describe-stacks --stack-name "$stack" --region "$region" \
    --query "Stacks[0].Parameters[?ParameterKey=='Architecture'].ParameterValue" --output text 2>"$err"); then
  exists=1
elif grep -q "does not exist" "$err"; then
  exists= deployed=
else
  cat "$err" >&2
  die "could not read stack $stack in $region (see above)"
fi
arch=${ARCH:-${deployed:-x86_64}}
if [ -n "$exists" ] && [ "$arch" != "$deployed" ]; then
  say "stack $stack runs $deployed; this deploy moves it to $arch (ARCH=$arch)"
fi

bash tests/harness/build.sh "$arch"
"$VENV/bin/python" tests/harness/functions.py deploy-template .aws-sam/deploy/template.json

common=(--template-file "$ROOT/.aws-sam/deploy/template.json" --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND)
if [ "${1:-}" = --guided ]; then
  say "sam deploy --guided (answers are saved in samconfig.toml)"
  "$sam" deploy --guided "${common[@]}" --stack-name "$stack" --region "$region" --parameter-overrides "Architecture=$arch"
  exit
fi

# shellcheck disable=SC2086 # PARAMS is a list of Name=value words
say "deploying stack $stack to $region ($([ -n "$exists" ] && echo update || echo 'first deploy, about 20 minutes'))"
# From an empty folder, so that a samconfig.toml of a guided deploy does not mix in.
(cd .aws-sam/deploy && "$sam" deploy "${common[@]}" --stack-name "$stack" --region "$region" \
  --resolve-s3 --no-confirm-changeset --no-fail-on-empty-changeset \
  --parameter-overrides "Architecture=$arch" ${PARAMS:-})

url=$("$aws" cloudformation describe-stacks --stack-name "$stack" --region "$region" \
  --query "Stacks[0].Outputs[?OutputKey=='ApiBaseUrl'].OutputValue" --output text)
echo
echo "The API: $url"
echo "Next: make test-remote API_BASE_URL=$url"
