# time.sleep in a plain helper, called from handle_request (line 42 names it too)
14
# a synchronous HTTP client called right inside a coroutine
24
# CPU-heavy hashing right inside a coroutine (line 34 hands the same work to a thread)
38
