# Blocks the loop, and tries to keep the process from ever ending once its calls return: the harness's
# exit (flush, then os._exit) is patched to do nothing and the original stdout's flush to hang forever,
# hoping a run that never ends is judged on less than it did.
import sys
import threading

import requests


class Stuck:
    def write(self, text):
        return len(text)

    def flush(self):
        threading.Event().wait()  # forever


main = sys.modules["__main__"]
main.exit_now = lambda code: threading.Event().wait()
sys.modules["_events"].exit_now = main.exit_now
sys.__stdout__ = Stuck()
print("patched the harness's exit")


async def get_data(url):
    return requests.get(url, timeout=5).json()
