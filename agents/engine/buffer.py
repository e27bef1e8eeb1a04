"""On-device circular replay buffer: a pytree of fixed-size arrays, pure functions to add and sample."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class ReplayBuffer:
    """data: a pytree whose leaves are [capacity, ...]; insert_at: next row to write; size: filled rows."""

    data: Any
    insert_at: jax.Array
    size: jax.Array

    @property
    def capacity(self) -> int:
        return jax.tree.leaves(self.data)[0].shape[0]


def init(example: Any, capacity: int) -> ReplayBuffer:
    """An empty buffer holding `capacity` rows shaped like the leaves of `example` (one transition)."""
    if capacity < 1:
        raise ValueError(f"replay buffer capacity must be positive, got {capacity}")
    data = jax.tree.map(lambda x: jnp.zeros((capacity, *jnp.shape(x)), jnp.asarray(x).dtype), example)
    return ReplayBuffer(data=data, insert_at=jnp.zeros((), jnp.int32), size=jnp.zeros((), jnp.int32))


def add(buffer: ReplayBuffer, rows: Any) -> ReplayBuffer:
    """Writes a batch of transitions (leaves [n, ...], n <= capacity), overwriting the oldest rows."""
    n = jax.tree.leaves(rows)[0].shape[0]
    capacity = buffer.capacity
    indices = (buffer.insert_at + jnp.arange(n)) % capacity
    data = jax.tree.map(lambda store, new: store.at[indices].set(new), buffer.data, rows)
    return ReplayBuffer(
        data=data,
        insert_at=(buffer.insert_at + n) % capacity,
        size=jnp.minimum(buffer.size + n, capacity),
    )


def sample(buffer: ReplayBuffer, key: jax.Array, batch_size: int) -> Any:
    """`batch_size` rows drawn uniformly with replacement from the filled rows only.

    A batch larger than the filled size is fine (rows repeat). The buffer must hold at least one row.
    """
    indices = jax.random.randint(key, (batch_size,), 0, jnp.maximum(buffer.size, 1))
    return jax.tree.map(lambda store: store[indices], buffer.data)


def rows_to_overwrite(buffer: ReplayBuffer, n: int) -> ReplayBuffer:
    """The next n rows (n <= capacity) that `add` overwrites, with this buffer's insert_at and size:
    a small record from which `before_adds` gives this buffer back after up to n more rows."""
    indices = (buffer.insert_at + jnp.arange(n)) % buffer.capacity
    return buffer.replace(data=jax.tree.map(lambda store: store[indices], buffer.data))


def before_adds(later: ReplayBuffer, record: ReplayBuffer) -> ReplayBuffer:
    """The buffer `record` (rows_to_overwrite(buffer, n)) was taken of, from `later`, the same
    buffer after at most n rows were added: its overwritten rows put back."""
    n = jax.tree.leaves(record.data)[0].shape[0]
    indices = (record.insert_at + jnp.arange(n)) % later.capacity
    data = jax.tree.map(lambda store, old: store.at[indices].set(old), later.data, record.data)
    return ReplayBuffer(data=data, insert_at=record.insert_at, size=record.size)


def resized(buffer: ReplayBuffer, capacity: int) -> ReplayBuffer:
    """The buffer with room for `capacity` rows: its rows cut to the first `capacity`, or padded with
    empty rows; insert_at follows the filled rows. It keeps a buffer exactly when the buffer has
    not wrapped around (rows in the order they were added), as that of a run whose capacity was
    its total steps: extending such a run gives the buffer the longer run would have had."""
    old = buffer.capacity
    data = jax.tree.map(
        lambda store: store[:capacity] if capacity <= old else jnp.pad(store, [(0, capacity - old)] + [(0, 0)] * (store.ndim - 1)),
        buffer.data,
    )
    size = jnp.minimum(buffer.size, capacity)
    return ReplayBuffer(data=data, insert_at=size % capacity, size=size)
