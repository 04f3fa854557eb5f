#!/bin/sh
# Entrypoint of the worker image. On a cgroup v2 host whose cgroupfs is writable in the container
# (privileged, or a delegated writable mount), it sets up the delegation the sandbox needs for its
# memory/pids/CPU limits (docs/sandbox.md): the root group emptied into "worker", and a "sandbox"
# parent group with the memory and pids controllers enabled. Elsewhere it changes nothing: on a v1
# host the sandbox uses the worker's own groups, and without a usable cgroup it uses rlimits only.
set -u
cg=/sys/fs/cgroup
if [ -z "${SANDBOX_CGROUP_PARENT:-}" ] && [ -f "$cg/cgroup.controllers" ] && [ -w "$cg/cgroup.procs" ]; then
    if mkdir -p "$cg/worker" "$cg/sandbox" 2>/dev/null \
        && echo $$ > "$cg/worker/cgroup.procs" 2>/dev/null \
        && echo "+memory +pids" > "$cg/cgroup.subtree_control" 2>/dev/null \
        && echo "+memory +pids" > "$cg/sandbox/cgroup.subtree_control" 2>/dev/null; then
        export SANDBOX_CGROUP_PARENT="$cg/sandbox"
        echo "worker-entrypoint: cgroup v2 delegation ready at $SANDBOX_CGROUP_PARENT" >&2
    else
        echo "worker-entrypoint: cgroup v2 present but not delegable; the sandbox uses rlimits only" >&2
    fi
fi
exec "$@"
