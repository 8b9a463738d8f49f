"""Market data kernels: resampling bars to a coarser timeframe (``resample``) and deterministic synthetic
bars (``synthetic``). Pure computation on :class:`~nautilus.core.bars.Bars`: no I/O, no settings. The
MarketData engine (``engines/marketdata``) stores what they return; the bar read path
(``storage/bars.py``) resamples with them on the fly. Both modules compile numba kernels, so they are
imported where used, never from here."""
