"""Weight normalization as the XQC authors apply it (danielpalenicek/xqc, xqc/networks/common.py,
norm_dense_layer and norm_network): every hidden Dense layer of an mlp torso has each output unit's
incoming weights, its bias included, scaled to unit Euclidean norm,
    [W; b] <- [W; b] / ||[W; b]||   (the norm over the input axis, one per output unit),
and the output layers (the heads beside the torso) have their kernels alone scaled so, where
`last_layer` is set. The authors project the networks once at initialization and again after every
optimizer step (xqc/agents/xqc/critic.py update_critic, actor.py update_actor); the agents of
agents/xqc.py do the same. Only mlp torsos (networks/mlp.py, the submodule MLP_0 of a head) take it.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

TORSO = "MLP_0"


def normalize_dense(kernel: jnp.ndarray, bias: jnp.ndarray | None) -> tuple[jnp.ndarray, jnp.ndarray | None]:
    """kernel [in, out] (bias [out] or None) -> both divided by the norm of each output unit's
    weights, bias included."""
    weights = kernel if bias is None else jnp.concatenate([kernel, bias[None]], axis=0)
    norm = jnp.linalg.norm(weights, axis=0)
    return kernel / norm, None if bias is None else bias / norm


def project(params: Any, last_layer: bool, in_torso: bool = False) -> Any:
    """The flax parameter tree `params` with every Dense layer normalized: in an mlp torso with its
    bias, outside one (the output layers) its kernel alone, and only where last_layer is set."""
    if not isinstance(params, dict):
        return params
    if "kernel" in params:
        if in_torso:
            kernel, bias = normalize_dense(params["kernel"], params.get("bias"))
            return {**params, "kernel": kernel, **({} if bias is None else {"bias": bias})}
        return {**params, "kernel": normalize_dense(params["kernel"], None)[0]} if last_layer else params
    return {name: project(child, last_layer, in_torso or name == TORSO) for name, child in params.items()}
