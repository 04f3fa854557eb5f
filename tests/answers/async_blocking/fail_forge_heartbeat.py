# Blocks the loop while a thread sends fake heartbeat ticks to every port it can find.
import socket
import sys
import threading
import json

import requests

config = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}


def forge():
    fake = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    number = 0
    while True:
        for port in (config.get("beat_port", 0),):
            try:
                fake.sendto(b"b %d" % number, ("127.0.0.1", port))
            except OSError:
                pass
        number += 1
        threading.Event().wait(0.005)


threading.Thread(target=forge, daemon=True).start()


async def get_data(url):
    return requests.get(url).json()
