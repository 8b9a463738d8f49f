"""Parse and validate a bar file (CSV or Parquet bytes) into canonical ``Bars``.

Contract: ``parse_bars`` reads only the bytes it is given and either returns ``Bars`` sorted by UTC
open time or raises ``InvalidInput`` with one line naming the problem. File-level problems (unreadable
file, no data rows, missing or ambiguous column, bad option) name the option or column. Row problems
name the first offending data row in file order (the first data row is row 1) with its UTC timestamp
and the broken rule:

- the timestamp parses (text via pandas, epoch numbers via ``timestamp_unit`` or their magnitude),
  naive local times exist and are unambiguous in ``tz``, and no two rows share a timestamp;
- open, high, low, close and volume are finite numbers; prices are > 0 and volume is >= 0;
- high >= max(open, close) and low <= min(open, close) (hence high >= low).

Unsorted rows are accepted and sorted; the whole file is rejected on the first problem.

Time stamps follow the bar time model (:mod:`nautilus.core.timeframe`): intraday bars at their UTC open
instant; daily and longer bars at 00:00 UTC of their session date, which is the date the file gives them:
the written date of a naive time (``tz`` does not move it), the date in its own UTC offset of an aware one
(in ``tz`` when pandas had to bring mixed offsets to UTC), the date in ``tz`` of an epoch number. So one file
ingested with and without ``tz`` gives the same daily series.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Callable
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from nautilus.core.bars import COLUMNS, Bars
from nautilus.core.bounds import TS_MAX_NS, TS_MIN_NS, TS_RANGE_TEXT
from nautilus.core.errors import InvalidInput
from nautilus.core.timeframe import is_session_timeframe, timeframe_ns

CANONICAL = ("ts", *COLUMNS)
PRICES = ("open", "high", "low", "close")
ALIASES: dict[str, tuple[str, ...]] = {
    "ts": ("ts", "timestamp", "time", "date", "datetime"),
    "open": ("o", "open"),
    "high": ("h", "high"),
    "low": ("l", "low"),
    "close": ("c", "close"),
    "volume": ("v", "volume", "vol"),
}
EPOCH_UNITS: dict[str, int] = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_INT64_MAX = np.iinfo(np.int64).max
_YYYYMMDD = (19000101, 21001231)  # integer dates such as 20240305, read as %Y%m%d
_HAS_OFFSET = re.compile(r"\d\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|[+-]\d\d(:?\d\d)?)$", re.IGNORECASE)
_FIELD = "data"


class _Problem(NamedTuple):
    row: int  # 0-based position in the file's data rows
    reason: str


def parse_bars(
    data: bytes,
    *,
    fmt: Literal["csv", "parquet"],
    symbol: str,
    timeframe: str,
    columns: dict[str, str] | None = None,
    tz: str = "UTC",
    timestamp_unit: str | None = None,
    datetime_format: str | None = None,
) -> Bars:
    """Parse ``data`` into ``Bars`` or raise ``InvalidInput`` naming the first problem.

    ``columns`` maps canonical names (ts, open, high, low, close, volume) to the file's column names;
    unmapped ones are found case-insensitively among ``ALIASES``. Naive timestamps are local times in
    ``tz``; aware ones are converted to UTC. Numeric timestamp columns are epochs in ``timestamp_unit``
    (s, ms, us, ns), guessed from their magnitude when it is None (integers 19000101..21001231 are read
    as YYYYMMDD dates); ``datetime_format`` (strptime) forces text parsing.
    """
    timeframe_ns(timeframe)
    _check_options(fmt, symbol, tz, timestamp_unit)
    frame = _read_frame(data, fmt)
    names = resolve_columns(list(frame.columns), columns)
    ts, ts_valid, ts_problem = _bounded(*_parse_timestamps(frame[names["ts"]], tz, timestamp_unit, datetime_format,
                                                           is_session_timeframe(timeframe)))
    converted = {name: _to_float(frame[names[name]], name) for name in COLUMNS}
    values = {name: array for name, (array, _) in converted.items()}
    problems = [
        ts_problem,
        *(problem for _, problem in converted.values()),
        *_rule_problems(values),
        _duplicate_problem(ts, ts_valid),
    ]
    first = min((p for p in problems if p is not None), key=lambda p: p.row, default=None)
    if first is not None:
        raise InvalidInput(_row_message(first, ts, ts_valid), field=_FIELD)
    order = _sort_order(ts)
    return Bars(
        symbol=symbol,
        timeframe=timeframe,
        ts=np.ascontiguousarray(ts[order]),
        **{name: np.ascontiguousarray(values[name][order]) for name in COLUMNS},
    )


def resolve_columns(file_columns: list[str], columns: dict[str, str] | None = None) -> dict[str, str]:
    """Map every canonical name to one of ``file_columns`` (explicit ``columns`` first, then aliases)."""
    mapping = dict(columns or {})
    unknown = sorted(set(mapping) - set(CANONICAL))
    if unknown:
        raise InvalidInput(
            f"columns has unknown key(s) {unknown}: keys must be among {list(CANONICAL)}", field="columns"
        )
    listed = f"file columns: {file_columns}"
    resolved: dict[str, str] = {}
    for name in CANONICAL:
        if name in mapping:
            if mapping[name] not in file_columns:
                raise InvalidInput(
                    f"column {mapping[name]!r} (mapped to {name}) is not in the file; {listed}",
                    field="columns",
                )
            resolved[name] = mapping[name]
            continue
        matches = [c for c in file_columns if c.strip().lower() in ALIASES[name]]
        if not matches:
            raise InvalidInput(
                f"required column {name!r} is missing (looked for {list(ALIASES[name])}, any "
                f"case); {listed}; map it with columns={{'{name}': ...}}",
                field="columns",
            )
        if len(matches) > 1:
            raise InvalidInput(
                f"column {name!r} is ambiguous: {matches} all match; choose one with "
                f"columns={{'{name}': ...}}",
                field="columns",
            )
        resolved[name] = matches[0]
    return resolved


def _check_options(fmt: str, symbol: str, tz: str, timestamp_unit: str | None) -> None:
    if fmt not in ("csv", "parquet"):
        raise InvalidInput(f"fmt {fmt!r} is not supported: use 'csv' or 'parquet'", field="fmt")
    if not isinstance(symbol, str) or not symbol.strip():
        raise InvalidInput("symbol must be a non-empty string", field="symbol")
    if timestamp_unit is not None and timestamp_unit not in EPOCH_UNITS:
        raise InvalidInput(
            f"timestamp_unit {timestamp_unit!r} is not valid: use one of {list(EPOCH_UNITS)}",
            field="timestamp_unit",
        )
    try:
        if not isinstance(tz, str) or not tz:
            raise ValueError(tz)
        pd.Timestamp("2000-01-01").tz_localize(tz)
    except (LookupError, ValueError, TypeError):
        raise InvalidInput(
            f"tz {tz!r} is not a known time zone (e.g. UTC, America/New_York)", field="tz"
        ) from None


def _read_frame(data: bytes, fmt: str) -> pd.DataFrame:
    if not data or not data.strip():
        raise InvalidInput("file is empty", field=_FIELD)
    try:
        if fmt == "csv":
            frame = pd.read_csv(io.BytesIO(data), skipinitialspace=True)
        else:
            frame = pq.read_table(pa.BufferReader(data)).to_pandas(ignore_metadata=True)
    except (ValueError, UnicodeDecodeError, pa.ArrowException, pd.errors.ParserError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(f"file is not valid {fmt.upper()}: {detail}", field=_FIELD) from None
    frame.columns = [str(c) for c in frame.columns]
    if frame.empty:
        raise InvalidInput("file has no data rows", field=_FIELD)
    return frame


# --- timestamps -------------------------------------------------------------------------------------


def _parse_timestamps(
    raw: pd.Series, tz: str, unit: str | None, datetime_format: str | None, session_dates: bool = False
) -> tuple[np.ndarray, np.ndarray, _Problem | None]:
    """UTC ns per row, the mask of rows that gave one, and the first row that did not; with ``session_dates``
    00:00 UTC of each row's session date (see the module docstring)."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw
    elif unit is not None or (_is_number(raw) and datetime_format is None and not _is_yyyymmdd(raw)):
        ns, valid, problem = _epoch_to_ns(raw, unit)
        return (_epoch_session_dates(ns, valid, tz), valid, problem) if session_dates else (ns, valid, problem)
    else:
        parsed = _parse_text(raw, datetime_format)
    in_range = _in_ns_range(parsed)
    utc = (_session_dates if session_dates else _to_utc)(parsed.where(in_range), tz)
    valid = _in_ns_range(utc)
    ns = np.where(valid, utc.array.asi8, 0) * EPOCH_UNITS[utc.dt.unit]
    if valid.all():
        return ns, valid, None
    i = int(np.argmax(~valid))
    if pd.isna(parsed.iloc[i]):
        reason = _unparsed_reason(raw.iloc[i], datetime_format)
    elif in_range[i] and pd.isna(utc.iloc[i]):
        reason = _dst_reason(parsed.iloc[i], tz)
    else:
        reason = f"timestamp {parsed.iloc[i]} is outside the supported range 1677..2262"
    return ns, valid, _Problem(i, reason)


def _bounded(ts: np.ndarray, valid: np.ndarray, problem: _Problem | None
             ) -> tuple[np.ndarray, np.ndarray, _Problem | None]:
    """Rows whose time is outside the domain bounds (:mod:`nautilus.core.bounds`) are invalid too: a bar
    stamped in year 2262 would move the instrument's clock past every later bar."""
    outside = valid & ((ts < TS_MIN_NS) | (ts > TS_MAX_NS))
    if not outside.any():
        return ts, valid, problem
    i = int(np.argmax(outside))
    if problem is None or i < problem.row:
        problem = _Problem(i, f"timestamp {pd.Timestamp(int(ts[i]), tz='UTC')} is outside {TS_RANGE_TEXT}")
    return ts, valid & ~outside, problem


def _in_ns_range(times: pd.Series) -> np.ndarray:
    """Rows that are not NaT and fit int64 nanoseconds."""
    limit = _INT64_MAX // EPOCH_UNITS[times.dt.unit]
    return times.notna().to_numpy() & (np.abs(times.array.asi8) <= limit)


def _is_number(raw: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw)


def _is_yyyymmdd(raw: pd.Series) -> bool:
    return pd.api.types.is_integer_dtype(raw) and bool(raw.between(*_YYYYMMDD).all())


def _unparsed_reason(value: object, datetime_format: str | None) -> str:
    if pd.isna(value):
        return "timestamp is missing"
    hint = f"with datetime_format {datetime_format!r}" if datetime_format else "(pass datetime_format)"
    return f"timestamp {str(value)!r} cannot be parsed {hint}"


def _epoch_to_ns(raw: pd.Series, unit: str | None) -> tuple[np.ndarray, np.ndarray, _Problem | None]:
    numbers = raw if _is_number(raw) else pd.to_numeric(raw, errors="coerce")
    if pd.api.types.is_integer_dtype(numbers):
        ints = numbers.to_numpy(dtype=np.int64)
        factor = EPOCH_UNITS[unit or _guess_unit(float(np.abs(ints).max()))]
        valid = np.abs(ints) <= _INT64_MAX // factor
        ns = np.where(valid, ints, 0) * factor
    else:
        floats = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.isfinite(floats)
        factor = EPOCH_UNITS[unit or _guess_unit(float(np.abs(floats[finite]).max(initial=0.0)))]
        valid = finite & (np.abs(floats) < _INT64_MAX / factor - 1)
        floats = np.where(valid, floats, 0.0)
        whole = np.floor(floats)  # whole units stay exact; only the fraction is rounded to ns
        ns = whole.astype(np.int64) * factor + np.round((floats - whole) * factor).astype(np.int64)
    if valid.all():
        return ns, valid, None
    i = int(np.argmax(~valid))
    value = raw.iloc[i]
    if pd.isna(value):
        reason = "timestamp is missing"
    elif pd.isna(numbers.iloc[i]):
        reason = f"timestamp {str(value)!r} is not an epoch number"
    else:
        reason = f"epoch timestamp {value} is out of range for unit {unit or 'guessed from magnitude'}"
    return ns, valid, _Problem(i, reason)


def _guess_unit(magnitude: float) -> str:
    """Epoch unit from the largest absolute value: seconds below 1e11 (year 5138), then ms, us, ns."""
    for unit, limit in (("s", 1e11), ("ms", 1e14), ("us", 1e17)):
        if magnitude < limit:
            return unit
    return "ns"


def _parse_text(raw: pd.Series, datetime_format: str | None) -> pd.Series:
    text = raw.astype("str").where(raw.notna()) if _is_number(raw) else raw
    if datetime_format is not None:
        return _to_datetime(text, datetime_format)
    if _is_yyyymmdd(raw):
        return _to_datetime(text, "%Y%m%d")
    iso = _to_datetime(text, "ISO8601")
    if iso.isna().sum() == raw.isna().sum():
        return iso
    inferred = _to_datetime(text, None)
    return inferred if inferred.isna().sum() < iso.isna().sum() else iso


def _to_datetime(text: pd.Series, datetime_format: str | None) -> pd.Series:
    """Parse with pandas; mixed UTC offsets are converted to UTC, mixed naive/aware text is rejected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            return pd.to_datetime(text, format=datetime_format, errors="coerce")
        except ValueError:  # "Mixed timezones detected"
            _reject_mixed_naive_aware(text)
            return pd.to_datetime(text, format=datetime_format, errors="coerce", utc=True)


def _reject_mixed_naive_aware(text: pd.Series) -> None:
    aware = text.astype("str").str.strip().str.contains(_HAS_OFFSET).to_numpy(dtype=bool)
    if aware.all():
        return
    i = int(np.argmax(~aware))
    j = int(np.argmax(aware))
    raise InvalidInput(
        f"row {i + 1}: timestamp {str(text.iloc[i])!r} has no UTC offset but row {j + 1} "
        f"({str(text.iloc[j])!r}) has one; use one style for the whole column",
        field=_FIELD,
    )


def _to_utc(parsed: pd.Series, tz: str) -> pd.Series:
    """Aware times converted to UTC; naive ones localised in ``tz`` (NaT where DST makes them invalid)."""
    if parsed.dt.tz is None:
        parsed = parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    return parsed.dt.tz_convert("UTC")


def _session_dates(parsed: pd.Series, tz: str) -> pd.Series:
    """00:00 UTC of each time's wall-clock date: naive as written, aware in its own offset (in ``tz`` when the
    offsets were mixed and pandas brought them to UTC)."""
    if parsed.dt.tz is not None:
        if str(parsed.dt.tz) == "UTC" and tz != "UTC":
            parsed = parsed.dt.tz_convert(tz)
        parsed = parsed.dt.tz_localize(None)
    return parsed.dt.floor("D").dt.tz_localize("UTC")


def _epoch_session_dates(ns: np.ndarray, valid: np.ndarray, tz: str) -> np.ndarray:
    """00:00 UTC of the date in ``tz`` of each epoch instant (invalid rows stay as they are)."""
    if tz == "UTC":
        return np.where(valid, ns // 86_400_000_000_000 * 86_400_000_000_000, ns)
    local = pd.Series(pd.to_datetime(np.where(valid, ns, 0), unit="ns", utc=True)).dt.tz_convert(tz)
    days = local.dt.tz_localize(None).dt.floor("D").array.as_unit("ns").asi8
    return np.where(valid, days, ns)


def _dst_reason(local_time: pd.Timestamp, tz: str) -> str:
    try:
        local_time.tz_localize(tz, ambiguous=False, nonexistent="raise")
    except ValueError:  # NonExistentTimeError
        return f"local time {local_time} does not exist in {tz} (skipped by a DST change)"
    return f"local time {local_time} is ambiguous in {tz} (repeated by a DST change)"


# --- values -----------------------------------------------------------------------------------------


def _to_float(raw: pd.Series, name: str) -> tuple[np.ndarray, _Problem | None]:
    numbers = raw if _is_number(raw) else pd.to_numeric(raw, errors="coerce")
    values = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if not bad.any():
        return values, None
    i = int(np.argmax(bad))
    if pd.isna(raw.iloc[i]):
        reason = f"{name} is missing or NaN"
    elif np.isnan(values[i]):
        reason = f"{name} {str(raw.iloc[i])!r} is not a number"
    else:
        reason = f"{name} {_num(values[i])} is not finite"
    return values, _Problem(i, reason)


def _rule_problems(v: dict[str, np.ndarray]) -> list[_Problem | None]:
    """First row breaking each rule, checked in this order within a row (NaN rows never match)."""
    high, low, volume = v["high"], v["low"], v["volume"]
    top, bottom = np.maximum(v["open"], v["close"]), np.minimum(v["open"], v["close"])
    problems = [_first(v[p] <= 0, lambda i, p=p: f"{p} {_num(v[p][i])} is not positive") for p in PRICES]
    problems.append(
        _first(high < top, lambda i: f"high {_num(high[i])} is below max(open, close) {_num(top[i])}")
    )
    problems.append(
        _first(low > bottom, lambda i: f"low {_num(low[i])} is above min(open, close) {_num(bottom[i])}")
    )
    problems.append(_first(volume < 0, lambda i: f"volume {_num(volume[i])} is negative"))
    return problems


def _first(mask: np.ndarray, reason: Callable[[int], str]) -> _Problem | None:
    i = int(np.argmax(mask))
    return _Problem(i, reason(i)) if mask[i] else None


def _duplicate_problem(ts: np.ndarray, valid: np.ndarray) -> _Problem | None:
    if valid.all() and bool(np.all(ts[1:] > ts[:-1])):
        return None
    rows = np.flatnonzero(valid)
    order = rows[np.argsort(ts[rows], kind="stable")]
    same = ts[order[1:]] == ts[order[:-1]]
    if not same.any():
        return None
    later, earlier = order[1:][same], order[:-1][same]
    k = int(np.argmin(later))
    return _Problem(int(later[k]), f"duplicate timestamp, same as row {int(earlier[k]) + 1}")


def _sort_order(ts: np.ndarray) -> np.ndarray | slice:
    return slice(None) if bool(np.all(ts[1:] > ts[:-1])) else np.argsort(ts, kind="stable")


def _row_message(problem: _Problem, ts: np.ndarray, valid: np.ndarray) -> str:
    label = f" ({pd.Timestamp(int(ts[problem.row]), tz='UTC')})" if valid[problem.row] else ""
    return f"row {problem.row + 1}{label}: {problem.reason}"


def _num(value: float) -> str:
    return repr(float(value))
