"""Storage: SQL state (``db``, ``models``, migrations), the Parquet bar catalog (``catalog``) and the bar read
path over it (``bars``), saved backtests' files (``artifacts``), fetch records (``fetches``), paper-trading
state (``paper``) and the audit writer (``audit``). Import the submodule you
need: this package imports nothing, so using one does not load the others' libraries."""
