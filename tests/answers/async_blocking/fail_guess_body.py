# Returns a plausible-looking body without asking the server.
async def get_data(url):
    return {"id": 1, "nonce": url.rsplit("/", 1)[-1]}
