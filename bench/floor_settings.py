"""bench/load.py's server settings: the app's own, plus one URL that only a logged-in learner may load.

`/bench/signed-in/` (bench/floor_urls.py) does what every learner's page does before its own work
(the session, the user, the middleware) and nothing else: the ceiling of any signed-in page's
throughput in the same run, against which the review step's can be read. Never used outside the bench.
"""

from studyapp.settings import *  # noqa: F403 (the app's settings, unchanged)

ROOT_URLCONF = "bench.floor_urls"
