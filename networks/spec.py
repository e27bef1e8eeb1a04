"""Network specs: the small static description from which any agent builds its torsos."""

from __future__ import annotations

import dataclasses

import flax.linen as nn

from networks.mlp import MLP, NORMS

KINDS = ("mlp",)


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
    """kind: the architecture; width: hidden units per layer; depth: number of hidden layers;
    norm: normalization of the input and hidden activations (one of NORMS)."""

    kind: str = "mlp"
    width: int = 256
    depth: int = 2
    norm: str = "none"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown network kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.width < 1 or self.depth < 1:
            raise ValueError(f"network width and depth must be positive, got {self.width} and {self.depth}")
        if self.norm not in NORMS:
            raise ValueError(f"unknown normalization {self.norm!r}; choose one of {', '.join(NORMS)}")


def make_torso(spec: NetworkSpec) -> nn.Module:
    """The feature extractor for `spec`; heads are added by the agent."""
    return MLP(widths=(spec.width,) * spec.depth, norm=spec.norm)
