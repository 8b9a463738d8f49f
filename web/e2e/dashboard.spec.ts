/**
 * End-to-end against a real stack (engines + gateway + `python -m nautilus.web`), in Debian's Chromium.
 * Started by `scripts/web.sh e2e`, which sets E2E_BASE_URL (the dashboard). The gateway's address is read
 * from the dashboard's own /config.json. Screenshots of every page and timings go to web/test-results/.
 */
import { expect, test, type Page } from "@playwright/test";
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";

const OUT = "test-results";
const SHOTS = `${OUT}/screens`;
mkdirSync(SHOTS, { recursive: true });
const METRICS = `${OUT}/metrics.json`;

function record(key: string, value: unknown): void {
  const cur = existsSync(METRICS) ? JSON.parse(readFileSync(METRICS, "utf8")) : {};
  cur[key] = value;
  writeFileSync(METRICS, JSON.stringify(cur, null, 2));
  console.log(`[metric] ${key} = ${JSON.stringify(value)}`);
}

let apiBase = "";
test.describe.configure({ mode: "serial" });

test.beforeAll(async ({ request, baseURL }) => {
  const cfg = await (await request.get(`${baseURL}/config.json`)).json();
  apiBase = cfg.apiBase;
  writeFileSync(METRICS, "{}");
});

async function waitLive(page: Page, channel: string) {
  await page.waitForFunction((ch) => !!window.__live && window.__live.status === "open" && window.__live.subscribed.includes(ch),
    channel, { timeout: 15_000 });
}

test("first page is interactive fast", async ({ page }) => {
  const t0 = Date.now();
  await page.goto("/");
  await expect(page.getByTestId("engines-table")).toBeVisible();
  const wall = Date.now() - t0;
  const nav = await page.evaluate(() => {
    const n = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
    return { now: Math.round(performance.now()), domInteractive: Math.round(n.domInteractive), domContentLoaded: Math.round(n.domContentLoadedEventEnd), load: Math.round(n.loadEventEnd) };
  });
  // "interactive": the engine table (first data on screen) rendered and the nav responds to a click.
  const tc = Date.now();
  await page.getByRole("link", { name: "Settings" }).click();
  await expect(page.getByRole("heading", { name: "Settings" })).toBeVisible();
  record("first_page", { engines_table_ms_since_navigation: nav.now, wall_ms: wall, ...nav, nav_click_ms: Date.now() - tc });
  expect(nav.now).toBeLessThan(3000);
});

const PAGES: [string, string][] = [
  ["/", "Overview"], ["/market", "Market"], ["/strategy", "Strategy"], ["/risk", "Risk"], ["/ml", "ML"],
  ["/portfolio", "Portfolio"], ["/settings", "Settings"],
];

test("every page loads (screenshots)", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  for (const [path, title] of PAGES) {
    await page.goto(path);
    await expect(page.getByRole("heading", { level: 1, name: title })).toBeVisible();
    await expect(page.getByRole("status").filter({ hasText: "Loading" })).toHaveCount(0, { timeout: 20_000 });
    if (path === "/market") await expect(page.getByTestId("price-chart")).toBeVisible();
    if (path === "/risk") {
      await page.getByTestId("run-risk").click();
      await expect(page.getByTestId("var-table")).toBeVisible();
      await expect(page.getByTestId("pnl-hist")).toBeVisible({ timeout: 30_000 });
      await expect(page.getByTestId("stress-table")).toBeVisible({ timeout: 30_000 });
    }
    await page.waitForTimeout(300);
    await page.screenshot({ path: `${SHOTS}/${title.toLowerCase()}.png`, fullPage: true });
  }
  expect(errors).toEqual([]);
});

test("ingest: a bad CSV shows the server's validation error, a good one lands", async ({ page }) => {
  await page.goto("/market");
  await page.getByLabel("Ingest symbol").fill("E2ECSV");
  await page.getByLabel("CSV file").setInputFiles({ name: "bad.csv", mimeType: "text/csv", buffer: Buffer.from("foo,bar\n1,2\n") });
  await page.getByRole("button", { name: "Ingest" }).click();
  await expect(page.getByTestId("ingest-error")).toBeVisible();
  // 60 daily rows (enough history for the scanner's indicators later on)
  const rows = Array.from({ length: 60 }, (_, i) => {
    const d = new Date(Date.UTC(2024, 0, 1) + i * 86_400_000).toISOString().slice(0, 10);
    const c = 100 + 5 * Math.sin(i / 4);
    return `${d},${c - 0.5},${c + 1},${c - 1},${c},${1000 + i}`;
  });
  const good = ["date,open,high,low,close,volume", ...rows].join("\n") + "\n";
  await page.getByLabel("CSV file").setInputFiles({ name: "good.csv", mimeType: "text/csv", buffer: Buffer.from(good) });
  await page.getByRole("button", { name: "Ingest" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Ingested 60 rows" })).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/market-ingest.png` });
});

test("run a backtest", async ({ page }) => {
  await page.goto("/strategy");
  await page.getByLabel("param fast").fill("10");
  await page.getByLabel("param slow").fill("50");
  await page.getByTestId("run-backtest").click();
  await expect(page.getByTestId("backtest-stats")).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId("backtest-stats")).toContainText("sharpe");
  await expect(page.getByTestId("trades-table").locator("tbody tr").first()).toBeVisible();
  await expect(page.getByTestId("equity-chart")).toBeVisible();
  await page.getByRole("button", { name: "Run sweep" }).click();
  await expect(page.getByTestId("sweep-heatmap")).toBeVisible({ timeout: 30_000 });
  await page.getByRole("button", { name: /^Scan \d+ symbols/ }).click();
  await expect(page.getByTestId("scan-table").locator("tbody tr").first()).toBeVisible({ timeout: 30_000 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${SHOTS}/strategy-backtest.png`, fullPage: true });
});

test("train a model with live progress, then research a factor", async ({ page }) => {
  await page.goto("/ml");
  await page.getByLabel("Train symbols").fill("AAPL,MSFT");
  await page.getByRole("button", { name: "Train" }).click();
  await expect(page.getByTestId("job-progress")).toContainText("done", { timeout: 60_000 });
  await expect(page.getByTestId("models-table")).toContainText("direction");
  await page.getByRole("button", { name: "Research" }).click();
  await expect(page.getByTestId("ic-chart")).toBeVisible({ timeout: 30_000 });
  await page.waitForTimeout(500);
  await page.screenshot({ path: `${SHOTS}/ml-trained.png`, fullPage: true });
});

test("submit and cancel a paper order", async ({ page }) => {
  await page.goto("/portfolio");
  await page.getByLabel("Order type").selectOption("limit");
  await page.getByLabel("Quantity").fill("3");
  await page.getByLabel("Limit price").fill("1"); // far below the market: stays working
  await page.getByTestId("submit-order").click();
  const status = page.getByRole("status").filter({ hasText: /^Order #\d+/ });
  await expect(status).toBeVisible();
  const id = Number((await status.textContent())!.match(/#(\d+)/)![1]);
  await expect(page.getByTestId(`order-status-${id}`)).toHaveText("open");
  await page.getByTestId(`cancel-${id}`).click();
  await expect(page.getByTestId(`order-status-${id}`)).toHaveText(/cancel/);
  await page.screenshot({ path: `${SHOTS}/portfolio-cancelled.png`, fullPage: true });
});

test("a live update arrives over the WebSocket (no reload)", async ({ page, request }) => {
  await page.goto("/portfolio");
  await expect(page.getByRole("heading", { level: 1, name: "Portfolio" })).toBeVisible();
  await waitLive(page, "orders");
  const before = await page.evaluate(() => window.__live!.received);
  // Submitted by another client (the API directly): only the WebSocket can tell this page about it.
  const t0 = Date.now();
  const res = await request.post(`${apiBase}/api/v1/portfolio/orders`, {
    // a buy limit far below the market: it rests (within the default limits: 7 x 1 of 100,000 equity)
    data: { symbol: "MSFT", side: "buy", quantity: 7, type: "limit", limit_price: 1, client_order_id: `e2e-${Date.now()}` },
  });
  expect(res.status()).toBe(201);
  const id = (await res.json()).order.id;
  await expect(page.getByTestId(`order-status-${id}`)).toHaveText("open");
  record("ws_order_update_ms", Date.now() - t0);
  expect(await page.evaluate(() => window.__live!.received)).toBeGreaterThan(before);
  await request.delete(`${apiBase}/api/v1/portfolio/orders/${id}`);
  await expect(page.getByTestId(`order-status-${id}`)).toHaveText(/cancel/); // the cancel arrives live too
});

test("100,000-bar chart renders and pans smoothly", async ({ page, request }) => {
  const gen = await request.post(`${apiBase}/api/v1/marketdata/generate`, {
    data: { symbol: "E2EBIG", timeframe: "1m", n: 100_000, start: "2024-01-01", seed: 3 },
  });
  expect(gen.status()).toBeLessThan(300);
  await page.goto("/market");
  await page.getByLabel("Search symbol").fill("E2EBIG");
  await page.getByLabel("Search symbol").press("Enter");
  // markers/overlays off: measure the chart itself
  const checked = page.locator("input[type=checkbox]:checked");
  while (await checked.count()) await checked.first().uncheck();
  const t0 = Date.now();
  await page.getByLabel("Timeframe", { exact: true }).selectOption("1m");
  await expect(page.getByTestId("bars-info")).toContainText("100,000 bars", { timeout: 30_000 });
  await page.waitForFunction(() => window.__chartStats?.total === 100_000);
  const renderMs = Date.now() - t0;
  const chart = page.getByTestId("price-chart");
  const box = (await chart.boundingBox())!;
  await page.evaluate(() => {
    const w = window as unknown as { __frames: number[]; __stop: boolean };
    w.__frames = [];
    w.__stop = false;
    let last = performance.now();
    const tick = (t: number) => { w.__frames.push(t - last); last = t; if (!w.__stop) requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  });
  const y = box.y + box.height / 2;
  const tp = Date.now();
  for (let k = 0; k < 12; k++) { // drag right = pan back in time, far past several data windows
    await page.mouse.move(box.x + 100, y);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width - 60, y, { steps: 12 });
    await page.mouse.up();
  }
  await chart.focus();
  for (let k = 0; k < 20; k++) await page.keyboard.press("ArrowLeft");
  const panMs = Date.now() - tp;
  const stats = await page.evaluate(() => {
    const w = window as unknown as { __frames: number[]; __stop: boolean };
    w.__stop = true;
    const f = w.__frames.slice(1).sort((a, b) => a - b);
    const q = (p: number) => f[Math.min(f.length - 1, Math.floor(p * f.length))];
    return { frames: f.length, p50_ms: Math.round(q(0.5) * 10) / 10, p95_ms: Math.round(q(0.95) * 10) / 10, max_ms: Math.round(f[f.length - 1]), chart: window.__chartStats };
  });
  record("chart_100k", { render_ms: renderMs, pan_ms: panMs, ...stats });
  expect(stats.chart!.held).toBeLessThan(100_000); // only a window is held
  expect(stats.chart!.reslices).toBeGreaterThan(0);
  await page.screenshot({ path: `${SHOTS}/market-100k.png` });
});

test("an engine killed shows the banner, then recovers", async ({ page, request }) => {
  await page.goto("/risk");
  await expect(page.getByRole("heading", { level: 1, name: "Risk" })).toBeVisible();
  const health = await (await request.get(`${apiBase}/api/v1/system/health`)).json();
  const pid = health.engines.risk.pid as number;
  expect(pid).toBeGreaterThan(0);
  const t0 = Date.now();
  process.kill(pid, "SIGKILL");
  const banner = page.getByTestId("health-banner");
  // polls on every animation frame: the in-process fallback window can be short
  await page.waitForFunction(() => document.querySelector("[data-testid=health-banner]")?.textContent?.includes("risk"),
    undefined, { timeout: 20_000, polling: "raf" });
  record("banner_after_kill_ms", Date.now() - t0);
  await page.screenshot({ path: `${SHOTS}/risk-engine-down.png` });
  await expect(banner).toBeHidden({ timeout: 40_000 }); // the supervisor restarts it
  record("banner_cleared_after_kill_ms", Date.now() - t0);
});
