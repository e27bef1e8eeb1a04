"""The runs axis: seeds and hyperparameter settings batched by `jax.vmap`, sharded over devices.

Every leaf of a batched run state, hyperparameters and keys has a leading [num_runs] axis. The
axis is split over all devices with a 1-D `Mesh` named "runs"; a number of runs that does not
divide evenly is padded with copies of the last run, whose results are dropped.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def seed_keys(first_seed: int, num_seeds: int) -> jax.Array:
    """Keys for seeds first_seed, first_seed + 1, ...: [num_seeds] (the same seed, the same key)."""
    return keys_for(range(first_seed, first_seed + num_seeds))


def keys_for(seeds: Sequence[int]) -> jax.Array:
    """One key per seed: [len(seeds)]; a run's key depends on its seed only."""
    return jax.vmap(jax.random.key)(jnp.asarray(list(seeds)))


def broadcast(hparams: Any, num_runs: int) -> Any:
    """Hyperparameters with a leading [num_runs] axis on every leaf."""
    return jax.tree.map(lambda v: jnp.broadcast_to(jnp.asarray(v, jnp.float32), (num_runs,)), hparams)


def vmap_runs(fn: Callable, num_runs: int, in_axes: int | None | tuple = 0) -> Callable:
    """`jax.vmap(fn, in_axes)` over a leading [num_runs] axis; a single run calls `fn` unbatched.

    XLA on CPU runs a size-1 vmap of batch-normalized networks about 2x slower than the same
    unbatched program (measured in bench/README.md), so one run skips the vmap and only adds the axis.
    """
    if num_runs > 1:
        return jax.vmap(fn, in_axes=in_axes)

    def single(*args):
        axes = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
        args = [arg if axis is None else jax.tree.map(lambda x: x[0], arg) for arg, axis in zip(args, axes)]
        return jax.tree.map(lambda x: x[None], fn(*args))

    return single


def runs_mesh() -> Mesh:
    """A 1-D mesh over every device (every host's, under jax.distributed) with the axis "runs"."""
    return Mesh(np.asarray(jax.devices()), ("runs",))


def padded_runs(num_runs: int, num_devices: int) -> int:
    """The smallest multiple of num_devices that holds num_runs."""
    return -(-num_runs // num_devices) * num_devices


def pad_runs(tree: Any, num_padded: int) -> Any:
    """Appends copies of the last run until the runs axis has num_padded entries."""

    def pad(x):
        extra = num_padded - x.shape[0]
        return x if extra == 0 else jnp.concatenate([x, jnp.repeat(x[-1:], extra, axis=0)])

    return jax.tree.map(pad, tree)


def run_sharding(mesh: Mesh) -> NamedSharding:
    """Split the leading runs axis over the mesh."""
    return NamedSharding(mesh, PartitionSpec("runs"))


def global_runs(tree: Any, sharding: NamedSharding) -> Any:
    """`tree` (the same values on every process, a leading runs axis on every leaf) as global arrays
    split by `sharding`, each process placing only its own devices' rows.

    Under jax.distributed the runs axis spans several processes: jax.device_put is made for arrays
    on this process's devices, so each shard is built from the host copy with
    jax.make_array_from_callback; PRNG keys go through their raw data.
    """

    def place(leaf):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            return jax.random.wrap_key_data(place(jax.random.key_data(leaf)), impl=jax.random.key_impl(leaf))
        host = np.asarray(leaf)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(place, tree)


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def tree_bytes(tree: Any) -> int:
    """Bytes of every array (or ShapeDtypeStruct) leaf of `tree`."""
    return sum(int(np.prod(leaf.shape)) * leaf.dtype.itemsize for leaf in jax.tree.leaves(tree))


def device_memory_bytes() -> int | None:
    """Memory one local device can hold: its allocator limit, or on CPU the free host memory
    shared by the local CPU devices; None if unknown."""
    device = jax.local_devices()[0]
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and stats.get("bytes_limit"):
        return int(stats["bytes_limit"])
    try:
        import os

        free = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
    return free // jax.local_device_count()


def to_host(tree: Any) -> Any:
    """Numpy copies of a runs-sharded tree; across hosts, gathered from every process."""
    if jax.process_count() == 1:
        return jax.tree.map(np.asarray, tree)
    from jax.experimental import multihost_utils

    return multihost_utils.process_allgather(tree, tiled=True)
