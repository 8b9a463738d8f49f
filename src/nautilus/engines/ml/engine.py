"""ML engine: training jobs on feature sets, the model registry, and warm low-latency serving.

Orchestration only: features come from :mod:`nautilus.features` over catalog bars, training from
:mod:`nautilus.ml.training` / :mod:`nautilus.ml.tasks`, artifacts and predictors from
:mod:`nautilus.ml.registry`. Serving predictors are loaded once and kept warm: every production
version at start, any other version on first use. The serving kernels (numba) are loaded with the
first predictor, so a stack without production models starts without them.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from nautilus.config import Settings
from nautilus.core.admission import admit
from nautilus.core.bounds import normalize_symbol
from nautilus.core.errors import InvalidInput, NotFound
from nautilus.core.plain import plain
from nautilus.engines.base import StorageEngine
from nautilus.engines.features.store import FeatureSetStore
from nautilus.engines.features.warm import read_warm
from nautilus.engines.ml.jobs import MAX_KEPT, Job, JobManager
from nautilus.engines.ml.messages import (
    JobId,
    JobList,
    JobReply,
    ModelList,
    ModelRef,
    ModelReply,
    ModelsRequest,
    PredictReply,
    PredictRequest,
    TaskList,
    TrainRequest,
)
from nautilus.runtime.engine import handler
from nautilus.storage.bars import bars_extent

MAX_SYMBOLS = 2_000
JOB_RECORD = "train_job"  # the audit action under which training jobs' state changes are recorded
log = logging.getLogger("nautilus.ml")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,127}$")


class Served:
    """A warm predictor with what requests are checked against."""

    def __init__(self, row: dict[str, Any], predictor: Any) -> None:
        from nautilus.ml.registry import sequence_length

        self.row = row
        self.predictor = predictor
        self.n_features = len(row["feature_names"])
        self.seq_len = sequence_length(row)


class MLEngine(StorageEngine):
    name = "ml"
    stateful = True  # one writer: see nautilus.runtime.engine.Engine.stateful

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        assert settings.data_dir is not None
        self.models_dir = Path(settings.data_dir) / "models"
        self.feature_sets = FeatureSetStore(Path(settings.data_dir) / "features")
        self.jobs = JobManager(lambda: self.bus, self._record_job)
        self._served: dict[tuple[str, int], Served] = {}
        self._production: dict[str, int] = {}
        self._lock = threading.Lock()
        self._kernels_warm = False

    def start(self) -> None:
        super().start()  # the writer lease first, then the jobs of the last writer
        records = self.database.list_audit(limit=4 * MAX_KEPT, action=JOB_RECORD)
        newest: dict[str, dict[str, Any]] = {}
        for entry in records:  # newest first
            if entry["detail"] and entry["target"] not in newest:
                newest[entry["target"]] = entry["detail"]
        interrupted = self.jobs.restore(sorted(newest.values(), key=lambda snap: snap["created"])[-MAX_KEPT:])
        if interrupted:
            log.warning("%d training job(s) of a stopped ML engine marked failed (interrupted)", interrupted)
        for row in self.database.list_models(limit=10_000):
            if row["stage"] == "production":
                try:
                    self._serve(row)
                    self._production[row["name"]] = row["version"]
                except Exception:  # a broken artifact must not stop the engine; it fails when asked for
                    pass

    def close(self) -> None:
        self.jobs.cancel_all()
        super().close()

    def _record_job(self, snapshot: dict[str, Any]) -> None:
        """A job's state change as an audit entry (``ml``/``train_job``/job id): what :meth:`start` rebuilds
        the jobs from after a restart."""
        self.database.audit("ml", JOB_RECORD, snapshot["id"], plain(snapshot))

    # Tasks and training -------------------------------------------------------------------------
    @handler
    def list_tasks(self) -> TaskList:
        from nautilus.ml.tasks import TASKS

        return TaskList(items=[{"name": t.name, "feature_set": t.feature_set, "target": t.target,
                                "objective": t.objective, "model": msgspec.to_builtins(t.spec),
                                "description": t.description} for t in TASKS.values()])

    @handler(idempotent=False)
    def train(self, req: TrainRequest) -> JobReply:
        plan = self._plan(req)
        job = self.jobs.submit(plan["name"], lambda job: self._run(job, req, plan))
        if req.wait:
            job.done.wait()
        return JobReply(**job.snapshot())

    def _plan(self, req: TrainRequest) -> dict[str, Any]:
        """Validate everything a job needs before it starts, so bad input is a 4xx, not a failed job."""
        from nautilus.ml.tasks import TASKS
        from nautilus.ml.training import ModelSpec

        task = None
        if req.task is not None:
            task = TASKS.get(req.task)
            if task is None:
                raise InvalidInput(f"unknown task {req.task!r}; tasks: {', '.join(TASKS)}", field="task")
        elif req.target is None or req.feature_set is None:
            raise InvalidInput("without a task, give feature_set and target", field="task")
        if not 1 <= len(req.symbols) <= MAX_SYMBOLS:
            raise InvalidInput(f"give 1 to {MAX_SYMBOLS} symbols", field="symbols")
        symbols = sorted({normalize_symbol(s) for s in req.symbols})
        fs = self._feature_set(req.feature_set if req.feature_set is not None else task.feature_set)
        target = req.target or task.target
        if target not in fs.target_names:
            raise InvalidInput(f"feature set {fs.name!r} has no target {target!r}; targets: "
                               f"{', '.join(fs.target_names) or 'none'}", field="target")
        name = req.name or (task.name if task else f"{fs.name}_{target}")
        if not _NAME.match(name):
            raise InvalidInput(f"model name {name!r} must be 1-128 letters, digits, _ . - starting with a letter",
                               field="name")
        base = msgspec.to_builtins(task.spec) if task else {}
        body = {k: v for k, v in msgspec.to_builtins(req.model).items() if v is not None}
        if body.get("kind", base.get("kind")) != base.get("kind"):
            base.pop("params", None)  # the task's parameters are its kind's (LightGBM's): never another kind's
        elif "params" in body and "params" in base:
            body["params"] = {**base["params"], **body["params"]}
        try:
            spec = msgspec.convert({**base, **body}, ModelSpec)
            spec.resolved_params()
        except msgspec.ValidationError as exc:
            raise InvalidInput(f"model: {exc}", field="model") from None
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field=f"model.{exc.field}" if exc.field else "model") from None
        if task is not None and spec.objective != task.objective:
            raise InvalidInput(f"task {task.name!r} needs objective {task.objective!r}", field="model.objective")
        if not 2 <= req.n_folds <= 50:
            raise InvalidInput("n_folds must be between 2 and 50", field="n_folds")
        for s in symbols:  # unknown symbols are a 404 now, not a failed job later
            try:
                self.catalog.timeframes(s)
            except NotFound:
                raise NotFound(f"no bars for symbol {s!r}", field="symbols") from None
        seq_len = spec.sequence_length if spec.kind in ("lstm", "tcn") else None
        self._admit_frame(fs, symbols, req.timeframe, req.start_ns, req.end_ns, seq_len)
        return {"name": name, "task": task, "symbols": symbols, "feature_set": fs, "target": target, "spec": spec}

    def _feature_set(self, ref: str | dict[str, Any]) -> Any:
        from nautilus.features.spec import inline_feature_set

        if isinstance(ref, str):
            try:
                return self.feature_sets.get(ref)[0]
            except NotFound as exc:
                raise NotFound(exc.message, field="feature_set") from None
        return inline_feature_set(ref, field="feature_set")

    def _admit_frame(self, fs: Any, symbols: list[str], timeframe: str, start_ns: int | None, end_ns: int | None,
                     sequence_length: int | None = None) -> None:
        """Refuse, before any bars are read, a feature matrix (rows x (features + targets), times the window
        length of a sequence model's inputs) over ``max_matrix_cells``."""
        columns = max(1, len(fs.feature_names) + len(fs.target_names)) * max(1, sequence_length or 1)
        cap = self.settings.max_matrix_cells

        def rows(footers: bool) -> int:
            return sum(bars_extent(self.catalog, s, timeframe, start_ns, end_ns, footers=footers)[0] for s in symbols)

        if rows(False) * columns > cap:
            what = "bars x features" + (" x sequence_length" if sequence_length else "")
            admit(rows(True) * columns, cap, "symbols", "max_matrix_cells", what)

    def _frame(self, fs: Any, symbols: list[str], timeframe: str, start_ns: int | None, end_ns: int | None) -> Any:
        """The feature frame of ``symbols`` over [start_ns, end_ns): features warm up on the set's warm-up bars
        before the range (rows dropped after), so a row's inputs do not depend on the range."""
        from nautilus.features import compute_universe

        first: dict[str, int] = {}

        def load(symbol: str) -> Any:
            bars, skip = read_warm(self.catalog, symbol, timeframe, start_ns, end_ns, None, fs.warmup,
                                   max_bars=self.settings.max_bars_per_request)
            if len(bars) == skip:
                raise NotFound(f"no {timeframe} bars for {symbol!r} in the requested range", field="symbols")
            if symbol in symbols:
                first[symbol] = int(bars.ts[skip])
            return bars

        frame = compute_universe(fs, symbols, load, workers=2)
        starts = np.array([first[str(s)] for s in frame.symbols], dtype=np.int64)
        return frame.take(np.flatnonzero(frame.ts >= starts)) if len(frame) else frame

    def _run(self, job: Job, req: TrainRequest, plan: dict[str, Any]) -> dict[str, Any]:
        from nautilus.ml import registry
        from nautilus.ml.tasks import run_task
        from nautilus.ml.training import train

        def progress(fraction: float, message: str) -> None:
            self.jobs.report(job, 0.05 + 0.85 * fraction, message)

        self.jobs.report(job, 0.01, "computing features")
        fs = plan["feature_set"]
        frame = self._frame(fs, plan["symbols"], req.timeframe, req.start_ns, req.end_ns)
        kw = dict(n_folds=req.n_folds, scheme=req.scheme, embargo=req.embargo, progress=progress, cancel=job.cancel,
                  device=self.backend())  # torch models train on the configured backend (auto: cuda > mps > cpu)
        if plan["task"] is not None:
            result = run_task(plan["task"].name, frame, plan["spec"], **kw)
        else:
            result = train(frame, plan["target"], plan["spec"], **kw)
        self.jobs.report(job, 0.92, "writing artifacts")
        folder = self.models_dir / plan["name"] / job.id
        written = registry.write_artifacts(result, folder, onnx=req.onnx)
        metrics = {**_sample_metrics(result, frame, folder), "best_iteration": result.best_iteration,
                   "artifacts": sorted(written) + [OOS_FILE]}
        try:
            row = self.database.add_model(
                name=plan["name"], task=plan["task"].name if plan["task"] else None, kind=result.spec.kind,
                objective=result.spec.objective, target=result.target, feature_set=fs.to_dict(),
                feature_names=list(result.feature_names), params=msgspec.to_builtins(result.spec),
                metrics=plain(metrics), folds=plain([{**f, "sample": "out_of_sample"} for f in result.fold_metrics]),
                symbols=plan["symbols"],
                timeframe=req.timeframe, first_ts=int(result.data_start), last_ts=int(result.data_end),
                n_rows=int(result.n_rows), artifact=str(folder))
        except BaseException:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
            raise
        self.database.audit("ml", "register_model", f"{row['name']}/{row['version']}", {"job": job.id})
        return _summary(row)

    @handler
    def job(self, req: JobId) -> JobReply:
        return JobReply(**self.jobs.get(req.id).snapshot())

    @handler
    def list_jobs(self) -> JobList:
        return JobList(items=[JobReply(**j.snapshot()) for j in self.jobs.all()])

    @handler(idempotent=False)
    def cancel_job(self, req: JobId) -> JobReply:
        job = self.jobs.get(req.id)
        job.cancel.set()
        return JobReply(**job.snapshot())

    # Registry -----------------------------------------------------------------------------------
    @handler
    def models(self, req: ModelsRequest) -> ModelList:
        return ModelList(items=[_summary(r) for r in self.database.list_models(req.name)])

    @handler
    def model(self, req: ModelRef) -> ModelReply:
        return ModelReply(model=plain(self.database.get_model(req.name, req.version)))

    @handler(idempotent=False)
    def promote(self, req: ModelRef) -> ModelReply:
        if req.version is None:
            raise InvalidInput("promote needs the version", field="version")
        row = self.database.promote_model(req.name, req.version)
        self._serve(row)  # warm before it takes traffic
        with self._lock:
            self._production[row["name"]] = row["version"]
        self.database.audit("ml", "promote_model", f"{row['name']}/{row['version']}", None)
        return ModelReply(model=_summary(row))

    @handler(idempotent=False)
    def rollback(self, req: ModelRef) -> ModelReply:
        row = self.database.rollback_model(req.name)
        self._serve(row)
        with self._lock:
            self._production[row["name"]] = row["version"]
        self.database.audit("ml", "rollback_model", f"{row['name']}/{row['version']}", None)
        return ModelReply(model=_summary(row))

    @handler(idempotent=False)
    def delete_model(self, req: ModelRef) -> ModelReply:
        if req.version is None:
            raise InvalidInput("delete needs the version", field="version")
        row = self.database.delete_model(req.name, req.version)
        with self._lock:
            self._served.pop((row["name"], row["version"]), None)
        import shutil

        shutil.rmtree(row["artifact"], ignore_errors=True)
        return ModelReply(model=_summary(row))

    # Serving ------------------------------------------------------------------------------------
    def _serve(self, row: dict[str, Any]) -> Served:
        from nautilus.ml import registry

        key = (row["name"], row["version"])
        served = self._served.get(key)
        if served is None:
            self._warm_kernels()
            served = Served(row, registry.load_serving(row["artifact"], device=self.backend))
            with self._lock:
                self._served[key] = served
        return served

    def _warm_kernels(self) -> None:
        """Load the serving kernels from numba's cache (once), before the first predictor takes traffic."""
        if not self._kernels_warm:
            from nautilus.ml.serving.warmup import warm

            warm()
            self._kernels_warm = True

    def _lookup(self, name: str, version: int | None) -> Served:
        if version is None:
            version = self._production.get(name)
        if version is not None:
            served = self._served.get((name, version))
            if served is not None:
                return served
        return self._serve(self.database.get_model(name, version))

    @handler
    def predict(self, req: PredictRequest) -> PredictReply:
        served = self._lookup(req.name, req.version)
        row = served.row
        if (req.rows is None) == (req.symbols is None):
            raise InvalidInput("give either rows (model inputs) or symbols (features from the catalog)", field="rows")
        if req.rows is not None:
            x = _rows(req.rows, served)
            if x.shape[0] == 1:  # the single-row kernel: no batch set-up, no thread pool
                pred = np.asarray(served.predictor.predict_one(x[0]))[None]
            else:
                pred = served.predictor.predict(x)
            return PredictReply(name=row["name"], version=row["version"], predictions=pred)
        return self._predict_catalog(req, served)

    def _predict_catalog(self, req: PredictRequest, served: Served) -> PredictReply:
        from nautilus.features import load_feature_set
        from nautilus.ml import registry

        row = served.row
        fs = load_feature_set(row["feature_set"])
        symbols = sorted({normalize_symbol(s) for s in req.symbols or []})
        if not 1 <= len(symbols) <= MAX_SYMBOLS:
            raise InvalidInput(f"give 1 to {MAX_SYMBOLS} symbols", field="symbols")
        start = req.start_ns if req.series else None
        timeframe = req.timeframe or row["timeframe"]
        self._admit_frame(fs, symbols, timeframe, start, req.end_ns, registry.sequence_length(row))
        frame = self._frame(fs, symbols, timeframe, start, req.end_ns)
        if req.series:
            rows = None
        else:  # the latest bar of each symbol
            ends = np.flatnonzero(np.r_[frame.symbols[1:] != frame.symbols[:-1], True])
            rows = ends
        keep, pred = registry.predict_frame(row, served.predictor, frame, rows)
        from nautilus.ml.samples import sample_of

        reply = PredictReply(name=row["name"], version=row["version"], predictions=pred,
                             symbols=[str(s) for s in frame.symbols[keep]], ts=frame.ts[keep],
                             feature_names=list(row["feature_names"]),
                             sample=sample_of(frame.symbols[keep], frame.ts[keep], row["symbols"], int(row["first_ts"]),
                                              int(row["last_ts"])))
        if not req.series:  # latest-bar predictions are signals: stream them to subscribers
            self.bus.publish(f"ml.predictions.{row['name']}", {
                "version": row["version"], "symbols": reply.symbols, "ts": reply.ts.tolist(),
                "predictions": np.asarray(pred).tolist()})
        return reply


OOS_FILE = "oos_predictions.npz"  # the walk-forward test predictions the headline metrics come from


def _sample_metrics(result: Any, frame: Any, folder: Any) -> dict[str, Any]:
    """The registry's metrics, each group labelled with its sample (see :mod:`nautilus.ml.samples`); writes
    the out-of-sample predictions (symbol, ts, truth, prediction) beside the model for anyone to re-check."""
    from nautilus.ml import samples
    from nautilus.ml.training.metrics import score
    from nautilus.ml.training.prediction import predict_rows
    from nautilus.ml.training.trainer import usable_rows

    y = frame.y[:, frame.target_index(result.target)]
    rows = np.asarray(result.oos_rows, dtype=np.int64)
    pred = np.asarray(result.oos_pred, dtype=np.float64)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / OOS_FILE, symbols=frame.symbols[rows].astype(str), ts=frame.ts[rows], y=y[rows], pred=pred)
    x = frame.X[:, [frame.feature_names.index(n) for n in result.feature_names]]
    fitted = usable_rows(frame, result.target, result.spec)
    in_pred = np.asarray(predict_rows(result.model, np.ascontiguousarray(x), fitted), dtype=np.float64)
    in_sample = {"pooled": score(result.spec.objective, y[fitted], in_pred)}
    if result.spec.objective == "binary":
        in_sample["hit_rate"] = samples.hit_rate(y[fitted], in_pred)
    return samples.labelled_metrics(result.spec.objective, result.summary, result.baseline, in_sample,
                                    y[rows], pred)


def _rows(rows: Any, served: Served) -> np.ndarray:
    try:
        x = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput("rows must be numbers", field="rows") from None
    want = (served.seq_len, served.n_features) if served.seq_len else (served.n_features,)
    if x.shape == want:
        x = x[None]
    if x.ndim != len(want) + 1 or x.shape[1:] != want or x.shape[0] == 0:
        shape = "n x " + " x ".join(map(str, want))
        raise InvalidInput(f"rows must have shape {shape} (features: {', '.join(served.row['feature_names'])}); "
                           f"got {list(x.shape)}", field="rows")
    return np.ascontiguousarray(x)


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    keep = ("name", "version", "stage", "task", "kind", "objective", "target", "timeframe", "symbols", "first_ts",
            "last_ts", "n_rows", "created_at", "promoted_at", "metrics", "feature_names")
    return plain({k: row[k] for k in keep})
