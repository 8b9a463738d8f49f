"""Factor expressions: valid text evaluates like the same composition written with pandas; unsafe or
unknown text is rejected with InvalidInput naming the token (field ``expr``), without evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.unit.factor.test_factor_library import make_panel

from nautilus.core.errors import InvalidInput
from nautilus.factor import evaluate, library, parse_expression


@pytest.fixture(scope="module")
def panel():
    return make_panel(120, 7, seed=5)


def df(x: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(x)


def pandas_rank(x: pd.DataFrame) -> np.ndarray:
    n = x.notna().sum(axis=1).to_numpy()[:, None]
    return ((x.rank(axis=1) - 1).to_numpy() / (n - 1))


def pandas_zscore(x: pd.DataFrame) -> np.ndarray:
    return x.sub(x.mean(axis=1), axis=0).div(x.std(axis=1, ddof=0), axis=0).to_numpy()


def test_the_issue_example_matches_pandas(panel) -> None:
    close, volume = df(panel.close), df(panel.volume)
    got = evaluate("rank(ts_mean(close, 20) / close) - zscore(volume)", panel)
    expected = pandas_rank(close.rolling(20).mean() / close) - pandas_zscore(volume)
    np.testing.assert_allclose(got, expected, equal_nan=True, atol=1e-12)


def test_arithmetic_functions_and_library_calls(panel) -> None:
    close, volume = df(panel.close), df(panel.volume)
    with np.errstate(all="ignore"):
        cases = {
            "-close / 2 + 3 * volume": -close / 2 + 3 * volume,
            "abs(delta(close, 3)) - log(volume) + sign(returns)":
                close.diff(3).abs() - np.log(volume) + np.sign(close / close.shift(1) - 1),
            "ts_std(returns, 10) * ts_sum(volume, 5)":
                (close / close.shift(1) - 1).rolling(10).std() * volume.rolling(5).sum(),
            "ts_max(close, 4) - ts_min(close, 4) + delay(close, 2)":
                close.rolling(4).max() - close.rolling(4).min() + close.shift(2),
            "ts_corr(close, volume, 15)": close.rolling(15).corr(volume),
            "ts_rank(volume, 8)": (volume.rolling(8).rank() - 1) / 7,
        }
    for text, expected in cases.items():
        np.testing.assert_allclose(evaluate(text, panel), expected.to_numpy(), equal_nan=True, rtol=1e-7,
                                   atol=1e-12, err_msg=text)
    np.testing.assert_array_equal(evaluate("momentum(80, skip=60)", panel), library.momentum(panel, 80, 60))
    np.testing.assert_allclose(evaluate("volatility(20) / 2", panel), library.volatility(panel, 20) / 2)
    zero = evaluate("close / (close - close)", panel)  # division by zero gives NaN, not inf
    assert np.isnan(zero).all()


@pytest.mark.parametrize("text, token", [
    ("__import__('os')", "__import__"),
    ("close.__class__", "close.__class__"),
    ("os.system('ls')", "os.system"),
    ("(lambda: 1)()", "lambda"),
    ("close[0]", "close[0]"),
    ("close if close else volume", "IfExp"),
    ("close ** 2", "Pow"),
    ("close < 1", "Compare"),
    ("'text'", "'text'"),
    ("[close]", "List"),
    ("open and close", "BoolOp"),
    ("foo(close)", "foo"),
    ("eval('1')", "eval"),
    ("price", "price"),
    ("ts_mean(close, n)", "n"),
    ("ts_mean(close, 2.5)", "2.5"),
    ("ts_mean(close, 0)", "0"),
    ("ts_mean(close)", "ts_mean"),
    ("rank(close, 2)", "rank"),
    ("momentum(close)", "close"),
    ("ts_mean(x=close, n=3)", "ts_mean"),
    ("True + close", "True"),
    ("close +", "syntax"),
    ("", "empty"),
    ("rank", "rank"),
])
def test_unsafe_or_unknown_text_is_rejected(text: str, token: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_expression(text)
    assert exc.value.field == "expr"
    assert token in exc.value.message, exc.value.message


def test_library_argument_errors_name_the_parameter() -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_expression("momentum(10, 20)")
    assert exc.value.field == "lookback"
    with pytest.raises(InvalidInput) as exc:
        parse_expression("volatility(span=3)")
    assert exc.value.field == "span"
    with pytest.raises(InvalidInput) as exc:
        parse_expression("momentum(60, lookback=80)")
    assert exc.value.field == "lookback" and "two values" in exc.value.message
    with pytest.raises(InvalidInput) as exc:
        parse_expression("volume_trend(50, 20)")
    assert exc.value.field == "long"


def test_length_and_size_limits() -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_expression("close + " * 300 + "close")
    assert exc.value.field == "expr"
    assert parse_expression("close + " * 20 + "close") is not None
