"""Policy and value heads on top of any torso."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from networks.mlp import orthogonal
from networks.spec import NetworkSpec, make_torso

LOG_STD_MODES = ("clip", "tanh")


def tanh_gaussian_sample(
    mean: jax.Array, log_std: jax.Array, key: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Samples a = tanh(u), u ~ N(mean, std); returns (a, log pi(a)) with the tanh correction.

    mean, log_std: [..., action_dim] -> action [..., action_dim], log_prob [...].
    log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)) is used for numerical stability.
    """
    std = jnp.exp(log_std)
    noise = jax.random.normal(key, mean.shape)
    u = mean + std * noise
    gaussian_log_prob = -0.5 * noise**2 - log_std - 0.5 * jnp.log(2.0 * jnp.pi)
    log_det_jacobian = 2.0 * (jnp.log(2.0) - u - jax.nn.softplus(-2.0 * u))
    return jnp.tanh(u), jnp.sum(gaussian_log_prob - log_det_jacobian, axis=-1)


class TanhGaussianActor(nn.Module):
    """obs [batch, obs_dim] -> (mean, log_std) [batch, action_dim] of a pre-tanh Gaussian.

    `train` selects batch (True) or running (False) statistics where the torso normalizes.
    log_std_mode "clip" clips the raw output to [log_std_min, log_std_max] (SB3, SBX and the CrossQ
    authors: [-20, 2], std 1 at a zero output); "tanh" squashes it smoothly into that range (SimBa
    and SimbaV2: [-10, 2], std exp(-4) at a zero output). log_std_gain, when set, draws the log-std
    layer's kernel orthogonal with that gain (the XQC authors': 1) instead of the torso's head_init.
    """

    spec: NetworkSpec
    action_dim: int
    log_std_min: float = -20.0
    log_std_max: float = 2.0
    log_std_mode: str = "clip"
    log_std_gain: float | None = None

    @nn.compact
    def __call__(self, obs: jax.Array, train: bool = False) -> tuple[jax.Array, jax.Array]:
        features = make_torso(self.spec)(obs, train)
        mean = nn.Dense(self.action_dim, kernel_init=self.spec.head_init)(features)
        log_std_init = self.spec.head_init if self.log_std_gain is None else orthogonal(self.log_std_gain)
        log_std = nn.Dense(self.action_dim, kernel_init=log_std_init)(features)
        if self.log_std_mode == "tanh":
            log_std = self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (jnp.tanh(log_std) + 1.0)
        else:
            log_std = jnp.clip(log_std, self.log_std_min, self.log_std_max)
        return mean, log_std


class DeterministicActor(nn.Module):
    """obs [batch, obs_dim] -> action tanh(Dense(features)) [batch, action_dim] in [-1, 1] (TD3, DDPG)."""

    spec: NetworkSpec
    action_dim: int

    @nn.compact
    def __call__(self, obs: jax.Array, train: bool = False) -> jax.Array:
        features = make_torso(self.spec)(obs, train)
        return jnp.tanh(nn.Dense(self.action_dim, kernel_init=self.spec.head_init)(features))


class CategoricalActor(nn.Module):
    """obs [batch, obs_dim] -> logits [batch, num_actions] of a categorical policy.

    The output layer is orthogonal with gain 0.01 so the initial policy is near uniform (as in
    CleanRL's and PureJaxRL's PPO).
    """

    spec: NetworkSpec
    num_actions: int

    @nn.compact
    def __call__(self, obs: jax.Array, train: bool = False) -> jax.Array:
        features = make_torso(self.spec)(obs, train)
        return nn.Dense(self.num_actions, kernel_init=nn.initializers.orthogonal(0.01))(features)


class GaussianActor(nn.Module):
    """obs [batch, obs_dim] -> (mean [batch, action_dim], log_std [batch, action_dim]) of a Gaussian.

    log_std is a learned state-independent vector starting at 0 (std 1); the mean layer is
    orthogonal with gain 0.01, as in CleanRL's and PureJaxRL's continuous PPO.
    """

    spec: NetworkSpec
    action_dim: int

    @nn.compact
    def __call__(self, obs: jax.Array, train: bool = False) -> tuple[jax.Array, jax.Array]:
        features = make_torso(self.spec)(obs, train)
        mean = nn.Dense(self.action_dim, kernel_init=nn.initializers.orthogonal(0.01))(features)
        log_std = self.param("log_std", nn.initializers.zeros, (self.action_dim,))
        return mean, jnp.broadcast_to(log_std, mean.shape)


class ValueNetwork(nn.Module):
    """obs [..., obs_dim] -> V [...]."""

    spec: NetworkSpec

    @nn.compact
    def __call__(self, obs: jax.Array, train: bool = False) -> jax.Array:
        features = make_torso(self.spec)(obs, train)
        return nn.Dense(1, kernel_init=nn.initializers.orthogonal(1.0))(features)[..., 0]


class QNetwork(nn.Module):
    """(obs [..., obs_dim], action [..., action_dim]) -> Q [...]."""

    spec: NetworkSpec

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array, train: bool = False) -> jax.Array:
        features = make_torso(self.spec)(jnp.concatenate([obs, action], axis=-1), train)
        return nn.Dense(1, kernel_init=self.spec.head_init)(features)[..., 0]


class CriticEnsemble(nn.Module):
    """`num_critics` Q-networks with independently initialized parameters -> Q [num_critics, batch].

    The members are separate submodules, not an `nn.vmap`: vmapping batch-normalized critics made
    XLA on CPU run their normalization as batched reductions, 1.2x (two critics) to 3x (one) slower
    per update than separate networks, measured in bench/README.md.
    """

    spec: NetworkSpec
    num_critics: int = 2

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array, train: bool = False) -> jax.Array:
        return jnp.stack([QNetwork(self.spec)(obs, action, train) for _ in range(self.num_critics)])


class CategoricalQNetwork(nn.Module):
    """(obs [..., obs_dim], action [..., action_dim]) -> (Q [...], log-probabilities [..., num_bins])
    of a categorical value distribution on num_bins atoms evenly spaced on [-v_max, v_max]; Q is its
    mean."""

    spec: NetworkSpec
    num_bins: int
    v_max: float

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array, train: bool = False) -> tuple[jax.Array, jax.Array]:
        features = make_torso(self.spec)(jnp.concatenate([obs, action], axis=-1), train)
        log_probs = jax.nn.log_softmax(nn.Dense(self.num_bins, kernel_init=self.spec.head_init)(features), axis=-1)
        support = jnp.linspace(-self.v_max, self.v_max, self.num_bins)
        return jnp.sum(jnp.exp(log_probs) * support, axis=-1), log_probs


class CategoricalCriticEnsemble(nn.Module):
    """`num_critics` CategoricalQNetworks -> (Q [num_critics, batch], log-probabilities
    [num_critics, batch, num_bins]); separate submodules, as CriticEnsemble's."""

    spec: NetworkSpec
    num_critics: int
    num_bins: int
    v_max: float

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array, train: bool = False) -> tuple[jax.Array, jax.Array]:
        outputs = [CategoricalQNetwork(self.spec, self.num_bins, self.v_max)(obs, action, train)
                   for _ in range(self.num_critics)]
        return jnp.stack([q for q, _ in outputs]), jnp.stack([log_probs for _, log_probs in outputs])
