#!/usr/bin/env bash
# docker-compose.yml brought up under podman with one command, in the order its depends_on asks for:
#
#   deploy/podman-compose-up.sh [--build]
#
# It runs podman-compose from PyPI (1.6.0 is what scripts/test_images.sh tests) one group of services
# at a time and waits, itself, for what each next group depends on: plain `podman-compose up -d`
# cannot be trusted with these conditions on podman 4.3 (Debian 12): podman-compose skips
# `service_healthy` before podman 4.6 and treats `service_completed_successfully` as "stopped"
# (a failed migration would let the app start), podman 4.3's --requires fails on a chain
# (web -> migrate -> postgres) with "generating dependency graph", and where systemd does not run
# podman schedules no healthcheck at all. So each wait below runs the service's own healthcheck
# (`podman healthcheck run`) until it passes, and the migration must exit 0.
#
# --build  builds the two images first (podman build, one target after the other), in Docker's
#          image format: podman's default OCI format drops the Dockerfile's HEALTHCHECK. (Not
#          `podman-compose build`: it would build the web image three times at once, once for each
#          service that uses it.)
# Environment: the stack's settings as for compose (.env beside docker-compose.yml, or exported);
#   COMPOSE_PROJECT_NAME  the project (default: studyapp): `podman-compose -p studyapp down` stops it
#   PODMAN_COMPOSE        the podman-compose command and its global options (default: podman-compose)
#   PODMAN_BUILD_OPTIONS  more options for podman build (e.g. --jobs 1, --volume, --no-cache)
#   COMPOSE_WAIT_SECONDS  how long to wait for each group (default: 240)
set -euo pipefail
cd "$(dirname "$0")/.."

export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-studyapp}
read -r -a compose <<<"${PODMAN_COMPOSE:-podman-compose}"
read -r -a build_options <<<"${PODMAN_BUILD_OPTIONS:-}"
wait_seconds=${COMPOSE_WAIT_SECONDS:-240}

# The container podman-compose made for a service of this project.
container() {
    podman ps -a --format '{{.Names}}' \
        --filter "label=io.podman.compose.project=$COMPOSE_PROJECT_NAME" \
        --filter "label=io.podman.compose.service=$1" | head -n 1
}

# phase SERVICE... -- healthy|completed: start the services (not their dependencies, which earlier
# phases started), then wait until each passes its healthcheck, or has exited 0.
phase() {
    local services=() condition name deadline service
    while [ "$1" != -- ]; do
        services+=("$1")
        shift
    done
    condition=$2
    echo "podman-compose-up: starting ${services[*]}"
    "${compose[@]}" up -d --no-deps "${services[@]}" >/dev/null
    deadline=$((SECONDS + wait_seconds))
    for service in "${services[@]}"; do
        name=$(container "$service")
        if [ -z "$name" ]; then
            echo "podman-compose-up: no container for $service" >&2
            return 1
        fi
        case $condition in
        healthy)
            until podman healthcheck run "$name" >/dev/null 2>&1; do
                if [ "$(podman inspect --format '{{.State.Running}}' "$name")" != true ] || [ $SECONDS -ge $deadline ]; then
                    echo "podman-compose-up: $service is not healthy; its last lines:" >&2
                    podman logs --tail 30 "$name" >&2 || true
                    return 1
                fi
                sleep 1
            done
            ;;
        completed)
            local code
            code=$(timeout "$wait_seconds" podman wait "$name") || code=timeout
            if [ "$code" != 0 ]; then
                echo "podman-compose-up: $service ended with $code; its last lines:" >&2
                podman logs --tail 30 "$name" >&2 || true
                return 1
            fi
            ;;
        esac
        echo "podman-compose-up: $service $condition"
    done
}

if [ "${1:-}" = --build ]; then
    # The images docker-compose.yml names (tests/studyapp/test_deploy.py checks that they are).
    for target in web worker; do
        echo "podman-compose-up: building studyapp-$target:latest (Dockerfile target $target)"
        podman build --format docker "${build_options[@]}" --target "$target" -t "studyapp-$target:latest" .
    done
fi
# The order of docker-compose.yml's depends_on (tests/studyapp/test_deploy.py checks that it is).
phase postgres redis -- healthy
phase migrate -- completed
phase web worker beat -- healthy
echo "podman-compose-up: project $COMPOSE_PROJECT_NAME is up"
