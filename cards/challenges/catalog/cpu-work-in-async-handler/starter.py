from work import crunch


async def handle(seed: int, rounds: int) -> int:
    # crunch() is CPU-bound: called here, it runs on the event loop's thread.
    return crunch(seed, rounds)
