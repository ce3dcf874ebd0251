"""benchmarks/processes.py: pool workers of a benchmark die with their parent."""

from __future__ import annotations

import signal
import sys

import pytest

from tests.benchmark_helpers import BENCHMARKS

POOL_WITH_A_LONG_JOB = """
import time
from concurrent.futures import ProcessPoolExecutor

import sys
sys.path.insert(0, {benchmarks!r})
from processes import die_with_parent

pool = ProcessPoolExecutor(1, initializer=die_with_parent)
print(pool.submit(__import__("os").getpid).result(), flush=True)
pool.submit(time.sleep, 120)
time.sleep(120)
""".replace("{benchmarks!r}", repr(str(BENCHMARKS)))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_pool_workers_die_with_a_killed_parent():
    import os
    import subprocess
    import time

    parent = subprocess.Popen([sys.executable, "-c", POOL_WITH_A_LONG_JOB], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    parent.kill()
    parent.wait()

    def alive(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 20
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(worker):
        os.kill(worker, signal.SIGKILL)
        pytest.fail("the pool worker outlived its killed parent")
