"""One network's training state, the same for every network of every agent: its parameters, its
normalization statistics, its optimizer state, and `step`, which applies a gradient and reports
the gradient's global norm (as flax's TrainState and the SimBa authors' Trainer.apply_gradient).

The learning rate and weight decay are arrays passed to `step`, so sweeping them is a vmap, not a
recompile; the optimizer (Adam's moment estimates, from the agent's static Config) is passed too,
so no setting lives in the state.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import flax.struct
import jax
import optax


def adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> optax.GradientTransformation:
    """Adam's moment estimates only; `Learner.step` scales by the (array) learning rate."""
    return optax.scale_by_adam(b1=b1, b2=b2, eps=eps)


@flax.struct.dataclass
class Learner:
    """A network (or a lone parameter such as the log-temperature, with module None) being trained.

    params: what gradients move. stats: the normalization statistics that train-mode forward passes
    move ({} for a network without batch normalization). module: the flax module, static.
    """

    params: Any
    stats: Any
    opt_state: optax.OptState
    module: nn.Module | None = flax.struct.field(pytree_node=False, default=None)

    @classmethod
    def create(cls, module: nn.Module | None, variables: Any, optimizer: optax.GradientTransformation) -> "Learner":
        """variables: flax variables {"params", ["batch_stats"]}, or a bare parameter array (module None)."""
        if module is None:
            params, stats = variables, {}
        else:
            params, stats = variables["params"], variables.get("batch_stats", {})
        return cls(params=params, stats=stats, opt_state=optimizer.init(params), module=module)

    @property
    def variables(self) -> dict:
        return {"params": self.params, "batch_stats": self.stats}

    def __call__(self, *inputs: jax.Array) -> Any:
        """The forward pass in eval mode (running statistics; nothing moves)."""
        return self.module.apply(self.variables, *inputs, train=False)

    def apply_train(self, params: Any, *inputs: jax.Array) -> tuple[Any, Any]:
        """The forward pass of the network being updated: `params` (differentiated) with this
        network's statistics, in train mode. -> (outputs, the moved statistics)."""
        outputs, moved = self.module.apply(
            {"params": params, "batch_stats": self.stats}, *inputs, train=True, mutable=["batch_stats"]
        )
        return outputs, moved.get("batch_stats", {})

    def step(
        self,
        optimizer: optax.GradientTransformation,
        grads: Any,
        learning_rate: jax.Array,
        weight_decay: Any = 0.0,
        stats: Any = None,
    ) -> tuple["Learner", jax.Array]:
        """One descent step p <- p - lr (direction + weight_decay p) (decoupled weight decay, as
        AdamW), with the statistics replaced by `stats` when given; weight_decay is one value for
        every parameter or a dict shaped as params with one scalar per array (0 where not decayed,
        as optax.adamw's mask).
        -> (learner, global norm of grads)."""
        direction, opt_state = optimizer.update(grads, self.opt_state, self.params)
        decay = weight_decay if isinstance(weight_decay, dict) else jax.tree.map(lambda _: weight_decay, self.params)
        params = jax.tree.map(lambda p, d, w: p - learning_rate * (d + w * p), self.params, direction, decay)
        stats = self.stats if stats is None else stats
        return self.replace(params=params, stats=stats, opt_state=opt_state), optax.tree.norm(grads)
