#!/usr/bin/env bash
# The docs page in a real browser: Debian's chromium, headless, driven by Playwright
# (tests/browser/docs_page.mjs). The screenshot is kept as target/browser/docs-page.png.
# Usage: browser.sh install        chromium (apt-get, as root) and the pinned playwright-core
#        browser.sh API_BASE_URL   run the test against a served API (make dev, or make test's)
source "$(dirname "$0")/common.sh"
cd "$ROOT"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export CHROMIUM

install() {
  if [ ! -x "$CHROMIUM" ]; then
    [ "$(id -u)" = 0 ] || die "the browser test needs Debian's chromium: run 'sudo apt-get install chromium', or set CHROMIUM"
    say "installing chromium (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium >/dev/null ||
      { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } ||
      die "apt-get install chromium failed"
  fi
  local locked installed
  locked=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["packages"]["node_modules/playwright-core"]["version"])' tests/browser/package-lock.json)
  installed=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' tests/browser/node_modules/playwright-core/package.json 2>/dev/null || true)
  if [ "$locked" != "$installed" ]; then
    say "installing playwright-core $locked (npm ci)"
    (cd tests/browser && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) || die "npm ci in tests/browser failed"
  fi
}

case ${1:-} in
  install) install ;;
  http://* | https://*)
    install
    node tests/browser/docs_page.mjs "$1" "$ROOT/target/browser/docs-page.png"
    ;;
  *) die "usage: browser.sh install | browser.sh API_BASE_URL" ;;
esac
