/**
 * End-to-end: the Market page's "Fetch data" panel against a real stack (started by `scripts/web.sh e2e`, its
 * Yahoo source pointed at a local server answering from tests/fixtures: AAPL around its 2020 split is there,
 * any other symbol is Yahoo's 404). A fetch of AAPL ends "ok" and the new series shows on the chart; an unknown
 * symbol ends "rejected" with an error naming yahoo, shown verbatim; both arrive over the WebSocket
 * (`marketdata.fetch.<id>`). A bad form never reaches the gateway.
 */
import { expect, test, type Page } from "@playwright/test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";

const SHOTS = "test-results/screens";
const METRICS = "test-results/metrics.json";
mkdirSync(SHOTS, { recursive: true });

function record(key: string, value: unknown): void {
  const cur = existsSync(METRICS) ? JSON.parse(readFileSync(METRICS, "utf8")) : {};
  cur[key] = value;
  writeFileSync(METRICS, JSON.stringify(cur, null, 2));
  console.log(`[metric] ${key} = ${JSON.stringify(value)}`);
}

interface Source { name: string; title: string; configured: boolean }

let apiBase = "";
test.describe.configure({ mode: "serial" });

test.beforeAll(async ({ request, baseURL }) => {
  apiBase = (await (await request.get(`${baseURL}/config.json`)).json()).apiBase;
});

/** Open /market with the fetch panel ready and the socket subscribed to every fetch channel. */
async function openPanel(page: Page) {
  await page.goto("/market");
  await expect(page.getByRole("heading", { level: 1, name: "Market" })).toBeVisible();
  await expect(page.getByLabel("Fetch source")).toBeVisible();
  await page.waitForFunction(() => !!window.__live && window.__live.status === "open"
    && window.__live.subscribed.includes("marketdata.fetch.*"), undefined, { timeout: 15_000 });
}

test("every source is listed; an unconfigured one says why", async ({ page, request }) => {
  const sources = (await (await request.get(`${apiBase}/api/v1/marketdata/sources`)).json()).sources as Source[];
  expect(sources.map((s) => s.name)).toEqual(expect.arrayContaining(["yahoo", "fred", "alphavantage", "ib", "ccxt"]));
  await openPanel(page);
  const labels = await page.getByLabel("Fetch source").locator("option").allTextContents();
  expect(labels).toHaveLength(sources.length);
  sources.forEach((s, i) => {
    if (s.configured) expect(labels[i]).toBe(s.title);
    else expect(labels[i]).toMatch(new RegExp(`^${s.title} — \\S`)); // e.g. "Alpha Vantage — needs NAUTILUS_…"
  });
});

async function submitFetch(page: Page, symbol: string, start: string, end: string): Promise<number> {
  await page.getByLabel("Fetch source").selectOption("yahoo");
  await page.getByLabel("Fetch symbol").fill(symbol);
  await page.getByLabel("Fetch timeframe").selectOption("1d");
  await page.getByLabel("Fetch start").fill(start);
  await page.getByLabel("Fetch end").fill(end);
  const posted = page.waitForResponse((r) => r.url().endsWith("/api/v1/marketdata/fetch") && r.request().method() === "POST");
  await page.getByLabel("Fetch symbol").press("Enter"); // Enter submits
  const res = await posted;
  expect(res.status()).toBe(202);
  const id = (await res.json()).id as number;
  await expect(page.getByTestId("fetch-job")).toContainText(`Fetch #${id}`);
  return id;
}

test("a Yahoo fetch of AAPL ends ok over the socket and the series shows on the chart", async ({ page, request }) => {
  await openPanel(page);
  const polls: string[] = [];
  page.on("request", (r) => { if (/\/marketdata\/fetch\/\d+$/.test(r.url())) polls.push(r.url()); });
  const t0 = Date.now();
  const id = await submitFetch(page, "AAPL", "2020-08-01", "2020-09-08");
  await expect(page.getByTestId("fetch-status")).toHaveText("ok", { timeout: 60_000 });
  record("fetch_ok_ms", Date.now() - t0);
  const job = await (await request.get(`${apiBase}/api/v1/marketdata/fetch/${id}`)).json();
  expect(job).toMatchObject({ status: "ok", rows: 25, symbol: "AAPL", error: null });
  await expect(page.getByTestId("fetch-job")).toContainText("25 rows");
  expect(await page.evaluate((ch) => window.__live!.tracker.lastSeq(ch) ?? null, `marketdata.fetch.${id}`)).not.toBeNull();
  expect(polls.length).toBeLessThanOrEqual(1); // the end came over the socket
  await page.getByRole("button", { name: "Show AAPL on the chart" }).click();
  await expect(page.getByTestId("symbol-select")).toHaveValue("AAPL");
  // the stack's sample data has a synthetic AAPL too: the fetched range replaced it there
  const bars = await (await request.get(`${apiBase}/api/v1/marketdata/bars?symbol=AAPL&timeframe=1d&start=2020-08-01&end=2020-09-08`)).json();
  expect(bars.count).toBe(25); // back-adjusted for the 4:1 split: the first close is 435.75 / 4 x (1 - 0.82/455.61)
  expect(bars.close[0]).toBeCloseTo((435.75 / 4) * (1 - 0.82 / 455.61), 6);
  await page.screenshot({ path: `${SHOTS}/market-fetch-ok.png`, fullPage: true });
});

test("an unknown symbol ends rejected, its error naming yahoo shown verbatim", async ({ page, request }) => {
  await openPanel(page);
  const id = await submitFetch(page, "NOSUCH", "2024-01-01", "2024-03-01");
  await expect(page.getByTestId("fetch-status")).toHaveText("rejected", { timeout: 60_000 });
  const job = await (await request.get(`${apiBase}/api/v1/marketdata/fetch/${id}`)).json();
  expect(job.status).toBe("rejected");
  expect(job.error).toMatch(/^yahoo: unknown symbol 'NOSUCH'/);
  await expect(page.getByTestId("fetch-error")).toHaveText(job.error); // verbatim
  await expect(page.getByTestId("fetch-error")).toHaveCSS("color", "rgb(239, 83, 80)"); // --down, red
  await expect(page.getByTestId("fetches-table").locator("tbody tr").first()).toContainText(job.error);
  await page.screenshot({ path: `${SHOTS}/market-fetch-rejected.png`, fullPage: true });
});

test("start after end shows the validation message next to End, and nothing is sent", async ({ page }) => {
  const posts: string[] = [];
  page.on("request", (r) => { if (r.method() === "POST" && r.url().includes("/marketdata/fetch")) posts.push(r.url()); });
  await openPanel(page);
  await page.getByLabel("Fetch symbol").fill("AAPL");
  await page.getByLabel("Fetch start").fill("2024-03-01");
  await page.getByLabel("Fetch end").fill("2024-01-01");
  await page.getByTestId("fetch-submit").click();
  await expect(page.getByTestId("fetch-error-end")).toHaveText("start must be before end (2024-03-01 ≥ 2024-01-01)");
  await expect(page.getByLabel("Fetch end")).toHaveAttribute("aria-invalid", "true");
  await page.getByLabel("Fetch symbol").fill("");
  await page.getByLabel("Fetch symbol").press("Enter");
  await expect(page.getByTestId("fetch-error-symbol")).toHaveText("symbol is required");
  expect(posts).toEqual([]);
  await expect(page.getByTestId("fetch-job")).toHaveCount(0);
});
