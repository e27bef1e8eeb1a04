"""CrossQ+WN (Palenicek et al., ICLR 2026): CrossQ with weight normalization, weight decay and a target network, XQC's ablation.

The algorithm is agents/xqc.py's (its docstring lists every difference from CrossQ with its source)
with the authors' CrossQ+WN switches (danielpalenicek/xqc@9a6832bb, conf/agent/crossq_wn.yaml over
base_agent.yaml): Dense -> ReLU -> BatchNorm (pre_activation_bn 0), weight normalization of the
hidden layers only (normalize_last_layer 0), squared-error critics (critic_loss mse), no reward
normalization, AdamW weight decay 0.01 on the output layers and the batch norms (decay_bn 1),
critics 2 x 512 and actor 2 x 256. Everything else is XQC's: learning rates 3e-4 to 3e-5 over 2M
updates, policy delay 3, UTD 2, batch 256, 5000 random steps, target critics with tau 0.005, initial
temperature 0.01 towards -|A|/2, gamma auto.
The authors published no gymnasium MuJoCo curves of CrossQ+WN (results/ holds XQC's only), so its
runs have no published reference in the reports.
"""

from __future__ import annotations

import dataclasses

from agents import xqc
from agents.common import Preset

_WN = dict(
    actor_width=256, actor_depth=2, critic_width=512, critic_depth=2, norm_position="post", normalize_last_layer=False,
    critic_loss="mse", reward_norm=False, decay_bn=True,
)
PRESETS = {
    "paper": Preset(
        xqc.Config(**_WN),
        xqc.Hyperparams(weight_decay=0.01),
        "Palenicek et al., ICLR 2026, and the authors' code danielpalenicek/xqc@9a6832bb (conf/agent/crossq_wn.yaml "
        "over base_agent.yaml, conf/config.yaml): critics 2x512 and actor 2x256, Dense -> ReLU -> BatchNorm, weight "
        "normalization of the hidden layers, squared-error critics, AdamW weight decay 0.01 on the output layers and "
        "batch norms, Adam lr 3e-4 decayed to 3e-5 over 2M updates, policy delay 3, UTD 2, batch 256, 5000 random "
        "steps, target critic tau 0.005, initial temperature 0.01 towards -|A|/2, gamma 0.995 on 1000-step tasks",
    ),
    "cpu": Preset(
        xqc.Config(**{**_WN, "actor_width": 64, "critic_width": 128}, utd=1, learning_starts=1000),
        xqc.Hyperparams(weight_decay=0.01),
        "the paper's settings with critics 2x128, actor 2x64, UTD 1 and 1000 random steps: trains in minutes on a CPU",
    ),
}

AGENT = dataclasses.replace(xqc.AGENT, name="crossq-wn", summary=__doc__.splitlines()[0], presets=PRESETS)
