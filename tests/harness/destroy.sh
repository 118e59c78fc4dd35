#!/usr/bin/env bash
# `make destroy`: deletes the stack (STACK, default taskapi) without asking. The database's final
# snapshot stays (the stack's DeletionPolicy), and so does SAM's artifacts bucket.
source "$(dirname "$0")/common.sh"
cd "$ROOT"

aws_target
say "deleting stack $stack in $region (the database leaves a final snapshot)"
"$sam" delete --stack-name "$stack" --region "$region" --no-prompts
