"""The WebSocket hub's pure parts: channel table, per-channel seq, rings, gaps, long-poll, replay, pacing.

Oracle: a plain list of everything ingested (what an unbounded hub would hold) and hand-worked cases.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nautilus.core.errors import InvalidInput
from nautilus.engines.websocket.channels import channel_for
from nautilus.engines.websocket.hub import Hub
from nautilus.engines.websocket.replay import delays


@pytest.mark.parametrize(("topic", "channel"), [
    ("ml.job.ab12", "jobs.ab12"),
    ("ml.predictions.direction", "signals"),
    ("strategy.backtest.done", "jobs.backtests"),
    ("strategy.backtest.donex", "strategy.backtest.donex"),
    ("portfolio.orders.main", "orders"),
    ("portfolio.fills.acct-2", "fills"),
    ("portfolio.positions.main", "positions"),
    ("portfolio.equity.main", "equity"),
    ("risk.alerts", "risk.alerts"),
    ("risk.alerts.var", "risk.alerts"),
    ("risk.alertsx", "risk.alertsx"),
    ("bars.AAPL", "bars.AAPL"),
    ("signals.sma", "signals"),
    ("ml.job.", "ml.job."),
    ("marketdata.bars.AAPL.1d", "marketdata.bars.AAPL.1d"),
])
def test_channel_table(topic: str, channel: str) -> None:
    assert channel_for(topic) == channel


def _clock() -> object:
    t = iter(range(1_000, 10**9))
    return lambda: next(t)


def test_seq_per_channel_and_hub_wide_id() -> None:
    hub = Hub(100, 10, clock=_clock())
    out = hub.ingest([("portfolio.orders.a", {"n": 1}), ("bars.X", {"n": 2}), ("portfolio.orders.b", {"n": 3})])
    assert [(m.id, m.channel, m.seq, m.topic) for m in out] == [
        (1, "orders", 1, "portfolio.orders.a"), (2, "bars.X", 1, "bars.X"), (3, "orders", 2, "portfolio.orders.b")]
    assert [m.ts for m in out] == [1000, 1001, 1002]
    assert {c.channel: c.last_seq for c in hub.channels()} == {"bars.X": 1, "orders": 2}


@settings(max_examples=60, deadline=None)
@given(topics=st.lists(st.sampled_from(["bars.A", "bars.B", "portfolio.orders.x", "other"]), max_size=60),
       ring=st.integers(1, 20), chring=st.integers(1, 8), after=st.integers(0, 70), limit=st.integers(1, 30))
def test_poll_and_replay_match_an_unbounded_oracle(topics, ring, chring, after, limit) -> None:
    hub = Hub(ring, chring)
    hub.ingest((t, {"i": i}) for i, t in enumerate(topics))
    everything = [(i + 1, channel_for(t), i) for i, t in enumerate(topics)]
    # poll: the newest `ring` messages with id > after, first `limit` of them; gap when some fell out
    reply = hub.poll(after, 0.0, limit)
    kept = everything[-ring:] if everything else []
    want = [e for e in kept if e[0] > after][:limit]
    assert [(m.id, m.channel, m.data["i"]) for m in reply.messages] == want
    assert reply.last_id == len(topics)
    assert reply.gap == (after < len(topics) and after + 1 < (kept[0][0] if kept else 1))
    # replay: per channel, seq > after_seq, complete iff nothing after after_seq fell out
    for channel in {c for _, c, _ in everything}:
        mine = [e for e in everything if e[1] == channel]
        for after_seq in range(len(mine) + 1):
            rep = hub.replay(channel, after_seq, limit)
            held = mine[-chring:]
            first_held = len(mine) - len(held) + 1
            assert rep.last_seq == len(mine)
            assert rep.complete == (after_seq + 1 >= first_held)
            want_seqs = [s for s in range(max(after_seq + 1, first_held), len(mine) + 1)][:limit]
            assert [m.seq for m in rep.messages] == want_seqs
            assert [m.data["i"] for m in rep.messages] == [mine[s - 1][2] for s in want_seqs]


def test_replay_of_unknown_channel_and_bad_input() -> None:
    hub = Hub(5, 5)
    assert hub.replay("nothing", 0).complete and hub.replay("nothing", 0).messages == []
    assert not hub.replay("nothing", 3).complete  # a client that saw seq 3 of a channel the hub never had
    with pytest.raises(InvalidInput) as err:
        hub.poll(0, 0.0, 0)
    assert err.value.field == "limit"
    with pytest.raises(InvalidInput):
        hub.replay("x", -1)


def test_poll_blocks_until_a_message_arrives() -> None:
    hub = Hub(10, 10)
    started = threading.Event()
    result: list = []

    def waiter() -> None:
        started.set()
        result.append(hub.poll(0, 30.0, 10))

    thread = threading.Thread(target=waiter)
    thread.start()
    started.wait()
    assert thread.is_alive() or result  # it is waiting (or already woke, never with nothing)
    hub.ingest([("bars.A", {"x": 1})])
    thread.join(30)
    assert [m.data for m in result[0].messages] == [{"x": 1}]


def test_poll_times_out_empty_and_after_none_reports_position() -> None:
    hub = Hub(10, 10)
    assert hub.poll(0, 0.01, 10).messages == []
    hub.ingest([("a", {}), ("b", {})])
    now = hub.poll(None)
    assert (now.messages, now.last_id) == ([], 2)
    assert hub.poll(2, 0.01).messages == []


def test_channel_count_is_bounded() -> None:
    hub = Hub(100, 10, max_channels=3)
    hub.ingest((f"t{i}", {}) for i in range(5))
    assert [c.channel for c in hub.channels()] == ["t2", "t3", "t4"]


def test_pacing_delays() -> None:
    ts = np.array([0, 60, 180, 240], dtype=np.int64) * 1_000_000_000
    np.testing.assert_allclose(delays(ts, speed=60.0, bars_per_second=0), [0, 1, 3, 4])
    np.testing.assert_allclose(delays(ts, speed=60.0, bars_per_second=4), [0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(delays(ts, 0, 0), [0, 0, 0, 0])
