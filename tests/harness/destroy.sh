#!/usr/bin/env bash
# `make destroy`: deletes the stack (STACK, default taskapi) without asking. The database's final
# snapshot stays (the stack's DeletionPolicy), and so does SAM's artifacts bucket.
source "$(dirname "$0")/common.sh"
cd "$ROOT"

stack=${STACK:-taskapi}
sam=${SAM_CLI:-}
aws=${AWS_CLI:-}
if [ -z "$sam" ]; then bash tests/harness/tools.sh sam; sam=$VENV/bin/sam; fi
if [ -z "$aws" ]; then bash tests/harness/tools.sh awscli; aws=$AWS_VENV/bin/aws; fi
region=${AWS_REGION:-${AWS_DEFAULT_REGION:-$("$aws" configure get region 2>/dev/null || true)}}
[ -n "$region" ] || die "no AWS region: set AWS_REGION, or a region in your AWS configuration (aws configure)"
say "deleting stack $stack in $region (the database leaves a final snapshot)"
"$sam" delete --stack-name "$stack" --region "$region" --no-prompts
