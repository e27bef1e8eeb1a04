"""Hyperparameter sweeps: grids and random search over an agent's array hyperparameters.

A sweep is a list of settings (dicts name -> value); each setting runs every seed, and all
settings x seeds are one vmapped program, so only array hyperparameters (the fields of the agent's
`Hyperparams`) can be swept. Specs: `NAME=V1,V2,...` (a grid axis, or choices under random
search) and `NAME=log:LOW:HIGH` / `NAME=lin:LOW:HIGH` (ranges, random search only).
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np

from agents.engine import ranges
from agents.common import ConfigError


def _normalize(name: str) -> str:
    return name.strip().replace("-", "_")


def parse_spec(spec: str, sweepable: list[str], static: list[str]) -> tuple[str, object]:
    """'NAME=...' -> (name, list of values | ('log'|'lin', low, high))."""
    if "=" not in spec:
        raise ConfigError(f"--sweep {spec!r}: expected NAME=V1,V2,... or NAME=log:LOW:HIGH")
    raw_name, raw_values = spec.split("=", 1)
    name = _normalize(raw_name)
    if name not in sweepable:
        why = (
            f"{name} is static (a shape or count: changing it recompiles, so it cannot be a vmap axis)"
            if name in static
            else f"unknown hyperparameter {name!r}"
        )
        raise ConfigError(f"--sweep {spec!r}: {why}; sweepable: {', '.join(sweepable)}")
    try:
        if raw_values.startswith(("log:", "lin:")):
            kind, low, high = raw_values.split(":")
            low, high = float(low), float(high)
            if not low < high or (kind == "log" and low <= 0):
                raise ValueError
            return name, (kind, low, high)
        values = [float(v) for v in raw_values.split(",")]
    except ValueError:
        raise ConfigError(
            f"--sweep {spec!r}: values must be numbers V1,V2,... or a range log:LOW:HIGH / lin:LOW:HIGH "
            "with LOW < HIGH (and LOW > 0 for log)"
        ) from None
    return name, values


def settings(
    specs: tuple[str, ...],
    hyperparams_class,
    static_names: list[str],
    num_random: int = 0,
    seed: int = 0,
) -> list[dict[str, float]]:
    """The swept settings: the full grid, or `num_random` draws (reproducible from `seed`).

    No specs gives one empty setting (the defaults).
    """
    sweepable = [field.name for field in dataclasses.fields(hyperparams_class)]
    axes: dict[str, object] = {}
    for spec in specs:
        name, values = parse_spec(spec, sweepable, static_names)
        if name in axes:
            raise ConfigError(f"--sweep names {name} twice; give all its values in one --sweep")
        # a range is checked at both ends, so every draw lies in the admissible range
        for value in values if isinstance(values, list) else values[1:]:
            ranges.check(name, value, f"--sweep {spec}")
        axes[name] = values
    if num_random < 0:
        raise ConfigError(f"--sweep-random must be >= 0, got {num_random}")
    if num_random == 0:
        drawn_names = [name for name, values in axes.items() if isinstance(values, tuple)]
        if drawn_names:
            raise ConfigError(f"--sweep ranges ({', '.join(drawn_names)}) need --sweep-random N (the number of draws)")
        names = list(axes)
        return [dict(zip(names, combo)) for combo in itertools.product(*axes.values())] or [{}]
    if not axes:
        raise ConfigError("--sweep-random needs at least one --sweep NAME=... to draw from")
    rng = np.random.default_rng(seed)
    drawn = []
    for _ in range(num_random):
        setting = {}
        for name, values in axes.items():
            if isinstance(values, list):
                setting[name] = float(values[rng.integers(len(values))])
            elif values[0] == "log":
                setting[name] = float(math.exp(rng.uniform(math.log(values[1]), math.log(values[2]))))
            else:
                setting[name] = float(rng.uniform(values[1], values[2]))
        drawn.append(setting)
    return drawn
