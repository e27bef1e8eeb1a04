import jax
import jax.numpy as jnp
import numpy as np

from agents.engine import buffer


def rows(start, n):
    return {"x": jnp.arange(start, start + n, dtype=jnp.float32), "y": jnp.ones((n, 2)) * start}


def test_wraps_around_overwriting_the_oldest_rows():
    replay = buffer.init({"x": jnp.zeros(()), "y": jnp.zeros((2,))}, capacity=5)
    replay = buffer.add(replay, rows(0, 3))
    assert int(replay.size) == 3 and int(replay.insert_at) == 3
    replay = buffer.add(replay, rows(3, 4))  # rows 3..6: 5 and 6 wrap into slots 0 and 1
    assert int(replay.size) == 5 and int(replay.insert_at) == 2
    np.testing.assert_array_equal(replay.data["x"], [5, 6, 2, 3, 4])
    np.testing.assert_array_equal(replay.data["y"][:, 0], [3, 3, 0, 3, 3])


def test_samples_only_filled_rows_even_when_the_batch_is_larger():
    replay = buffer.init({"x": jnp.zeros(())}, capacity=100)
    replay = buffer.add(replay, {"x": jnp.arange(1.0, 4.0)})
    batch = jax.jit(buffer.sample, static_argnums=2)(replay, jax.random.key(0), 64)
    assert batch["x"].shape == (64,)
    assert set(np.asarray(batch["x"]).tolist()) == {1.0, 2.0, 3.0}


def test_a_record_of_the_rows_to_overwrite_gives_the_buffer_back_after_later_adds():
    replay = buffer.add(buffer.init({"x": jnp.zeros(()), "y": jnp.zeros((2,))}, capacity=5), rows(0, 4))
    record = buffer.rows_to_overwrite(replay, 3)  # slots 4, 0, 1: one empty, two filled
    np.testing.assert_array_equal(record.data["x"], [0, 0, 1])
    for added in (0, 1, 3):  # any number of rows up to the record's
        later = buffer.add(replay, rows(10, added)) if added else replay
        back = buffer.before_adds(later, record)
        assert int(back.size) == 4 and int(back.insert_at) == 4
        for name in ("x", "y"):
            np.testing.assert_array_equal(back.data[name], replay.data[name])


def test_a_buffer_grown_past_its_rows_is_the_larger_buffer_after_the_same_adds():
    """An extended run's buffer (capacity: its total steps, full, not wrapped) grows into the one a
    run with more steps would hold at that point: the same rows, insert_at and size, empty rows after."""
    rows = {"x": jnp.arange(6.0)[:, None]}
    small = buffer.add(buffer.init({"x": jnp.zeros(1)}, 6), rows)
    large = buffer.add(buffer.init({"x": jnp.zeros(1)}, 10), rows)
    grown = buffer.resized(small, 10)
    np.testing.assert_array_equal(grown.data["x"], large.data["x"])
    assert (int(grown.insert_at), int(grown.size)) == (int(large.insert_at), int(large.size)) == (6, 6)
    assert int(small.insert_at) == 0  # the full small buffer's next row wraps; the grown one's does not
