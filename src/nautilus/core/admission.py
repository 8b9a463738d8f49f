"""Admission control: a request's cost is estimated from the request itself and refused over a cap.

A core rule, applied by the engines and by the bar read path (``storage/bars.py``). Every engine method that could do unbounded work (Monte Carlo paths x assets x horizon, bars read,
sweep sets x bars, matrix rows x columns) computes an upper bound of its cost *before* it allocates
or computes anything and calls :func:`admit` with the setting that caps it. A refusal is a 422
(:class:`~nautilus.core.errors.InvalidInput`) naming the request field that drives the cost and the
cap with its environment variable, e.g. ``paths x assets x horizon = 4.0e10 exceeds max_mc_cells
2.0e9 (NAUTILUS_MAX_MC_CELLS)``. Costs are Python ints, so products of huge request values never
overflow.
"""

from __future__ import annotations

from nautilus.core.errors import InvalidInput


def _num(value: int | float) -> str:
    if value < 1_000_000:
        return f"{value:,}"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"  # 4.0e10


def admit(cost: int | float, cap: int, field: str, setting: str, what: str | None = None) -> None:
    """Refuse (422 on ``field``) when ``cost`` exceeds ``cap``, the value of the setting ``setting``.

    ``what`` describes the cost (``"paths x assets x horizon"``); default: the field's name.
    """
    if cost > cap:
        env = "NAUTILUS_" + setting.upper()
        raise InvalidInput(f"{what or field} = {_num(cost)} exceeds {setting} {_num(cap)} ({env}); ask for less "
                           f"or raise the setting", field=field)
