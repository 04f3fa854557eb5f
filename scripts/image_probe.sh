#!/bin/sh
# Run inside a throwaway worker container by scripts/image_checks.py, once with the worker's own
# capabilities and security options and once without each of them. One line per part:
#   sandbox_run: ok | why not   a plain run in the sandbox
#   limits: ok | why not        a spinning run stopped at its wall limit, and nothing left behind
#   grading: ok | why not       the async-blocking grader (fixture in a netns, watched via /proc)
set -u
catalog=/app/cards/challenges/catalog
printf 'import os\nprint("uid", os.getuid())\n' >/tmp/hello.py
printf 'while True:\n    pass\n' >/tmp/spin.py
why() { tail -c 200 /tmp/err | tr '\n' ' '; }

if python manage.py sandbox_run /tmp/hello.py >/dev/null 2>/tmp/err; then
    echo "sandbox_run: ok"
else
    echo "sandbox_run: $(why)"
fi

python manage.py sandbox_run /tmp/spin.py --wall-seconds 1 >/dev/null 2>/tmp/err
sleep 0.2
# Processes of the sandbox's uids (61000 and up) still there, zombies included.
left=$(cat /proc/[0-9]*/status 2>/dev/null | awk '/^Uid:/ && $2 >= 61000' | wc -l)
if grep -q 'limit hit: wall_seconds' /tmp/err && [ "$left" -eq 0 ]; then
    echo "limits: ok"
else
    echo "limits: $left sandbox processes left; $(why)"
fi

if python manage.py grade async-blocking-call "$catalog/async-blocking-call/reference.py" --json >/tmp/out 2>/tmp/err \
    && tail -n 1 /tmp/out | grep -q '"passed": *true'; then
    echo "grading: ok"
else
    echo "grading: $(why)"
fi
