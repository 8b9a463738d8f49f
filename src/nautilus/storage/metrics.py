"""Prometheus metrics of the storage layer (the database's health, the audit writer); every process that
serves ``/metrics`` exposes them with the runtime's (:mod:`nautilus.runtime.metrics`), from the one default
registry. Defined here, not in the runtime, so storage imports nothing above it."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DATABASE_OK = Gauge("nautilus_database_ok", "1 while the SQL database this process opened is reachable and is the "
                    "one it recorded (0: deleted, replaced, read-only, unreachable; the cause is in the detailed health)")
AUDIT_WRITE_FAILURES = Counter("nautilus_audit_write_failures_total",
                               "Audit batches that could not be written (kept and retried, never dropped)", ["writer"])
AUDIT_PENDING = Gauge("nautilus_audit_pending_entries", "Audit entries waiting for the database (memory and spill file)",
                      ["writer"])
AUDIT_SPILLED = Counter("nautilus_audit_spilled_total", "Audit entries written to the local spill file", ["writer"])
