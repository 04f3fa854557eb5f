#!/usr/bin/env bash
# Installs what the app needs on a fresh Debian 12 machine, as root; safe to run again.
#   scripts/install.sh          the app: Debian packages, the venv, the sandbox
#   scripts/install.sh --dev    also what the tests need: Chromium, PostgreSQL, test packages
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[[ "${1:-}" == "--dev" ]] && dev=1

if [[ $(id -u) -ne 0 ]]; then
  echo "install.sh: run as root (it installs Debian packages and creates the sandbox user)." >&2
  exit 2
fi

packages=(redis-server bubblewrap iproute2 procps curl python3.11 python3.11-venv ca-certificates)
if [[ $dev -eq 1 ]]; then
  packages+=(chromium postgresql fonts-dejavu-core)
fi

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "==> apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The app's own interpreter: python3 if it is 3.11+, else Debian's python3.11.
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  python=/usr/bin/python3.11
fi
if [[ ! -x .venv/bin/python ]]; then
  echo "==> creating .venv with $("$python" --version)"
  "$python" -m venv .venv
fi
requirements=requirements.txt
[[ $dev -eq 1 ]] && requirements=requirements-dev.txt
echo "==> pip install -r $requirements"
.venv/bin/pip install -q --disable-pip-version-check -r "$requirements"

# The sandbox: a dedicated uid and a world-readable interpreter + venv for learners' code.
bash scripts/install_sandbox.sh
