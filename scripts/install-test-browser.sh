#!/bin/sh
# Chromium for the tests that open the backtest report in a real headless browser.
# Idempotent and quick when it is already installed; needs root and apt (as CI has) otherwise.
set -eu
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-browser: chromium is missing; install Debian's chromium package (needs root and apt)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Another apt may be running on a shared machine: wait for its lock rather than fail.
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
