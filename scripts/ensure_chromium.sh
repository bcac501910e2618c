#!/usr/bin/env bash
# Make sure Debian's chromium and chromium-driver are installed, for the report's browser tests.
# Idempotent: does nothing when both are there. Installs with apt-get (sudo when not root),
# running `apt-get update` only if a first install attempt fails. Prints one line saying what
# it did; exits non-zero when it could not install them.
set -uo pipefail

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
  echo ">> chromium: already installed ($(/usr/bin/chromium --version 2>/dev/null | head -n 1))"
  exit 0
fi

sudo=()
if [[ "$(id -u)" != "0" ]]; then
  sudo=(sudo -n)
fi
packages=(chromium chromium-driver)
install() {
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${packages[@]}" >/dev/null 2>&1
}

if install; then
  echo ">> chromium: installed ${packages[*]} with apt-get"
elif "${sudo[@]}" apt-get update -qq >/dev/null 2>&1 && install; then
  echo ">> chromium: installed ${packages[*]} with apt-get (after apt-get update)"
else
  echo ">> chromium: could not install ${packages[*]} with apt-get" >&2
  exit 1
fi
