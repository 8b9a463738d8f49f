/** Parsing of form input (pure). */

/** "AAPL=100000, MSFT=50000" → {AAPL: 100000, MSFT: 50000}; throws naming the bad entry. */
export function parsePortfolio(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of text.split(/[,\n]/).map((s) => s.trim()).filter(Boolean)) {
    const m = part.match(/^([A-Za-z0-9._-]+)\s*[=:]\s*(-?[\d.eE+]+)$/);
    if (!m || !Number.isFinite(Number(m[2]))) throw new Error(`bad position '${part}' (use SYMBOL=AMOUNT)`);
    out[m[1].toUpperCase()] = Number(m[2]);
  }
  if (!Object.keys(out).length) throw new Error("portfolio is empty");
  return out;
}
