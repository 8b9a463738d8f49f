import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Card, ErrorBox } from "../components/States";
import { get, V1 } from "../lib/api";
import { getApiKey, setApiKey } from "../lib/apiKey";
import { getConfig } from "../lib/config";
import { live, useLiveStatus } from "../lib/live";

export default function Settings() {
  const [key, setKey] = useState(getApiKey());
  const [saved, setSaved] = useState(false);
  const ws = useLiveStatus();
  const cfg = getConfig();
  const probe = useQuery({ queryKey: ["probe", getApiKey()], queryFn: () => get(`${V1}/marketdata/instruments`), retry: 0 });
  return (
    <div>
      <h1>Settings</h1>
      <Card title="API key">
        <form className="row" onSubmit={(e) => { e.preventDefault(); setApiKey(key); setSaved(true); probe.refetch(); }}>
          <label>X-API-Key (stored in this browser only)
            <input type="password" value={key} onChange={(e) => { setKey(e.target.value); setSaved(false); }}
              autoComplete="off" size={40} aria-label="API key" />
          </label>
          <button className="primary" type="submit">Save</button>
          <button type="button" onClick={() => { setKey(""); setApiKey(""); setSaved(true); probe.refetch(); }}>Clear</button>
          {saved && <span className="muted small" role="status">saved</span>}
        </form>
        <p className="muted small">Auth is off unless keys exist on the server (`nautilus keys add NAME --role read`).</p>
      </Card>
      <Card title="Connection">
        <table><tbody>
          <tr><th scope="row">Gateway</th><td>{cfg.apiBase}</td></tr>
          <tr><th scope="row">WebSocket</th><td>{cfg.wsUrl}</td></tr>
          <tr><th scope="row">API</th><td data-testid="api-status">{probe.isLoading ? "checking…" : probe.isError ? "error" : "reachable, key accepted"}</td></tr>
          <tr><th scope="row">Live updates</th><td data-testid="ws-detail">{ws}{live.lastClose && ws !== "open" ? ` (last close: ${live.lastClose})` : ""}; {live.received} messages</td></tr>
        </tbody></table>
        {probe.isError && <ErrorBox error={probe.error} />}
      </Card>
    </div>
  );
}
