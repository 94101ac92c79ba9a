#!/bin/sh
# The browser tests (tests/e2e/test_web.py) drive Debian's chromium package through Playwright (no browser
# download). Install it when missing and we are root; otherwise say how, and the browser tests are skipped.
set -e
CHROMIUM=/usr/bin/chromium
[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing chromium for the browser tests (apt-get) ..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
    echo "note: $CHROMIUM is missing: the browser tests will be skipped (as root: apt-get install chromium)." >&2
fi
