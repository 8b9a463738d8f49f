"""Factor engine: the factor library, user expressions, cross-sectional processing and tear sheets.

Orchestration only: bars come from the Parquet catalog through the bar read path
(:func:`nautilus.storage.bars.read_bars`, the same range query the MarketData engine answers with), aligned
by :func:`nautilus.factor.load_panel`; the math is in :mod:`nautilus.factor`.
"""

from __future__ import annotations

import msgspec
import numpy as np

from nautilus.core.admission import admit
from nautilus.core.bars import Bars
from nautilus.core.bounds import normalize_symbol
from nautilus.core.errors import InvalidInput
from nautilus.core.timeframe import timeframe_ns
from nautilus.engines.base import StorageEngine
from nautilus.engines.factor.messages import (
    ComputeReply,
    ComputeRequest,
    FactorList,
    FactorQuery,
    ResearchReply,
    ResearchRequest,
)
from nautilus.factor import expression, library, pipeline, research
from nautilus.factor.panel import Panel, load_panel
from nautilus.runtime.engine import handler
from nautilus.storage.bars import bars_extent, read_bars

MAX_HORIZONS = 20
MAX_RESEARCH_CELLS = 2_000_000  # dates x symbols of one tear sheet (about 3 s on one core)


class FactorEngine(StorageEngine):
    name = "factor"

    @handler
    def list_factors(self) -> FactorList:
        return FactorList(items=library.list_factors(), functions=expression.function_names(),
                          columns=list(expression.COLUMNS))

    @handler
    def compute(self, req: ComputeRequest) -> ComputeReply:
        panel, label, values = self._factor(req)
        return ComputeReply(factor=label, timeframe=panel.timeframe, ts=panel.ts, symbols=list(panel.symbols),
                            values=values)

    @handler
    def research(self, req: ResearchRequest) -> ResearchReply:
        if not req.horizons or len(req.horizons) > MAX_HORIZONS:
            raise InvalidInput(f"give 1 to {MAX_HORIZONS} horizons", field="horizons")
        panel, label, values = self._factor(req)
        if values.size > MAX_RESEARCH_CELLS:
            raise InvalidInput(f"a tear sheet covers at most {MAX_RESEARCH_CELLS:,} dates x symbols, this one "
                               f"{values.shape[0]:,} x {values.shape[1]:,}; narrow start/end or the symbols",
                               field="symbols")
        sheet = research.tearsheet(values, panel.close, req.horizons, req.quantiles, req.method, ts=panel.ts,
                                   name=label)
        return ResearchReply(factor=label, timeframe=panel.timeframe, symbols=list(panel.symbols), tearsheet=sheet)

    @staticmethod
    def _symbols(req: FactorQuery) -> list[str]:
        """The request's symbols as catalog names, each once, in the request's order (422 naming ``symbols``)."""
        try:
            return list(dict.fromkeys(normalize_symbol(s) for s in req.symbols))
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field="symbols") from None

    def _admit(self, req: FactorQuery, symbols: list[str]) -> None:
        """Refuse a panel of more than ``max_matrix_cells`` dates x symbols before any bars are read (its
        dates: at most the symbols' bars together, and at most the bar slots their stored extents span)."""
        cap = self.settings.max_matrix_cells
        step = timeframe_ns(req.timeframe)
        for footers in (False, True):
            extents = [bars_extent(self.catalog, s, req.timeframe, None, req.end_ns, footers=footers)
                       for s in symbols]
            if not extents:
                return
            lo, hi = min(lo for _, lo, _ in extents), max(hi for _, _, hi in extents)
            dates = min(sum(n for n, _, _ in extents), max(0, (hi - lo - 1) // step + 1))
            if dates * len(symbols) <= cap:
                return
        admit(dates * len(symbols), cap, "symbols", "max_matrix_cells", "dates x symbols")

    def _factor(self, req: FactorQuery) -> tuple[Panel, str, np.ndarray]:
        """Load all history before end_ns, compute and process the factor, cut to [start_ns, end_ns)."""
        if req.start_ns is not None and req.end_ns is not None and req.end_ns <= req.start_ns:
            raise InvalidInput("end must be after start", field="end")
        if req.factor is None and req.expr is None:
            raise InvalidInput("give factor (a library spec) or expr (an expression)", field="factor")
        if req.expr is not None:
            expression.parse_expression(req.expr)  # reject bad text before reading any bars
        else:
            library.parse_spec(req.factor)
        symbols = self._symbols(req)
        self._admit(req, symbols)  # checks the timeframe too

        def read(symbol: str) -> Bars:
            return read_bars(self.catalog, symbol, req.timeframe, None, req.end_ns,
                             max_bars=self.settings.max_bars_per_request)

        panel = load_panel(read, symbols, req.timeframe)
        label, values = pipeline.factor_values(panel, req.factor, req.expr)
        values = pipeline.apply_steps(values, [msgspec.structs.asdict(s) for s in req.steps], panel)
        if req.start_ns is not None:
            rows = panel.ts >= req.start_ns
            if not rows.any():
                raise InvalidInput("no bars at or after start", field="start")
            panel, values = panel.take(rows), values[rows]
        return panel, label, np.ascontiguousarray(values)
