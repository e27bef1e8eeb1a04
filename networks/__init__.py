"""Networks of the suite as plain flax modules built from a `NetworkSpec`."""

from networks.heads import (
    CategoricalActor,
    CriticEnsemble,
    GaussianActor,
    QNetwork,
    TanhGaussianActor,
    ValueNetwork,
    tanh_gaussian_sample,
)
from networks.mlp import MLP, NORMS
from networks.normalization import BatchRenorm
from networks.spec import KINDS, NetworkSpec, make_torso

__all__ = [
    "KINDS",
    "NORMS",
    "BatchRenorm",
    "CategoricalActor",
    "MLP",
    "CriticEnsemble",
    "GaussianActor",
    "NetworkSpec",
    "QNetwork",
    "TanhGaussianActor",
    "ValueNetwork",
    "make_torso",
    "tanh_gaussian_sample",
]
