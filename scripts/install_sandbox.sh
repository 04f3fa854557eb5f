#!/usr/bin/env bash
# Set up what cards/sandbox needs on a Debian 12 host or worker image. Idempotent; run as root.
#
# - bubblewrap (the sandbox), iproute2 (network namespaces for grader fixtures), util-linux;
# - Debian's own python3.11 and a world-readable venv with httpx and requests: the project's
#   interpreter may live under /root (mode 0700), which the sandbox's uid cannot read;
# - a dedicated unprivileged user; sandboxed runs use uids SANDBOX_UID_BASE .. +SANDBOX_UID_COUNT-1
#   (one per concurrent run, so RLIMIT_NPROC is per run and runs cannot touch each other);
# - an empty directory over which each run mounts its private /tmp (in its own mount namespace);
# - sandbox-exec, built from cards/sandbox/sandbox_exec.c: the root-side steps before bubblewrap;
# - cgroup2 mounted with favordynmods, so that moving each run into its cgroup does not wait for
#   an RCU grace period (about 10 ms per run here otherwise).
set -euo pipefail

SANDBOX_ROOT="${SANDBOX_ROOT:-/opt/studyapp-sandbox}"
SANDBOX_UID_BASE="${SANDBOX_UID_BASE:-61000}"
SANDBOX_USER="studyapp-sandbox"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [ "$(id -u)" -ne 0 ]; then
    echo "install_sandbox.sh: run as root" >&2
    exit 1
fi

need=()
for pkg in bubblewrap iproute2 util-linux python3.11 python3.11-venv gcc libc6-dev; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

if ! getent group "$SANDBOX_USER" >/dev/null; then
    groupadd --gid "$SANDBOX_UID_BASE" "$SANDBOX_USER"
fi
if ! getent passwd "$SANDBOX_USER" >/dev/null; then
    useradd --uid "$SANDBOX_UID_BASE" --gid "$SANDBOX_UID_BASE" --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin "$SANDBOX_USER"
fi

install -d -m 0755 -o root -g root "$SANDBOX_ROOT" "$SANDBOX_ROOT/mnt" "$SANDBOX_ROOT/bin"
helper_src="$here/../cards/sandbox/sandbox_exec.c"
build="cc -O2 -static-pie -Wall -Wextra -Werror"  # static: no dynamic loading on every run
if ! cmp -s "$helper_src" "$SANDBOX_ROOT/bin/sandbox-exec.c" \
    || [ "$(cat "$SANDBOX_ROOT/bin/sandbox-exec.build" 2>/dev/null)" != "$build" ]; then
    $build -o "$SANDBOX_ROOT/bin/sandbox-exec.new" "$helper_src"
    echo "$build" > "$SANDBOX_ROOT/bin/sandbox-exec.build"
    mv "$SANDBOX_ROOT/bin/sandbox-exec.new" "$SANDBOX_ROOT/bin/sandbox-exec"
    # The source it was built from: the worker refuses to run with a helper from another version.
    cp "$helper_src" "$SANDBOX_ROOT/bin/sandbox-exec.c"
fi
venv="$SANDBOX_ROOT/venv"
if [ ! -x "$venv/bin/python" ]; then
    /usr/bin/python3.11 -m venv "$venv"
fi
if ! cmp -s "$here/sandbox-requirements.txt" "$venv/.requirements.txt"; then
    "$venv/bin/python" -m pip install --quiet --no-cache-dir --disable-pip-version-check \
        -r "$here/sandbox-requirements.txt"
    cp "$here/sandbox-requirements.txt" "$venv/.requirements.txt"
fi
# Bytecode is compiled here, as root: inside the sandbox everything is read-only.
"$venv/bin/python" -m compileall -q "$venv/lib" >/dev/null || true
chown -R root:root "$SANDBOX_ROOT"
chmod -R a+rX,go-w "$SANDBOX_ROOT"

# Unprivileged user namespaces must be allowed: the sandbox's bubblewrap runs as the sandbox uid.
if [ -e /proc/sys/kernel/unprivileged_userns_clone ] && [ "$(cat /proc/sys/kernel/unprivileged_userns_clone)" = 0 ]; then
    echo "install_sandbox.sh: kernel.unprivileged_userns_clone=0; set it to 1 (sysctl -w kernel.unprivileged_userns_clone=1)" >&2
fi

# Moving a process into a cgroup takes a global lock whose default mode waits for an RCU grace
# period on each move; favordynmods (Linux 6.0+) trades that for slightly dearer forks. It is a flag
# of the cgroup2 mount and affects every hierarchy. Not persistent: run.sh and test.sh re-run this.
cgroup2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
if [ -n "$cgroup2" ] && ! grep -q "^cgroup2 $cgroup2 cgroup2 .*favordynmods" /proc/self/mounts; then
    mount -o remount,favordynmods "$cgroup2" 2>/dev/null \
        || echo "install_sandbox.sh: could not remount $cgroup2 with favordynmods; each run pays ~10 ms more" >&2
fi

# Smoke test: bubblewrap as the sandbox uid. Only a warning: `docker build` has no namespaces, the
# running worker container does (see docs/sandbox.md); the worker refuses to grade until it works.
if ! smoke=$(setpriv --reuid="$SANDBOX_UID_BASE" --regid="$SANDBOX_UID_BASE" --clear-groups -- \
    bwrap --unshare-all --unshare-user --disable-userns --die-with-parent --ro-bind /usr /usr \
    --symlink usr/lib /lib --symlink usr/lib64 /lib64 --proc /proc --dev /dev /usr/bin/true 2>&1); then
    echo "install_sandbox.sh: WARNING: bubblewrap cannot create namespaces here: $smoke" >&2
fi

echo "sandbox ready: $(bwrap --version), venv $venv ($("$venv/bin/python" -c 'import httpx, requests; print("httpx", httpx.__version__, "requests", requests.__version__)'))"
