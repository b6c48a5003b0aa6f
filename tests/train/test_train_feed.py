"""The ``Feed`` interface: in-memory and streamed feeds give the epoch and validation the same shape."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from foretune.train import TrainSpec
from foretune.train.feed import MemoryFeed, StreamFeed, prepare_feed

CPU = torch.device("cpu")


def _arrays(n: int) -> tuple[np.ndarray, ...]:
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3, 1)  # window i holds 3i, 3i+1, 3i+2
    return x, np.zeros((n, 2), np.float32), np.zeros((n, 2), np.int64), np.zeros((n, 7), np.float32)


class _Source:
    """Stands in for a Ray dataset: ``iter_torch_batches`` in storage order (the shuffle buffer
    is Ray Data's and is not under test here)."""

    def __init__(self, arrays: tuple[np.ndarray, ...]) -> None:
        self.columns = dict(zip(("x", "y_reg", "y_dir", "path"), arrays, strict=True))

    def iter_torch_batches(self, batch_size, device="cpu", **shuffle):
        n = len(self.columns["x"])
        for start in range(0, n, batch_size):
            yield {k: torch.as_tensor(v[start : start + batch_size]) for k, v in self.columns.items()}


class _Stream:
    """The attributes of a ``WindowStream`` that a ``StreamFeed`` reads."""

    def __init__(self, train: tuple[np.ndarray, ...], val: tuple[np.ndarray, ...]) -> None:
        self.train, self.val = _Source(train), _Source(val)
        self.n_train, self.n_val = len(train[0]), len(val[0])


def _spec(**settings) -> TrainSpec:
    """One pass over the windows per epoch unless ``steps_per_epoch`` is given."""
    return TrainSpec("mlp", {}, window=3, horizon=2, **{"steps_per_epoch": None, **settings})


def _ids(rows) -> list[int]:
    return [int(v) // 3 for v in rows[0][:, 0, 0]]


@pytest.mark.parametrize("accumulate", [1, 3])
def test_memory_and_stream_feeds_share_one_shape(accumulate):
    train, val = _arrays(50), _arrays(9)
    spec = _spec(batch_size=8, accumulate_steps=accumulate)
    feeds = [MemoryFeed(spec, train, val, CPU), StreamFeed(_Stream(train, val), spec, CPU)]
    for feed in feeds:
        assert feed.windows == 50
        for epoch in range(2):
            updates = list(feed.batches(epoch))
            sizes = [[n for _, n in u.batches] for u in updates]
            # 50 windows in batches of 8, ``accumulate`` batches per update: the same cut
            flat = [8] * 6 + [2]
            assert sizes == [flat[i : i + accumulate] for i in range(0, len(flat), accumulate)]
            assert [u.total for u in updates] == [sum(s) for s in sizes]
            seen = [i for u in updates for rows, _ in u.batches for i in _ids(rows)]
            assert sorted(seen) == list(range(50))  # every window once per epoch
    validation = [[_ids(rows) for rows in feed.validation()] for feed in feeds]
    assert validation[0] == validation[1] == [list(range(9))]  # storage order, both kinds


def test_ranks_split_every_global_batch_of_the_single_process_order():
    train, val = _arrays(33), _arrays(5)  # the last global batch of 16 holds one window
    single = list(MemoryFeed(_spec(batch_size=16), train, val, CPU).batches(0))
    ranks = [list(MemoryFeed(_spec(batch_size=8), train, val, CPU, r, 2).batches(0)) for r in (0, 1)]
    assert [u.total for u in single] == [u.total for u in ranks[0]] == [u.total for u in ranks[1]]
    for whole, *halves in zip(single, *ranks, strict=True):
        ((rows, n),) = whole.batches
        parts = [h.batches[0] for h in halves]
        joined = [i for part_rows, part_n in parts if part_n for i in _ids(part_rows)]
        assert joined == _ids(rows) and sum(part_n for _, part_n in parts) == n
    (stand_in, count) = ranks[1][-1].batches[0]  # rank 1 has no sample: a stand-in, counted 0
    assert count == 0 and len(stand_in[0]) == 1
    shards = [
        [_ids(rows) for rows in MemoryFeed(_spec(), train, val, CPU, r, 2).validation()] for r in (0, 1)
    ]
    assert shards == [[[0, 2, 4]], [[1, 3]]]  # validation sharded rank::world


def test_prepare_feed_picks_the_kind_and_checks_the_counts(prepared):
    spec = _spec(batch_size=8)
    assert isinstance(prepare_feed(prepared, spec, CPU), MemoryFeed)
    assert isinstance(prepare_feed(_Stream(*(_arrays(4),) * 2), spec, CPU), StreamFeed)
    with pytest.raises(ValueError, match="at least 2 training and 2 validation"):
        StreamFeed(_Stream(_arrays(4), _arrays(1)), spec, CPU, rank=0, world_size=2)


def test_steps_per_epoch_continue_one_seeded_order_across_epochs():
    train, val = _arrays(50), _arrays(9)
    feed = MemoryFeed(_spec(batch_size=8, steps_per_epoch=4), train, val, CPU)
    assert feed.updates_per_epoch == 4
    epochs = [[_ids(rows) for u in feed.batches(e) for rows, _ in u.batches] for e in range(4)]
    assert all(len(e) == 4 and all(len(b) == 8 for b in e) for e in epochs)
    drawn = [i for e in epochs for b in e for i in b]  # 128 draws: two whole passes, then 28
    assert sorted(drawn[:50]) == sorted(drawn[50:100]) == list(range(50))
    assert len(set(drawn[100:])) == 28
    again = MemoryFeed(_spec(batch_size=8, steps_per_epoch=4), train, val, CPU)
    assert [_ids(rows) for u in again.batches(2) for rows, _ in u.batches] == epochs[2]  # by epoch alone
    other = MemoryFeed(_spec(batch_size=8, steps_per_epoch=4, seed=1), train, val, CPU)
    assert [_ids(rows) for u in other.batches(0) for rows, _ in u.batches] != epochs[0]


def test_a_stream_epoch_stops_after_steps_per_epoch_updates():
    train, val = _arrays(50), _arrays(9)
    feed = StreamFeed(_Stream(train, val), _spec(batch_size=8, steps_per_epoch=3), CPU)
    assert feed.updates_per_epoch == 3 and len(list(feed.batches(0))) == 3
    whole = StreamFeed(_Stream(train, val), _spec(batch_size=8, steps_per_epoch=100), CPU)
    assert whole.updates_per_epoch == 7 and len(list(whole.batches(0))) == 7  # never past one pass
