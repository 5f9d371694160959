#!/usr/bin/env bash
# Make Debian's chromium and chromium-driver available for the web app's browser tests (tests/web).
# No browser download works here: only Debian's packages. Never fatal: without them the browser tests
# skip, unless OLIGOMET_REQUIRE_BROWSER is set (CI), where they fail.
set -u
have() { command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; }
have && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure_browser: installing Debian's chromium and chromium-driver" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
    >/dev/null 2>&1 || true
fi
have || echo "ensure_browser: chromium / chromedriver not available; browser tests will skip" >&2
exit 0
