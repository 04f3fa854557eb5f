import queue
import threading
import urllib.request
import json


async def get_data(url):
    answers = queue.Queue()

    def work():
        with urllib.request.urlopen(url) as response:
            answers.put(json.loads(response.read()))

    threading.Thread(target=work, daemon=True).start()
    return answers.get(timeout=30)
