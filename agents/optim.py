"""Adam(W) with the learning rate and weight decay as arrays: sweeping them is a vmap, not a recompile."""

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
    weight_decay: jax.Array | float = 0.0,
) -> tuple[Any, Any]:
    """One descent step, p <- p - lr (direction + weight_decay p) (decoupled weight decay, as AdamW):
    returns (new_params, new_opt_state)."""
    direction, opt_state = optimizer.update(grads, opt_state, params)
    params = jax.tree.map(lambda p, d: p - learning_rate * (d + weight_decay * p), params, direction)
    return params, opt_state
