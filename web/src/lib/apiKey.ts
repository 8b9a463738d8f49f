/** The API key lives in the browser only (localStorage); sent as `X-API-Key`, never in a URL (/ws takes a ticket). */
const KEY = "nautilus.apiKey";
type Listener = (key: string) => void;
const listeners = new Set<Listener>();

export function getApiKey(): string {
  try {
    return localStorage.getItem(KEY) ?? "";
  } catch {
    return "";
  }
}

export function setApiKey(key: string): void {
  const k = key.trim();
  try {
    if (k) localStorage.setItem(KEY, k);
    else localStorage.removeItem(KEY);
  } catch {
    /* storage disabled: the key lasts for this page only */
  }
  listeners.forEach((l) => l(k));
}

export function onApiKeyChange(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}
