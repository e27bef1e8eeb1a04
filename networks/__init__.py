"""Networks of the suite as plain flax modules built from a `NetworkSpec`."""

from networks.heads import (
    CategoricalCriticEnsemble,
    CategoricalActor,
    CriticEnsemble,
    DeterministicActor,
    GaussianActor,
    QNetwork,
    TanhGaussianActor,
    ValueNetwork,
    tanh_gaussian_sample,
)
from networks.mlp import MLP, NORMS
from networks.normalization import BatchRenorm
from networks.simba import SimBa
from networks.spec import KINDS, NetworkSpec, make_torso

__all__ = [
    "KINDS",
    "NORMS",
    "BatchRenorm",
    "CategoricalActor",
    "CategoricalCriticEnsemble",
    "MLP",
    "CriticEnsemble",
    "DeterministicActor",
    "GaussianActor",
    "NetworkSpec",
    "QNetwork",
    "SimBa",
    "TanhGaussianActor",
    "ValueNetwork",
    "make_torso",
    "tanh_gaussian_sample",
]
