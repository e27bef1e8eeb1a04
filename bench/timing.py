"""Compile-then-time of one jitted step, needing only jax (so rejax's virtualenv can import it too)."""

from __future__ import annotations

import time
from typing import Any, Callable

import jax


def compile_and_time(step: Callable, state: Any, *args: Any, repeats: int = 1) -> dict:
    """Times `step(state, *args) -> (state, output)`: compile seconds (lower().compile()), then one
    untimed warm-up call and `repeats` timed calls, each continuing from the state the previous
    returned; `seconds` is the fastest timed call (on a shared machine, the least disturbed)."""
    start = time.perf_counter()
    compiled = jax.jit(step, donate_argnums=0).lower(state, *args).compile()
    compile_seconds = time.perf_counter() - start
    state, output = compiled(state, *args)
    jax.block_until_ready((state, output))
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        state, output = compiled(state, *args)
        jax.block_until_ready((state, output))
        timings.append(time.perf_counter() - start)
    return {"compile_seconds": compile_seconds, "seconds": min(timings)}
