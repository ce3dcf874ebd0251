"""How trials run: the worker loop, worker processes, the budget, liveness, interrupts, devices."""
