"""load_panel: the caller's reader supplies each symbol's bars; the kernel aligns them and names ``symbols``
in its refusals. The alignment is checked against pandas (an outer or inner join on the time stamps)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nautilus.core.bars import COLUMNS, Bars
from nautilus.core.errors import InvalidInput, NotFound
from nautilus.factor.panel import MAX_SYMBOLS, load_panel

DAY = 86_400 * 10**9


def bars(symbol: str, days: list[int], seed: int) -> Bars:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(days))))
    return Bars(symbol=symbol, timeframe="1d", ts=np.array(days, dtype=np.int64) * DAY, open=close * 0.999,
                high=close * 1.01, low=close * 0.99, close=close, volume=rng.uniform(1, 9, len(days)))


STORED = {"AAA": bars("AAA", [0, 1, 2, 4, 5], 1), "BBB": bars("BBB", [1, 2, 3, 5], 2),
          "CCC": bars("CCC", [2, 5, 6], 3)}


def reader(calls: list[str]):
    def read(symbol: str) -> Bars:
        calls.append(symbol)
        if symbol not in STORED:
            raise NotFound(f"symbol {symbol!r} is not in the catalog", field="symbol")
        return STORED[symbol]
    return read


@pytest.mark.parametrize("align, how", [("intersection", "inner"), ("union", "outer")])
def test_alignment_matches_a_pandas_join(align: str, how: str) -> None:
    calls: list[str] = []
    panel = load_panel(reader(calls), ["AAA", "BBB", "CCC", "AAA"], "1d", align=align)
    assert calls == ["AAA", "BBB", "CCC"]  # duplicates are read once, in the request's order
    assert panel.symbols == ("AAA", "BBB", "CCC")
    for column in COLUMNS:
        frames = [pd.Series(getattr(STORED[s], column), index=STORED[s].ts, name=s) for s in panel.symbols]
        expected = pd.concat(frames, axis=1, join=how).sort_index()
        np.testing.assert_array_equal(panel.ts, expected.index.to_numpy())
        np.testing.assert_array_equal(getattr(panel, column), expected.to_numpy())


def test_refusals_name_symbols() -> None:
    with pytest.raises(NotFound) as missing:
        load_panel(reader([]), ["AAA", "ZZZ"])
    assert missing.value.field == "symbols" and "ZZZ" in missing.value.message

    def empty(symbol: str) -> Bars:
        return Bars.empty(symbol, "1d")

    with pytest.raises(NotFound) as nothing:
        load_panel(empty, ["AAA"])
    assert nothing.value.field == "symbols" and "no 1d bars for 'AAA'" in nothing.value.message
    for symbols in ([], [f"S{i}" for i in range(MAX_SYMBOLS + 1)]):
        with pytest.raises(InvalidInput) as refused:
            load_panel(reader([]), symbols)
        assert refused.value.field == "symbols"
