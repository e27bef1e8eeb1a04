"""Networks of the suite as plain flax modules built from a `NetworkSpec`."""

from networks.heads import CriticEnsemble, DeterministicActor, QNetwork, TanhGaussianActor, tanh_gaussian_sample
from networks.mlp import MLP, NORMS
from networks.normalization import BatchRenorm
from networks.simba import SimBa
from networks.spec import KINDS, NetworkSpec, make_torso

__all__ = [
    "KINDS",
    "NORMS",
    "BatchRenorm",
    "MLP",
    "CriticEnsemble",
    "DeterministicActor",
    "NetworkSpec",
    "QNetwork",
    "SimBa",
    "TanhGaussianActor",
    "make_torso",
    "tanh_gaussian_sample",
]
