"""Answers to threads-vs-processes shared by its tests and bench/gil_margins_bench.py (no Django here)."""

# Correct: a pool of fresh interpreters, the dearest start-up.
SPAWN_POOL = """
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from work import crunch

def run_all(jobs):
    with ProcessPoolExecutor(mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(crunch, *zip(*jobs)))
"""

# Wrong, found by attack: the pool's workers take turns (each job waited for before the next is sent).
POOL_WAITED_ON_EACH_JOB = """
from concurrent.futures import ProcessPoolExecutor
from work import crunch

def run_all(jobs):
    with ProcessPoolExecutor(2) as pool:
        return [pool.submit(crunch, seed, rounds).result() for seed, rounds in jobs]
"""

# Wrong: the work split over two processes run one after the other, with a burner beside them so that two
# processes seem busy at once: the side-by-side CPU is no more than the CPU burned beyond the jobs' cost.
IN_TURN_BESIDE_A_BURNER = """
import os, pickle, time
from work import crunch

def _in_a_child(jobs):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(w, pickle.dumps([crunch(seed, rounds) for seed, rounds in jobs]))
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.waitpid(pid, 0)
    return pickle.loads(data)

def run_all(jobs):
    burner = os.fork()
    if burner == 0:
        end = time.process_time() + 0.2
        while time.process_time() < end:
            time.sleep(0.0005)
            t = time.process_time()
            while time.process_time() - t < 0.001:
                pass
        os._exit(0)
    half = len(jobs) // 2
    out = _in_a_child(jobs[:half]) + _in_a_child(jobs[half:])
    os.waitpid(burner, 0)
    return out
"""
