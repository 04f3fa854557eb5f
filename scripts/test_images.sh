#!/usr/bin/env bash
# The container images and the compose stack, built and run for real with podman, then torn down:
#
#   scripts/test_images.sh            (as root; CI runs it after the test suite, through .ci/run)
#
# 1. Installs what it needs from Debian (podman with runc, debootstrap) and podman-compose from PyPI.
# 2. Where no registry has the base images the Dockerfile and docker-compose.yml name
#    (python:3.11-slim-bookworm, postgres:15-bookworm, redis:7-bookworm), builds stand-ins for them
#    from a debootstrapped Debian 12 (deploy/standins/), tagged with those names and labelled
#    org.studyapp.standin; images already there are used as they are.
# 3. `deploy/podman-compose-up.sh --build`, the command docs/deployment.md gives operators: builds
#    the web and worker targets of the Dockerfile, in Docker's image format (podman's OCI default
#    drops HEALTHCHECK), then
# 4. brings docker-compose.yml up in its depends_on order, under a project of its own.
# 5. Runs scripts/image_checks.py: /healthz, the healthchecks, the web's user, sign-up, a review
#    answer and a graded submission over HTTP, every challenge's reference and starter in the worker,
#    sandbox_run, each of the worker's capabilities taken away in turn, and a worker restarted
#    (gracefully, then killed) mid-grading.
# 6. Tears everything down, on success or failure: nothing of the stack is left running.
#
# Facts about this kind of machine it deals with: root cannot raise RLIMIT_NOFILE past its hard limit,
# so podman's default ulimits are replaced by what root has here; cgroups are in hybrid mode, which
# crun refuses, so the runtime is runc. Both are set in a containers.conf passed through CONTAINERS_CONF
# to this test's podman only. Build containers do not see the host's pip configuration or CA bundle:
# where the host has them, the builds get them in a read-only /root (pip's user configuration), for
# the build only; nothing of them lands in an image.
#
# Environment: STUDYAPP_IMAGE_TEST_DIR (default /var/tmp/studyapp-image-test: its caches, kept between
# runs), STUDYAPP_IMAGE_TEST_NO_CACHE=1 (build the app images without podman's layer cache).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

work=${STUDYAPP_IMAGE_TEST_DIR:-/var/tmp/studyapp-image-test}
project=studyapp-imagetest
podman_compose_version=1.6.0
standin_label=org.studyapp.standin

step() { printf '==> [%3ds] %s\n' $((SECONDS - started)) "$*"; }
# podman without systemd says so at every container start; nothing here needs its timers.
quiet() { grep --line-buffered -v -e 'unable to get systemd connection' -e 'failed to connect to syslog' || true; }
# A long step runs in the background while this shell waits for it: a TERM is then acted on at
# once (bash runs no trap until a foreground command ends), and the teardown stops the step first.
in_background() {
    "$@" &
    wait $!
}
descendants() {
    local child
    for child in $(ps -o pid= --ppid "$1"); do
        descendants "$child"
        echo "$child"
    done
}
fail() {
    echo "test_images.sh: $*" >&2
    exit 1
}

if [ "$(id -u)" -ne 0 ]; then
    fail "run as root (it installs packages and runs the worker's namespaces)"
fi
mkdir -p "$work"
# One run at a time on a machine: the project name, the images' tags and the caches are shared.
exec 9>"$work/lock"
flock -w 900 9 || fail "another run holds $work/lock"
rm -f "$work/checks.log"

# ---- 1. Tools -------------------------------------------------------------------------------------
step "Debian packages: podman, runc, debootstrap"
need=()
for pkg in podman runc conmon netavark aardvark-dns iptables debootstrap python3-venv ca-certificates procps; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# This test's own podman configuration (the host's /etc/containers is left as it is).
nofile=$(ulimit -Hn)
nproc=$(ulimit -Hu)
[ "$nofile" = unlimited ] && nofile=1048576
{ [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
cat >"$work/containers.conf" <<EOF
# Written by scripts/test_images.sh for its own podman commands (CONTAINERS_CONF).
[containers]
# podman's defaults ask for more open files than root may have here (hard limit $(ulimit -Hn)).
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
# crun refuses hosts whose cgroups are in hybrid mode; runc runs there.
runtime = "runc"
EOF
export CONTAINERS_CONF=$work/containers.conf
podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupsVersion}}' >/dev/null \
    || fail "podman does not work here: podman info failed"

step "podman-compose $podman_compose_version from PyPI"
venv=$work/podman-compose
if [ "$("$venv/bin/podman-compose" --version 2>/dev/null | sed -n 's/^podman-compose version //p')" != "$podman_compose_version" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --disable-pip-version-check "podman-compose==$podman_compose_version" \
        >"$work/pip.log" 2>&1 || { tail -n 20 "$work/pip.log"; fail "installing podman-compose failed"; }
fi

# ---- teardown, whatever happens from here ----------------------------------------------------------
compose=(env -i "PATH=$PATH" "HOME=$HOME" "CONTAINERS_CONF=$CONTAINERS_CONF"
    "$venv/bin/podman-compose" -p "$project" --env-file "$work/stack.env")
labelled() { podman "$1" ls -a -q --filter "label=$2" 2>/dev/null || true; }
# This test's containers (the stack's and the capability probes'), pod, network and volumes; only
# those: anything else podman runs here is left alone.
remove_stack() {
    local id
    for id in $(labelled container "io.podman.compose.project=$project") $(labelled container studyapp-image-test=1); do
        podman rm -f -t 5 "$id" >/dev/null 2>&1 || true
    done
    podman pod rm -f "pod_$project" >/dev/null 2>&1 || true
    podman network rm -f "${project}_default" >/dev/null 2>&1 || true
    for id in $(podman volume ls -q --filter "label=io.podman.compose.project=$project"); do
        podman volume rm -f "$id" >/dev/null 2>&1 || true
    done
}
teardown() {
    local code=$? left pids
    trap - EXIT INT TERM
    set +e
    pids=$(descendants $$)
    if [ -n "$pids" ]; then
        kill -TERM $pids 2>/dev/null
        sleep 1
    fi
    if [ "$code" -ne 0 ] && [ -n "$(labelled container "io.podman.compose.project=$project")" ]; then
        echo "---- the stack's last log lines (the run failed)"
        for name in $(podman ps -a --format '{{.Names}}' --filter "label=io.podman.compose.project=$project"); do
            echo "---- $name"
            podman logs --tail 15 "$name" 2>&1 | cut -c1-400
        done
    fi
    step "tearing down"
    if [ -f "$work/stack.env" ]; then
        "${compose[@]}" down -v -t 30 >"$work/down.log" 2>&1
    fi
    remove_stack  # whatever compose did not remove
    # The images earlier runs built and this one replaced (untagged now); this run's stay as a cache.
    podman image prune -f --filter label=org.studyapp.image-test=1 \
        --filter "until=$((SECONDS - started + 1))s" >/dev/null 2>&1
    rm -rf "$work/stack.env" "$work/build-home" "$work/rootfs"
    left="$(labelled container "io.podman.compose.project=$project") $(labelled container studyapp-image-test=1)"
    podman pod exists "pod_$project" && left+=" pod pod_$project"
    left+="$(podman volume ls -q --filter "label=io.podman.compose.project=$project")"
    podman network exists "${project}_default" && left+=" network ${project}_default"
    if [ -n "${left// /}" ]; then
        echo "test_images.sh: still there after teardown: $left" >&2
        [ "$code" -eq 0 ] && code=1
    else
        echo "left running: nothing (containers, pod, network and volumes of $project removed)"
    fi
    passed=$(grep -c '^ok' "$work/checks.log" 2>/dev/null || true)
    failed=$(grep -c '^FAIL' "$work/checks.log" 2>/dev/null || true)
    [ "$code" -ne 0 ] && [ "${failed:-0}" -eq 0 ] && failed=1  # it stopped before or between the checks
    if [ "$code" -eq 0 ]; then
        step "images: all checks passed"
    else
        step "images: FAILED (exit $code)"
    fi
    echo "images: ${passed:-0} passed, ${failed:-0} failed"
    exit "$code"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
remove_stack  # what an interrupted earlier run may have left

# ---- 2. Base images --------------------------------------------------------------------------------
# The Debian mirror apt uses here (deb822 .sources or a one-line sources.list), for debootstrap.
apt_mirror() {
    local suite=$1 fallback=$2 uri
    uri=$(awk -v suite="$suite" '
        /^URIs:/ { uris = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) { print uris; exit } }
        /^deb / { for (i = 2; i <= NF; i++) if ($i ~ /^(http|https|file):/) { if ($(i+1) == suite) { print $i; exit } } }
    ' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n 1)
    echo "${uri:-$fallback}"
}
mirror=$(apt_mirror bookworm http://deb.debian.org/debian)
security_mirror=$(apt_mirror bookworm-security http://deb.debian.org/debian-security)
recipe_hash() { cat "$@" | sha256sum | cut -c1-16; }
image_label() { podman image inspect --format "{{index .Labels \"$standin_label\"}}" "$1" 2>/dev/null || true; }

debian_base=localhost/studyapp-standin/debian:bookworm
ensure_debian_base() {
    local recipe
    recipe=$(printf 'debootstrap --variant=minbase bookworm %s %s v1' "$mirror" "$security_mirror" | sha256sum | cut -c1-16)
    if [ "$(image_label "$debian_base")" = "$recipe" ]; then
        return 0
    fi
    step "debootstrap Debian 12 (bookworm) from $mirror"
    rm -rf "$work/rootfs"
    debootstrap --variant=minbase --components=main bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || fail "debootstrap failed; see $work/debootstrap.log"
    cat >"$work/rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security_mirror bookworm-security main
EOF
    rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
    tar -C "$work/rootfs" -c . | podman import -q --change "LABEL $standin_label=$recipe" \
        --change 'CMD ["bash"]' - "$debian_base" >/dev/null
    rm -rf "$work/rootfs"
}

# ensure_image NAME RECIPE-FILE...: NAME as it is if present (pulled or built earlier); else pulled;
# else, where no registry answers, the stand-in built from the recipe on the Debian base.
ensure_image() {
    local name=$1 containerfile=$2 label recipe
    shift
    label=$(image_label "$name")
    if podman image exists "$name" && [ -z "$label" ]; then
        echo "    $name: present (not a stand-in)"
        return 0
    fi
    if [ -z "$label" ] && timeout 120 podman pull -q "$name" >/dev/null 2>"$work/pull.log"; then
        echo "    $name: pulled"
        return 0
    fi
    ensure_debian_base
    recipe=$(recipe_hash "$@" <(podman image inspect --format '{{.Id}}' "$debian_base"))
    if [ "$label" = "$recipe" ]; then
        echo "    $name: stand-in, built earlier ($recipe)"
        return 0
    fi
    [ -n "$label" ] || echo "    $name: no registry answers ($(tail -n 1 "$work/pull.log" | cut -c1-120))"
    podman build --format docker --build-arg "BASE=$debian_base" --label "$standin_label=$recipe" \
        -f "$containerfile" -t "$name" deploy/standins >"$work/build-standin.log" 2>&1 \
        || { tail -n 20 "$work/build-standin.log"; fail "building the stand-in for $name failed"; }
    echo "    $name: stand-in built ($recipe)"
}
step "base images"
in_background ensure_image docker.io/library/python:3.11-slim-bookworm deploy/standins/python.Containerfile
in_background ensure_image docker.io/library/redis:7-bookworm deploy/standins/redis.Containerfile \
    deploy/standins/redis-entrypoint.sh
in_background ensure_image docker.io/library/postgres:15-bookworm deploy/standins/postgres.Containerfile \
    deploy/standins/postgres-entrypoint.sh

# ---- 3 and 4. The app's images, and the stack --------------------------------------------------------
# pip inside the build, as on this host: its CA bundle and index, in a read-only /root for RUN steps.
rm -rf "$work/build-home"
mkdir -p "$work/build-home/.config/pip"
cert=${PIP_CERT:-$(python3 -m pip config get global.cert 2>/dev/null || true)}
index=${PIP_INDEX_URL:-$(python3 -m pip config get global.index-url 2>/dev/null || true)}
{
    echo "[global]"
    if [ -n "$cert" ] && [ -f "$cert" ]; then
        cp "$cert" "$work/build-home/.config/pip/host-ca.crt"
        echo "cert = /root/.config/pip/host-ca.crt"
    fi
    case $index in http://* | https://*) echo "index-url = $index" ;; esac
} >"$work/build-home/.config/pip/pip.conf"
chmod -R a+rX "$work/build-home"
# The label marks this test's images, so that the teardown can remove what earlier runs left.
build_options="--jobs 1 --volume $work/build-home:/root:ro --label org.studyapp.image-test=1"
[ "${STUDYAPP_IMAGE_TEST_NO_CACHE:-0}" = 1 ] && build_options+=" --no-cache"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
umask 077
{
    echo "SECRET_KEY=$(head -c 48 /dev/urandom | base64 -w0 | tr '+/' '-_')"
    echo "POSTGRES_PASSWORD=$(head -c 24 /dev/urandom | base64 -w0 | tr '+/' '-_')"
    echo "SECURE_SSL_REDIRECT=0"
    echo "WEB_PORT=127.0.0.1:$port"  # published on the loopback only
} >"$work/stack.env"
umask 022
step "deploy/podman-compose-up.sh --build (project $project, web on 127.0.0.1:$port)"
t0=$SECONDS
# Its own lines on the screen, with the time they came; everything, builds included, in up.log.
show_progress() {
    local line
    while IFS= read -r line; do
        case $line in
        podman-compose-up:*) printf '    [%3ds] %s\n' $((SECONDS - t0)) "${line#podman-compose-up: }" ;;
        esac
    done
}
up() {
    COMPOSE_PROJECT_NAME=$project PODMAN_COMPOSE="${compose[*]}" PODMAN_BUILD_OPTIONS=$build_options \
        bash deploy/podman-compose-up.sh --build 2>&1 | tee "$work/up.log" | show_progress
}
if ! in_background up; then
    grep -v -e 'systemd connection' -e 'connect to syslog' "$work/up.log" | tail -n 40
    fail "the stack did not come up; see $work/up.log"
fi
rm -rf "$work/build-home"
for target in web worker; do
    size=$(podman image inspect --format '{{.Size}}' "studyapp-$target:latest")
    echo "    studyapp-$target:latest: $((size / 1000000)) MB"
done

# ---- 5. The checks ---------------------------------------------------------------------------------
step "checks"
checks() {
    "$venv/bin/python" -u scripts/image_checks.py --project "$project" --base "http://127.0.0.1:$port" \
        --compose "${compose[*]}" 2>&1 | quiet | tee "$work/checks.log"
}
in_background checks || fail "a check failed"
