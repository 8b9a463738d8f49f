"""Paper-trading kernels: fills against bars by hand-worked cases, accounting identities by property tests."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nautilus.trading.accounting import PositionState, apply_fill, cash_delta
from nautilus.trading.book import Account, Order, PaperBook, round_trips
from nautilus.trading.matching import (
    Bar,
    FillConfig,
    WorkingOrder,
    bar_price,
    eligible_from,
    execute,
    quote_price,
)

DAY = 86_400 * 10**9
BAR = Bar(ts=10 * DAY, open=100.0, high=105.0, low=95.0, close=102.0, volume=1_000.0)


def fill_on(order: WorkingOrder, bar: Bar = BAR, cfg: FillConfig = FillConfig(), available: float = math.inf):
    base, slipped = bar_price(order, bar)
    return execute(order, base, slipped, cfg, available)


@pytest.mark.parametrize(("kind", "side", "limit", "stop", "price"), [
    ("market", 1, None, None, 100.0),
    ("limit", 1, 101.0, None, 100.0),      # open already better than the limit
    ("limit", 1, 97.0, None, 97.0),        # touched inside the bar
    ("limit", 1, 94.0, None, None),        # never reached
    ("limit", -1, 104.0, None, 104.0),
    ("stop", 1, None, 103.0, 103.0),       # triggered inside the bar, fills at the stop
    ("stop", 1, None, 99.0, 100.0),        # open through the stop: fills at the open
    ("stop", -1, None, 96.0, 96.0),
    ("stop", -1, None, 94.0, None),
    ("stop_limit", 1, 104.0, 103.0, 103.0),  # trigger price within the limit
    ("stop_limit", 1, 102.0, 103.0, None),   # triggered above the limit: rests
])
def test_fill_prices_follow_the_documented_rules(kind, side, limit, stop, price) -> None:
    order = WorkingOrder(1, side, kind, 10.0, limit_price=limit, stop_price=stop)
    out = fill_on(order)
    if price is None:
        assert out.fills == [] and out.status == "open"
    else:
        assert [(f.quantity, f.price) for f in out.fills] == [(10.0, price)] and out.status == "filled"


def test_triggered_stop_limit_fills_later_as_a_limit_order() -> None:
    order = WorkingOrder(1, 1, "stop_limit", 5.0, limit_price=102.0, stop_price=103.0)
    assert fill_on(order).fills == [] and order.triggered
    nxt = Bar(ts=11 * DAY, open=104.0, high=104.5, low=101.0, close=102.0)
    assert [f.price for f in fill_on(order, nxt).fills] == [102.0]


def test_slippage_fees_and_fixed_fee_once_per_order() -> None:
    cfg = FillConfig(slippage_bps=10.0, fee_bps=5.0, fixed_fee=1.0)
    order = WorkingOrder(1, -1, "market", 10.0)
    first = fill_on(order, cfg=cfg, available=4.0)
    assert first.status == "partially_filled"
    (f,) = first.fills
    assert f.price == pytest.approx(100.0 * (1 - 0.001)) and f.quantity == 4.0
    assert f.fee == pytest.approx(4.0 * f.price * 5e-4 + 1.0)
    second = fill_on(order, cfg=cfg)
    assert second.status == "filled" and second.fills[0].quantity == 6.0
    assert second.fills[0].fee == pytest.approx(6.0 * second.fills[0].price * 5e-4)  # no second fixed fee


def test_ioc_and_fok_on_limited_volume() -> None:
    ioc = WorkingOrder(1, 1, "market", 10.0, tif="IOC")
    out = fill_on(ioc, available=3.0)
    assert [f.quantity for f in out.fills] == [3.0] and out.status == "cancelled"
    fok = WorkingOrder(2, 1, "market", 10.0, tif="FOK")
    out = fill_on(fok, available=3.0)
    assert out.fills == [] and out.status == "cancelled" and "FOK" in out.reason
    unfilled_ioc = WorkingOrder(3, 1, "limit", 10.0, limit_price=90.0, tif="IOC")
    assert fill_on(unfilled_ioc).status == "cancelled"


def test_quotes_fill_at_the_touch() -> None:
    assert quote_price(WorkingOrder(1, 1, "market", 1.0), 99.9, 100.1) == 100.1
    assert quote_price(WorkingOrder(1, -1, "market", 1.0), 99.9, 100.1) == 99.9
    assert quote_price(WorkingOrder(1, 1, "limit", 1.0, limit_price=100.0), 99.9, 100.1) is None
    stop = WorkingOrder(1, -1, "stop", 1.0, stop_price=100.0)
    assert quote_price(stop, 99.95, 100.05) == 99.95 and stop.triggered


def test_eligibility_follows_the_feed_clock_and_latency() -> None:
    assert eligible_from(None, 0.0) == 0
    assert eligible_from(5 * DAY, 0.0) == 5 * DAY + 1
    assert eligible_from(5 * DAY, 2.0) == 5 * DAY + 1 + 2_000_000


def test_average_cost_realised_pnl_and_flip_by_hand() -> None:
    pos = PositionState()
    assert apply_fill(pos, 10, 100.0, 1.0) == 0.0
    apply_fill(pos, 10, 110.0)
    assert (pos.quantity, pos.avg_price) == (20, 105.0)
    assert apply_fill(pos, -5, 120.0) == pytest.approx(75.0)  # (120 - 105) * 5
    assert apply_fill(pos, -25, 100.0) == pytest.approx(-75.0)  # closes 15 at -5 each, opens -10 at 100
    assert (pos.quantity, pos.avg_price, pos.realised_pnl, pos.fees) == (-10, 100.0, 0.0, 1.0)
    assert pos.unrealised(90.0) == pytest.approx(100.0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-50, 50).filter(bool), st.floats(1.0, 500.0), st.floats(0.0, 3.0)),
                min_size=1, max_size=40), st.floats(1.0, 500.0))
def test_equity_identity_holds_for_any_fill_sequence(fills, mark) -> None:
    """cash + position * mark == initial + realised + unrealised - fees, whatever the fills."""
    pos, cash = PositionState(), 1_000.0
    for q, p, fee in fills:
        apply_fill(pos, q, p, fee)
        cash += cash_delta(q, p, fee)
    assert cash + pos.quantity * mark == pytest.approx(1_000.0 + pos.realised_pnl + pos.unrealised(mark) - pos.fees,
                                                       rel=1e-9, abs=1e-6)


def _book(cfg: FillConfig = FillConfig()) -> PaperBook:
    book = PaperBook()
    book.accounts[1] = Account(1, "a", "USD", cfg, {"USD": 10_000.0})
    return book


def test_book_matches_in_order_marks_and_ignores_redelivered_bars() -> None:
    book = _book(FillConfig(fee_bps=10.0))
    book.add_order(Order(1, 1, "", "X", None, WorkingOrder(1, 1, "market", 10.0)))
    book.add_order(Order(2, 1, "", "X", None, WorkingOrder(2, 1, "limit", 5.0, limit_price=90.0)))
    result = book.on_bar("X", BAR)
    assert [(f.order_id, f.quantity, f.price) for f in result.fills] == [(1, 10.0, 100.0)]
    assert book.clock(1, "X") == BAR.ts and set(book.orders) == {2}
    (point,) = result.equity
    assert point.equity == pytest.approx(10_000.0 - 1.0 + 10 * (102.0 - 100.0))  # fee 1.0, marked to the close
    assert book.on_bar("X", BAR).ignored


def test_equity_pct_orders_size_like_the_backtester() -> None:
    cfg = FillConfig(fee_bps=10.0, fixed_fee=2.0, slippage_bps=5.0)
    book = _book(cfg)
    book.add_order(Order(1, 1, "", "X", None, WorkingOrder(1, 1, "market", 0.0, equity_pct=0.5)))
    (fill,) = book.on_bar("X", BAR).fills
    price = 100.0 * 1.0005
    assert fill.price == pytest.approx(price)
    assert fill.quantity == pytest.approx((0.5 * 10_000.0 - 2.0) / 1.001 / price)


def test_day_orders_expire_on_the_next_day() -> None:
    book = _book()
    work = WorkingOrder(1, 1, "limit", 1.0, limit_price=50.0, tif="DAY", day=BAR.ts // DAY)
    book.add_order(Order(1, 1, "", "X", None, work))
    assert book.on_bar("X", BAR).orders == []
    later = Bar(ts=BAR.ts + DAY, open=100.0, high=100.0, low=40.0, close=60.0)
    (order,) = book.on_bar("X", later).orders
    assert order.status == "expired" and not book.orders


def test_round_trips_split_a_fill_through_zero() -> None:
    from nautilus.trading.book import FillRecord

    fills = [FillRecord(1, 1, "", "X", 1, 10.0, 100.0, 1.0), FillRecord(2, 1, "", "X", 2, -15.0, 110.0, 3.0),
             FillRecord(3, 1, "", "X", 3, 5.0, 105.0, 0.0)]
    first, second = round_trips(fills)
    assert (first["direction"], first["size"], first["exit_price"]) == ("long", 10.0, 110.0)
    assert first["pnl"] == pytest.approx(100.0 - 1.0 - 2.0)
    assert (second["direction"], second["entry_price"], second["exit_price"]) == ("short", 110.0, 105.0)
    assert second["pnl"] == pytest.approx(25.0 - 1.0)


def test_each_account_has_its_own_feed_clock() -> None:
    book = _book()
    book.accounts[2] = Account(2, "b", "USD", FillConfig(), {"USD": 1_000.0})
    later = Bar(ts=BAR.ts + 5 * DAY, open=1.0, high=1.0, low=1.0, close=1.0)
    assert book.on_bar("X", later, [2]).marked == [2]
    result = book.on_bar("X", BAR)  # account 1 has not seen it; account 2 is past it
    assert result.marked == [1] and book.clock(2, "X") == later.ts


def test_decide_follows_the_backtester_rules() -> None:
    from nautilus.trading.matching import decide

    assert decide(0.0, True, False, False, False) == ("long",)
    assert decide(0.0, True, False, True, False) == ()  # conflicting entries cancel
    assert decide(5.0, False, False, True, False) == ("exit", "short")
    assert decide(5.0, True, True, False, False) == ()  # entry and exit of one side cancel
    assert decide(-2.0, False, False, False, True) == ("exit",)
    assert decide(0.0, False, True, False, False) == ()  # exits while flat are ignored


def test_a_users_strategy_class_runs_in_the_backtester() -> None:
    import numpy as np

    from nautilus.core.bars import Bars
    from nautilus.strategy.backtest import BacktestConfig, run_backtest, run_signals

    rng = np.random.default_rng(4)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 300)))
    bars = Bars(symbol="U", timeframe="1d", ts=np.arange(300, dtype=np.int64) * DAY, open=close * 1.001,
                high=close * 1.01, low=close * 0.99, close=close, volume=np.ones(300))
    from nautilus.strategy.backtest import resolve_strategy

    user = resolve_strategy("tests.support.user_strategy:Momentum", packages=["tests.support"])  # an allowed package
    got = run_backtest(bars, user, {"lookback": 7}, BacktestConfig(fees_bps=5))
    up = np.zeros(300, dtype=bool)
    up[7:] = close[7:] > close[:-7]
    entries = up & ~np.r_[False, up[:-1]]
    exits = ~up & np.r_[False, up[:-1]]
    want = run_signals(bars.open, bars.high, bars.low, close, entries, exits, BacktestConfig(fees_bps=5))
    assert got.trades_list() == want.trades_list() and len(want.trades_list()) > 5
    with pytest.raises(Exception, match="cannot load strategy"):
        resolve_strategy("tests.support.nope:X", packages=["tests.support"])
    with pytest.raises(Exception, match="not in an allowed place"):  # no place allowed: nothing is imported
        run_backtest(bars, "tests.support.user_strategy:Momentum", {"lookback": 7})
