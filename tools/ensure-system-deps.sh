#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo need, when missing and when we are root.
# Usage: tools/ensure-system-deps.sh PKG:COMMAND ...   (e.g. mosquitto:mosquitto nodejs:node)
set -euo pipefail
missing=()
for spec in "$@"; do
  pkg=${spec%%:*}; cmd=${spec#*:}
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then missing+=("$pkg"); fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=sudo; else
    echo "missing Debian packages: ${missing[*]} — install them (apt-get install ${missing[*]}) or run as root" >&2
    exit 0
  fi
else SUDO=; fi
echo "installing Debian packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
