"""Adam with the learning rate as an array, so a learning-rate sweep is a vmap, not a recompile."""

from __future__ import annotations

from typing import Any

import jax
import optax


def adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> optax.GradientTransformation:
    """Adam's moment estimates only; `apply` scales by the (array) learning rate."""
    return optax.scale_by_adam(b1=b1, b2=b2, eps=eps)


def apply(
    optimizer: optax.GradientTransformation,
    grads: Any,
    opt_state: Any,
    params: Any,
    learning_rate: jax.Array,
) -> tuple[Any, Any]:
    """One descent step: returns (new_params, new_opt_state)."""
    direction, opt_state = optimizer.update(grads, opt_state, params)
    params = jax.tree.map(lambda p, d: p - learning_rate * d, params, direction)
    return params, opt_state
