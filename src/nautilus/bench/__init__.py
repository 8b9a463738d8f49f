"""``nautilus bench``: baselines and our paths timed in the same run, reported as ratios.

:mod:`~nautilus.bench.harness` holds the case registry and the report; every case lives in its own
module under :mod:`nautilus.bench.cases`; helper processes (echo servers, the HTTP load generator,
the memory probe) are small ``python -m`` entry points next to them.
"""
