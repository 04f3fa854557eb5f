#!/bin/sh
# The official redis image's entrypoint, in short: `redis-server ...` runs as the redis user.
set -e
if [ "${1:-}" = redis-server ]; then
    shift
    set -- redis-server --protected-mode no "$@"
    if [ "$(id -u)" = 0 ]; then
        find /data ! -user redis -exec chown redis:redis '{}' +
        exec setpriv --reuid=redis --regid=redis --init-groups -- "$@"
    fi
fi
exec "$@"
