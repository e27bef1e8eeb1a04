"""Compile-then-time of one jitted step, needing only jax (so rejax's virtualenv can import it too)."""

from __future__ import annotations

import time
from typing import Any, Callable

import jax


def compile_and_time(step: Callable, state: Any, *args: Any) -> dict:
    """Times `step(state, *args) -> (state, output)`: compile seconds (lower().compile()), then one
    untimed warm-up call and one timed call, each continuing from the state the previous returned."""
    start = time.perf_counter()
    compiled = jax.jit(step, donate_argnums=0).lower(state, *args).compile()
    compile_seconds = time.perf_counter() - start
    state, output = compiled(state, *args)
    jax.block_until_ready((state, output))
    start = time.perf_counter()
    state, output = compiled(state, *args)
    jax.block_until_ready((state, output))
    return {"compile_seconds": compile_seconds, "seconds": time.perf_counter() - start}
