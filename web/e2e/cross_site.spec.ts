/**
 * Cross-site attacks from a page on another origin (issue 18): a tiny server on another port serves a page
 * that tries a text/plain paper order, a new account, a multipart ingest and reading /ws, as any web page the
 * user visits could. The gateway must refuse each (Origin / body type checks) and nothing may change,
 * verified through the API afterwards.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect, test } from "@playwright/test";

let apiBase = "";
let server: Server;
let evilOrigin = "";

const PAGE = (api: string, ws: string) => `<!doctype html><html><body><script>
window.results = {};
(async () => {
  const r = window.results;
  const order = JSON.stringify({ account: "main", symbol: "AAPL", side: "buy", quantity: 7, type: "market" });
  try { await fetch("${api}/api/v1/portfolio/orders", { method: "POST", mode: "no-cors",
    headers: { "Content-Type": "text/plain" }, body: order }); r.order = "sent"; } catch (e) { r.order = "error"; }
  try { await fetch("${api}/api/v1/portfolio/accounts", { method: "POST", mode: "no-cors",
    headers: { "Content-Type": "text/plain" }, body: JSON.stringify({ name: "xsite", cash: 1e6 }) });
    r.account = "sent"; } catch (e) { r.account = "error"; }
  const form = new FormData();
  form.append("file", new Blob(["ts,open,high,low,close,volume\\n2024-01-02,1,2,0.5,1.5,100\\n"], { type: "text/csv" }), "x.csv");
  form.append("symbol", "XSITE");
  try { await fetch("${api}/api/v1/marketdata/ingest", { method: "POST", mode: "no-cors", body: form });
    r.ingest = "sent"; } catch (e) { r.ingest = "error"; }
  r.ws = await new Promise((resolve) => {
    const s = new WebSocket("${ws}");
    s.onopen = () => { s.send(JSON.stringify({ op: "subscribe", channels: ["*"] })); };
    s.onmessage = (m) => resolve("read: " + String(m.data).slice(0, 80));
    s.onclose = (e) => resolve("closed " + e.code);
    setTimeout(() => resolve("timeout"), 5000);
  });
  r.done = true;
})();
</script></body></html>`;

test.beforeAll(async ({ request, baseURL }) => {
  const config = await (await request.get(`${baseURL}/config.json`)).json();
  apiBase = config.apiBase;
  const wsUrl = config.wsUrl ?? apiBase.replace(/^http/, "ws") + "/ws";
  server = createServer((_, res) => {
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end(PAGE(apiBase, wsUrl));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  evilOrigin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

test.afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

test("a page from another origin cannot order, create accounts, ingest or read /ws", async ({ page, request }) => {
  const ordersBefore = await (await request.get(`${apiBase}/api/v1/portfolio/orders?limit=1000`)).json();
  await page.goto(evilOrigin);
  await page.waitForFunction(() => (window as unknown as { results: { done?: boolean } }).results?.done === true,
    undefined, { timeout: 30_000 });
  const results = await page.evaluate(() => (window as unknown as { results: Record<string, string> }).results);
  expect(results.ws).not.toMatch(/^read/); // the handshake is refused (Origin), no frame is ever read
  // the gateway answers the same requests with the refusals (seen from outside the browser)
  const headers = { Origin: evilOrigin, "Content-Type": "text/plain" };
  const order = await request.post(`${apiBase}/api/v1/portfolio/orders`, { headers, data: "{}" });
  expect(order.status()).toBe(403);
  const plain = await request.post(`${apiBase}/api/v1/portfolio/orders`, { headers: { "Content-Type": "text/plain" }, data: "{}" });
  expect(plain.status()).toBe(415);
  // nothing changed
  const ordersAfter = await (await request.get(`${apiBase}/api/v1/portfolio/orders?limit=1000`)).json();
  expect(JSON.stringify(ordersAfter)).toBe(JSON.stringify(ordersBefore));
  const accounts = await (await request.get(`${apiBase}/api/v1/portfolio/accounts`)).json();
  expect(JSON.stringify(accounts)).not.toContain("xsite");
  const instruments = await (await request.get(`${apiBase}/api/v1/marketdata/instruments`)).json();
  expect(JSON.stringify(instruments)).not.toContain("XSITE");
});
