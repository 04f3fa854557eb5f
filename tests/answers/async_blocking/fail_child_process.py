# Fetches in a child process and waits for it on the loop thread.
import json
import subprocess
import sys

FETCH = "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())"


async def get_data(url):
    done = subprocess.run([sys.executable, "-c", FETCH, url], capture_output=True, check=True, timeout=30)
    return json.loads(done.stdout)
