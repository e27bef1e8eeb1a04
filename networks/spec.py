"""Network specs: the small static description from which any agent builds its torsos."""

from __future__ import annotations

import dataclasses

import flax.linen as nn

from networks.mlp import INITS, MLP, NORM_POSITIONS, NORMS, orthogonal
from networks.simba import BLOCK_NORMS, SimBa

KINDS = ("mlp", "simba")


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
    """kind: "mlp" or "simba"; width: hidden units (simba: the residual stream's width);
    depth: hidden layers (simba: residual blocks); norm: "auto" is none for mlp and layer_norm for
    simba; mlp also takes batch_norm / batch_renorm (CrossQ), simba layer_norm, batch_norm,
    batch_renorm or none. expansion, residual and post_norm are SimBa's ablation switches.
    norm_position ("post" or "pre") and init ("default" or "orthogonal") are mlp's (networks/mlp.py);
    "pre" needs a batch norm."""

    kind: str = "mlp"
    width: int = 256
    depth: int = 2
    norm: str = "auto"
    expansion: int = 4
    residual: bool = True
    post_norm: bool = True
    norm_position: str = "post"
    init: str = "default"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown network kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.width < 1 or self.depth < 1 or self.expansion < 1:
            raise ValueError(
                f"network width, depth and expansion must be positive, got {self.width}, {self.depth}, {self.expansion}"
            )
        allowed = ("auto", *(NORMS if self.kind == "mlp" else BLOCK_NORMS))
        if self.norm not in allowed:
            raise ValueError(f"{self.kind} networks take norm {', '.join(allowed)}; got {self.norm!r}")
        if self.kind == "mlp" and (self.expansion != 4 or not self.residual or not self.post_norm):
            raise ValueError("expansion, residual and post_norm are switches of simba networks, not mlp")
        if self.norm_position not in NORM_POSITIONS or self.init not in INITS:
            raise ValueError(f"norm_position is one of {', '.join(NORM_POSITIONS)} and init one of {', '.join(INITS)}; "
                             f"got {self.norm_position!r}, {self.init!r}")
        if (self.norm_position, self.init) != ("post", "default") and self.kind != "mlp":
            raise ValueError("norm_position and init are settings of mlp networks, not simba")
        if self.norm_position == "pre" and self.resolved_norm not in ("batch_norm", "batch_renorm"):
            raise ValueError(f"norm_position pre places a batch norm before each ReLU; norm {self.resolved_norm} has none")

    @property
    def resolved_norm(self) -> str:
        if self.norm != "auto":
            return self.norm
        return "none" if self.kind == "mlp" else "layer_norm"

    @property
    def head_init(self) -> nn.initializers.Initializer:
        """Kernel initializer of the heads on this torso: orthogonal for SimBa, orthogonal with gain
        sqrt(2) for init "orthogonal" (the XQC authors'), flax's default otherwise."""
        if self.init == "orthogonal":
            return orthogonal(2**0.5)
        return nn.initializers.orthogonal() if self.kind == "simba" else nn.linear.default_kernel_init


def make_torso(spec: NetworkSpec) -> nn.Module:
    """The feature extractor for `spec`, called as torso(x, train); heads are added by the agent."""
    if spec.kind == "simba":
        return SimBa(spec.width, spec.depth, spec.expansion, spec.resolved_norm, spec.residual, spec.post_norm)
    return MLP(widths=(spec.width,) * spec.depth, norm=spec.resolved_norm, norm_position=spec.norm_position, init=spec.init)
