import { useMemo, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { EChart } from "../components/EChart";
import { DataTable } from "../components/DataTable";
import { HealthBanner } from "../components/HealthBanner";
import { Card, Empty, ErrorBox, Loading, QueryView } from "../components/States";
import { get, post, V1 } from "../lib/api";
import type { ColumnarBars } from "../lib/bars";
import { PAGE_ENGINES } from "../lib/health";
import { useLive } from "../lib/live";
import { useInstruments } from "../lib/queries";
import { hitRateOf, SAMPLE_LABEL, splitBySample } from "../lib/samples";
import { fmtNum, fmtPct, fmtTs, predVsRealised } from "../lib/shape";

interface Task { name: string; description: string; objective: string; model: { kind: string } }
interface Metrics { [k: string]: number | string | undefined }
interface Fold { fold: number; test_start: number; test_end: number; n_test?: number; sample?: string; metrics: Metrics }
// Every metric group names its sample; the headline is out-of-sample (walk-forward test rows) only.
interface ModelMetrics {
  headline?: Metrics;
  out_of_sample?: { sample: string; mean?: Metrics; pooled?: Metrics };
  in_sample?: { sample: string; pooled?: Metrics; hit_rate?: number };
  baseline?: { sample?: string; mean?: Metrics; pooled?: Metrics };
}
interface ModelRow { name: string; version: number; timeframe?: string; stage: string; task: string; kind: string; objective: string; symbols: string[]; created_at: string; metrics: ModelMetrics }
interface ModelDetail extends ModelRow { folds: Fold[]; feature_names: string[]; feature_importance?: Record<string, number> | number[]; importance?: Record<string, number> | number[] }
interface Job { id: string; status: string; progress: number; message: string; name: string; model?: ModelRow | null; error?: { message?: string } | null }
interface Research {
  factor: string; horizons: number[]; t: number[];
  ic: { horizon: number; mean: number; ir: number; t_stat: number; hit_rate: number; rolling_mean: (number | null)[] }[];
  ic_decay: { horizon: number; mean: number }[];
  quantiles: { horizon: number; mean_returns: number[]; spread_mean: number }[];
}

export default function ML() {
  const models = useQuery({ queryKey: ["models"], queryFn: () => get<{ items: ModelRow[] }>(`${V1}/ml/models`).then((r) => r.items) });
  const [selected, setSelected] = useState<string | null>(null);
  const name = selected ?? models.data?.[0]?.name ?? null;
  return (
    <div>
      <h1>ML</h1>
      <HealthBanner engines={PAGE_ENGINES.ml} />
      <div className="grid">
        <Card title="Model registry">
          <QueryView q={models} isEmpty={(d) => !d.length} empty="No models yet: train one.">
            {(d) => <DataTable testId="models-table" rows={d} rowKey={(m) => `${m.name}.${m.version}`} columns={[
              { key: "name", label: "Name", render: (m) => <button type="button" onClick={() => setSelected(m.name)} aria-pressed={m.name === name}>{m.name}</button> },
              { key: "version", label: "v", num: true }, { key: "stage", label: "Stage", render: (m) => <span className="pill">{m.stage}</span> },
              { key: "kind", label: "Kind" }, { key: "task", label: "Task" },
              { key: "acc", label: "Accuracy (out-of-sample)", num: true, render: (m) => fmtNum(m.metrics?.headline?.accuracy, 3) },
              { key: "auc", label: "AUC / RMSE (out-of-sample)", num: true, render: (m) => fmtNum(m.metrics?.headline?.auc ?? m.metrics?.headline?.rmse, 3) },
              { key: "base", label: "Baseline (out-of-sample)", num: true, render: (m) => fmtNum(m.metrics?.baseline?.pooled?.accuracy ?? m.metrics?.baseline?.pooled?.rmse, 3) },
            ]} />}
          </QueryView>
        </Card>
        <TrainCard />
      </div>
      {name && <ModelView name={name} />}
      <FactorCard />
    </div>
  );
}

function TrainCard() {
  const qc = useQueryClient();
  const tasks = useQuery({ queryKey: ["tasks"], queryFn: () => get<{ items: Task[] }>(`${V1}/ml/tasks`).then((r) => r.items) });
  const [task, setTask] = useState("direction");
  const [kind, setKind] = useState("lightgbm");
  const [symbols, setSymbols] = useState("AAPL,MSFT");
  const [job, setJob] = useState<Job | null>(null);
  const train = useMutation({
    mutationFn: () => post<Job>(`${V1}/ml/train`, { task, symbols: symbols.split(",").map((s) => s.trim().toUpperCase()).filter(Boolean), model: { kind }, n_folds: 3 }),
    onSuccess: (j) => setJob(j),
  });
  const done = job && ["done", "failed", "cancelled"].includes(job.status);
  // Live progress over the WebSocket; polling as a fallback while the job runs.
  useLive(job && !done ? `jobs.${job.id}` : null, (m) => {
    const j = m.data as Job;
    setJob(j);
    if (j.status === "done") qc.invalidateQueries({ queryKey: ["models"] });
  });
  useQuery({
    queryKey: ["job", job?.id], enabled: !!job && !done, refetchInterval: 1500,
    queryFn: async () => {
      const j = await get<Job>(`${V1}/ml/jobs/${job!.id}`);
      setJob((cur) => (cur && cur.progress > j.progress && cur.status === j.status ? cur : j));
      if (j.status === "done") qc.invalidateQueries({ queryKey: ["models"] });
      return j;
    },
  });
  return (
    <Card title="Train a model">
      {tasks.isError && <ErrorBox error={tasks.error} />}
      <form className="row" onSubmit={(e) => { e.preventDefault(); train.mutate(); }} aria-label="Train">
        <label>Task<select value={task} onChange={(e) => setTask(e.target.value)} aria-label="Task">
          {(tasks.data ?? [{ name: "direction" } as Task]).map((t) => <option key={t.name}>{t.name}</option>)}
        </select></label>
        <label>Model<select value={kind} onChange={(e) => setKind(e.target.value)} aria-label="Model kind">
          {["lightgbm", "mlp", "lstm", "tcn"].map((k) => <option key={k}>{k}</option>)}
        </select></label>
        <label>Symbols<input value={symbols} onChange={(e) => setSymbols(e.target.value)} size={16} aria-label="Train symbols" /></label>
        <button className="primary" type="submit" disabled={train.isPending || (!!job && !done)}>Train</button>
      </form>
      {tasks.data && <p className="muted small">{tasks.data.find((t) => t.name === task)?.description}</p>}
      {train.isError && <ErrorBox error={train.error} title="Training not started" />}
      {job ? (
        <div data-testid="job-progress">
          <div className="small">Job {job.id}: <span className={`pill ${job.status}`}>{job.status}</span> {job.message}</div>
          <progress max={1} value={job.progress} style={{ width: "100%" }} aria-label="Training progress" />
          {job.error && <div className="field-error">{job.error.message}</div>}
        </div>
      ) : <Empty>Progress appears here live while a model trains.</Empty>}
    </Card>
  );
}

function ModelView({ name }: { name: string }) {
  const model = useQuery({ queryKey: ["model", name], queryFn: () => get<{ model: ModelDetail }>(`${V1}/ml/models/${encodeURIComponent(name)}`).then((r) => r.model) });
  const sym = model.data?.symbols?.[0];
  const pred = useQuery({
    queryKey: ["predict", name, model.data?.version, sym], enabled: !!sym && model.data?.objective === "binary",
    queryFn: async () => {
      const [p, bars] = await Promise.all([
        post<{ predictions: number[]; ts: number[]; sample?: string[] }>(`${V1}/ml/predict`, { name, symbols: [sym], series: true }),
        get<ColumnarBars>(`${V1}/marketdata/bars`, { symbol: sym!, timeframe: model.data!.timeframe ?? "1d" }),
      ]);
      return { ...predVsRealised(p.ts, p.predictions, bars.t, bars.close), sample: p.sample };
    },
  });
  const m = model.data;
  const foldOpt = useMemo(() => {
    if (!m?.folds?.length) return null;
    const keys = Object.keys(m.folds[0].metrics).filter((k) => k !== "n" && typeof m.folds[0].metrics[k] === "number");
    return { legend: { top: 0, textStyle: { color: "#c9d1d9" } }, xAxis: { type: "category", data: m.folds.map((f) => `fold ${f.fold}`) }, yAxis: { type: "value" },
      series: keys.map((k) => ({ type: "bar", name: k, data: m.folds.map((f) => f.metrics[k]) })) };
  }, [m]);
  const imp = m?.feature_importance ?? m?.importance;
  const impOpt = useMemo(() => {
    if (!imp || !m) return null;
    const entries = Array.isArray(imp) ? m.feature_names.map((f, i) => [f, imp[i]] as const) : Object.entries(imp);
    const sorted = [...entries].sort((a, b) => Number(a[1]) - Number(b[1]));
    return { grid: { left: 140, right: 20, top: 10, bottom: 30 }, xAxis: { type: "value" }, yAxis: { type: "category", data: sorted.map((e) => e[0]) },
      series: [{ type: "bar", data: sorted.map((e) => e[1]) }] };
  }, [imp, m]);
  const predOpt = useMemo(() => pred.data && {
    xAxis: { type: "category", data: pred.data.rows.map((r) => fmtTs(r.t)) }, yAxis: { type: "value", min: 0, max: 1 },
    legend: { top: 0, textStyle: { color: "#c9d1d9" } }, dataZoom: [{ type: "inside" }],
    series: [
      { type: "line", name: `P(up) ${SAMPLE_LABEL.in_sample}`, data: splitBySample(pred.data.rows, pred.data.sample, "in_sample"), showSymbol: false },
      { type: "line", name: `P(up) ${SAMPLE_LABEL.out_of_sample}`, data: splitBySample(pred.data.rows, pred.data.sample, "out_of_sample"), showSymbol: false },
      { type: "scatter", name: "realised (1 = up)", data: pred.data.rows.map((r) => r.realised), symbolSize: 3, color: "#8b949e" },
    ],
  }, [pred.data]);
  if (model.isLoading) return <Loading />;
  if (model.isError) return <ErrorBox error={model.error} />;
  if (!m) return null;
  return (
    <div className="grid">
      <Card title={`${m.name} v${m.version} — out-of-sample fold metrics (walk-forward test windows)`}>
        <Headline m={m} />
        <p className="muted small">{m.kind} · {m.objective} · symbols {m.symbols.join(", ")} · {m.feature_names.length} features</p>
        {foldOpt ? <EChart option={foldOpt} height={240} label="Out-of-sample fold metrics" /> : <Empty>No folds.</Empty>}
        <DataTable rows={m.folds} rowKey={(f) => f.fold} columns={[
          { key: "fold", label: "Fold", num: true }, { key: "test", label: "Test window", render: (f) => `${fmtTs(f.test_start)} → ${fmtTs(f.test_end)}` },
          ...Object.keys(m.folds[0]?.metrics ?? {}).map((k) => ({ key: k, label: k, num: true, render: (f: Fold) => fmtNum(f.metrics[k], 3) })),
        ]} />
      </Card>
      <Card title="Feature importance">
        {impOpt ? <EChart option={impOpt} height={300} label="Feature importance" /> :
          <Empty>The registry does not expose importances for this model; features: {m.feature_names.join(", ")}</Empty>}
      </Card>
      <Card title={`Predictions vs realised (${sym ?? "—"})`}>
        {m.objective !== "binary" ? <Empty>Shown for direction (binary) models.</Empty> : pred.isLoading ? <Loading /> : pred.isError ? <ErrorBox error={pred.error} /> :
          pred.data && <><p className="small" data-testid="pred-hit-rates">Hit rate (P ≥ 0.5 vs next bar up) of the current model's predictions,
            by sample: {SAMPLE_LABEL.in_sample} {fmtPct(hitRateOf(pred.data.rows, pred.data.sample, "in_sample").rate, 1)} ({hitRateOf(pred.data.rows, pred.data.sample, "in_sample").n});
            {" "}out-of-sample (bars after training) {fmtPct(hitRateOf(pred.data.rows, pred.data.sample, "out_of_sample").rate, 1)} ({hitRateOf(pred.data.rows, pred.data.sample, "out_of_sample").n}).
            The headline above is the walk-forward out-of-sample hit rate.</p>
            {predOpt && <EChart option={predOpt} height={260} label="Predictions vs realised" />}</>}
      </Card>
    </div>
  );
}

/** The model's headline: out-of-sample (walk-forward test rows) only; the in-sample figure is shown apart. */
export function Headline({ m }: { m: ModelRow }) {
  const h = m.metrics?.headline;
  if (!h) return <p className="muted small">No out-of-sample metrics recorded for this version.</p>;
  const main = h.hit_rate ?? h.accuracy;
  return (
    <p className="small" data-testid="model-headline">
      {h.hit_rate != null || h.accuracy != null
        ? <>Hit rate, {SAMPLE_LABEL.out_of_sample}: <strong>{fmtPct(main, 1)}</strong></>
        : <>RMSE, {SAMPLE_LABEL.out_of_sample}: <strong>{fmtNum(h.rmse, 4)}</strong></>}
      {" "}over {fmtNum(h.n, 0)} test rows
      {m.metrics?.in_sample?.hit_rate != null && <span className="muted"> · {SAMPLE_LABEL.in_sample}: {fmtPct(m.metrics.in_sample.hit_rate, 1)} (not a measure of skill)</span>}
    </p>
  );
}

function FactorCard() {
  const instruments = useInstruments();
  const factors = useQuery({ queryKey: ["factors"], queryFn: () => get<{ items: { name: string; doc?: string }[] }>(`${V1}/factors`).then((r) => r.items) });
  const [factor, setFactor] = useState("momentum");
  const research = useMutation({
    mutationFn: () => post<Research>(`${V1}/factors/research`, { symbols: (instruments.data ?? []).map((i) => i.symbol), factor, horizons: [1, 5, 20], quantiles: 3 }),
  });
  const r = research.data;
  const icOpt = r && { xAxis: { type: "category", data: r.ic_decay.map((d) => `h=${d.horizon}`) }, yAxis: { type: "value" },
    series: [{ type: "bar", name: "mean IC", data: r.ic_decay.map((d) => d.mean) }] };
  const rollOpt = r && { xAxis: { type: "category", data: r.t.map(fmtTs) }, yAxis: { type: "value" }, legend: { top: 0, textStyle: { color: "#c9d1d9" } },
    series: r.ic.map((ic) => ({ type: "line", name: `rolling IC h=${ic.horizon}`, data: ic.rolling_mean, showSymbol: false })) };
  const qOpt = r && { xAxis: { type: "category", data: r.quantiles[0]?.mean_returns.map((_, i) => `Q${i + 1}`) ?? [] }, yAxis: { type: "value" },
    legend: { top: 0, textStyle: { color: "#c9d1d9" } },
    series: r.quantiles.map((q) => ({ type: "bar", name: `h=${q.horizon}`, data: q.mean_returns })) };
  return (
    <Card title="Factor research">
      <form className="row" onSubmit={(e) => { e.preventDefault(); research.mutate(); }} aria-label="Factor research">
        <label>Factor<select value={factor} onChange={(e) => setFactor(e.target.value)} aria-label="Factor">
          {(factors.data ?? [{ name: "momentum" }]).map((f) => <option key={f.name}>{f.name}</option>)}
        </select></label>
        <span className="muted small">universe: {(instruments.data ?? []).map((i) => i.symbol).join(", ") || "—"}</span>
        <button type="submit" disabled={research.isPending || !instruments.data?.length}>{research.isPending ? "Computing…" : "Research"}</button>
      </form>
      {research.isError && <ErrorBox error={research.error} />}
      {!r ? !research.isPending && <Empty>Pick a factor to see its IC by horizon and quantile spreads.</Empty> : <>
        <p className="small">{r.factor}: {r.ic.map((ic) => `h=${ic.horizon} IC ${fmtNum(ic.mean, 3)} (t ${fmtNum(ic.t_stat, 2)})`).join(" · ")}
          {" · spreads "}{r.quantiles.map((q) => fmtPct(q.spread_mean, 3)).join(" / ")}</p>
        <div className="grid-3">
          <EChart option={icOpt!} height={220} label="IC by horizon" testId="ic-chart" />
          <EChart option={qOpt!} height={220} label="Quantile returns" />
          <EChart option={rollOpt!} height={220} label="Rolling IC" />
        </div>
      </>}
    </Card>
  );
}
