#!/usr/bin/env bash
# Proves `make deploy` and `make destroy` ask nothing and pass what a fresh account needs:
# they run with standard input closed against stand-ins for `sam` and `aws` that record their
# arguments (and answer as AWS would: no stack yet, then the stack's output).
source "$(dirname "$0")/common.sh"
cd "$ROOT"

stubs=$(mktemp -d)
trap 'rm -rf "$stubs"' EXIT
calls="$stubs/calls"
cat >"$stubs/aws" <<'STUB'
#!/usr/bin/env bash
printf 'aws %s\n' "$*" >>"$CALLS"
case "$*" in
  "configure get region") echo eu-west-1 ;;
  "sts get-caller-identity"*) echo 123456789012 ;;
  *describe-stacks*Parameters*)
    if [ -n "${STUB_DEPLOYED_ARCH:-}" ]; then echo "$STUB_DEPLOYED_ARCH"; else
      echo "An error occurred (ValidationError) when calling the DescribeStacks operation: Stack with id taskapi does not exist" >&2; exit 254; fi ;;
  *describe-stacks*Outputs*) echo "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com" ;;
  *) echo "unexpected: aws $*" >&2; exit 1 ;;
esac
STUB
cat >"$stubs/sam" <<'STUB'
#!/usr/bin/env bash
printf 'sam %s\n' "$*" >>"$CALLS"
if [ "$1" = deploy ]; then
  # What sam deploy would upload: every function's CodeUri holds its bootstrap.
  template=$(printf '%s\n' "$@" | grep -A1 -x -- --template-file | tail -1)
  "$PYTHON" - "$template" <<'PY' || exit 1
import json, os, sys
t = json.load(open(sys.argv[1]))
for name, r in t["Resources"].items():
    if r["Type"] == "AWS::Serverless::Function":
        assert os.path.isfile(os.path.join(r["Properties"]["CodeUri"], "bootstrap")), name
PY
fi
STUB
chmod +x "$stubs/aws" "$stubs/sam"

run() {
  : >"$calls"
  env -u AWS_REGION -u AWS_DEFAULT_REGION -u ARCH CALLS="$calls" PYTHON="$VENV/bin/python" \
    SAM_CLI="$stubs/sam" AWS_CLI="$stubs/aws" "$@" </dev/null >"$stubs/out" 2>&1
}
expect() { grep -q -- "$1" "$2" || { cat "$stubs/out" "$calls" >&2; die "make deploy: expected '$1' in $2"; }; }

say "make deploy, first time, standard input closed"
run make --no-print-directory deploy || { cat "$stubs/out" >&2; die "make deploy failed"; }
deploy=$(grep '^sam deploy' "$calls") || die "make deploy did not run sam deploy"
for flag in "--stack-name taskapi" "--region eu-west-1" "--resolve-s3" "--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND" \
  "--no-confirm-changeset" "--no-fail-on-empty-changeset" "--parameter-overrides Architecture=x86_64"; do
  [[ $deploy == *"$flag"* ]] || die "sam deploy lacks '$flag': $deploy"
done
[[ $deploy != *--guided* ]] || die "make deploy must not be guided: $deploy"
[ "$(tail -1 "$stubs/out")" = "Next: make test-remote API_BASE_URL=https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com" ] \
  || { cat "$stubs/out" >&2; die "make deploy does not end with the next command"; }
expect "The API: https://a1b2c3d4e5" "$stubs/out"

say "make deploy to a stack deployed for arm64 builds for arm64 (here: refused, the target is missing)"
if [ -d "$(rustc --print sysroot)/lib/rustlib/aarch64-unknown-linux-gnu" ]; then
  say "(the aarch64 standard library is installed: skipped)"
else
  if STUB_DEPLOYED_ARCH=arm64 run make --no-print-directory deploy; then die "make deploy built x86_64 for an arm64 stack"; fi
  expect "aarch64-unknown-linux-gnu is not installed" "$stubs/out"
  ! grep -q '^sam deploy' "$calls" || die "make deploy deployed after the build was refused"
  if run make --no-print-directory deploy ARCH=arm64; then die "make deploy ARCH=arm64 went on without the target"; fi
  expect "aarch64-unknown-linux-gnu is not installed" "$stubs/out"
fi

say "make deploy ARCH=x86_64 moves an arm64 stack to x86_64"
STUB_DEPLOYED_ARCH=arm64 run make --no-print-directory deploy ARCH=x86_64 || { cat "$stubs/out" >&2; die "make deploy ARCH=x86_64 failed"; }
expect "Architecture=x86_64" "$calls"

say "make destroy"
run make --no-print-directory destroy || { cat "$stubs/out" >&2; die "make destroy failed"; }
expect "^sam delete --stack-name taskapi --region eu-west-1 --no-prompts" "$calls"

# The guided path asks once per routed function whose route has no authorizer (all of them):
# docs/deploy.md must give the right count.
prompts=$("$VENV/bin/python" -c '
import sys; sys.path.insert(0, "tests/harness")
from functions import functions, template
print(sum(1 for r in functions(template()) if any(e["Type"] == "HttpApi" and "Auth" not in e["Properties"] for e in r["Properties"].get("Events", {}).values())))')
grep -q "asks $prompts times" docs/deploy.md || die "docs/deploy.md must say the guided deploy asks $prompts times whether a function without authentication is okay"
say "make deploy and make destroy asked nothing and passed stack, region, bucket, capabilities and architecture; the guided path asks $prompts times"
