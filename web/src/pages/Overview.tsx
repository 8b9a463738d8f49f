import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Card, Empty, ErrorBox, Loading, QueryView } from "../components/States";
import { DataTable } from "../components/DataTable";
import { get, V1 } from "../lib/api";
import { fmtUptime, fmtUs, type EngineHealth } from "../lib/health";
import { useLive } from "../lib/live";
import { useHealth } from "../lib/queries";
import { fmtTs } from "../lib/shape";
import type { WsMessage } from "../lib/ws";

interface Job { id: string; name: string; status: string; progress: number; message: string; created: number }
interface Decision { [k: string]: unknown }

export default function Overview() {
  const health = useHealth();
  const jobs = useQuery({ queryKey: ["ml-jobs"], queryFn: () => get<{ items: Job[] }>(`${V1}/ml/jobs`).then((r) => r.items), refetchInterval: 10_000 });
  const decisions = useQuery({
    queryKey: ["decisions"], queryFn: () => get<{ items: Decision[] }>(`${V1}/risk/decisions`, { limit: 20 }).then((r) => r.items),
  });
  const [events, setEvents] = useState<WsMessage[]>([]);
  const push = (m: WsMessage) => setEvents((ev) => [m, ...ev].slice(0, 50));
  useLive("risk.alerts", push);
  useLive("jobs.*", push);

  const engines = Object.entries(health.data?.engines ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return (
    <div>
      <h1>Overview</h1>
      <Card title="Engines" actions={health.data && <span className="muted small">
        backend: <strong data-testid="backend">{health.data.backend?.name ?? "?"}</strong> {health.data.backend?.device ?? ""}
        {" · "}v{health.data.version}</span>}>
        {health.isLoading ? <Loading /> : health.isError && !health.data ? <ErrorBox error={health.error} title="Gateway unreachable" /> :
          !engines.length ? <Empty>No engines reported.</Empty> :
          <DataTable<[string, EngineHealth]> testId="engines-table" rows={engines} rowKey={([n]) => n} columns={[
            { key: "name", label: "Engine", render: ([n]) => n },
            { key: "status", label: "Status", render: ([, e]) => <span className={`pill ${e.status}`} data-engine-status={e.status}>{e.status}</span> },
            { key: "path", label: "Transport", render: ([, e]) => e.path === "inproc" ? "in-process (fallback)" : e.path && e.path !== "unix" ? `${e.path} (fallback)` : e.path ?? "—" },
            { key: "fallbacks", label: "Fallbacks", num: true, render: ([, e]) => String(e.fallbacks ?? 0) },
            { key: "restarts", label: "Restarts", num: true, render: ([, e]) => e.restarts == null ? "—" : String(e.restarts) },
            { key: "pid", label: "PID", num: true, render: ([, e]) => String(e.pid ?? "—") },
            { key: "uptime", label: "Uptime", num: true, render: ([, e]) => fmtUptime(e.uptime_s) },
            { key: "p50", label: "p50", num: true, render: ([, e]) => fmtUs(e.server_p50_us) },
            { key: "p99", label: "p99", num: true, render: ([, e]) => fmtUs(e.server_p99_us) },
          ]} />}
      </Card>
      <div className="grid">
        <Card title="Recent jobs">
          <QueryView q={jobs} isEmpty={(d) => !d.length} empty="No training jobs yet (ML page → Train).">
            {(d) => <DataTable rows={d.slice(0, 10)} rowKey={(j) => j.id} columns={[
              { key: "id", label: "Job" }, { key: "name", label: "Model" },
              { key: "status", label: "Status", render: (j) => <span className={`pill ${j.status}`}>{j.status}</span> },
              { key: "progress", label: "Progress", num: true, render: (j) => `${Math.round(j.progress * 100)}%` },
              { key: "created", label: "Created", render: (j) => fmtTs(j.created * 1000) },
            ]} />}
          </QueryView>
        </Card>
        <Card title="Alerts & recent risk decisions">
          <QueryView q={decisions} isEmpty={(d) => !d.length} empty="No pre-trade decisions recorded yet.">
            {(d) => <DataTable rows={d.slice(0, 10)} columns={[
              { key: "ts", label: "When", render: (r) => String(r.created_at ?? r.ts ?? "—").slice(0, 19) },
              { key: "account", label: "Account" },
              { key: "instrument", label: "Symbol", render: (r) => String(r.instrument ?? r.symbol ?? "—") },
              { key: "accepted", label: "Decision", render: (r) => r.accepted ? <span className="pill up">accepted</span> : <span className="pill down">rejected</span> },
            ]} />}
          </QueryView>
        </Card>
      </div>
      <Card title="Live events (risk alerts, jobs)">
        {!events.length ? <Empty>Waiting for live events…</Empty> :
          <DataTable rows={events} columns={[
            { key: "channel", label: "Channel" }, { key: "seq", label: "Seq", num: true },
            { key: "data", label: "Data", render: (m) => <code className="small">{JSON.stringify(m.data).slice(0, 140)}</code> },
          ]} />}
      </Card>
    </div>
  );
}
