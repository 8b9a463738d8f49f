/** The app's one LiveSocket and React hooks over it. */
import { useEffect, useRef, useState } from "react";
import { api } from "./api";
import { getApiKey, onApiKeyChange } from "./apiKey";
import { getConfig } from "./config";
import { LiveSocket, wsUrlWithTicket, type WsMessage, type WsStatus } from "./ws";

/** Each (re)connect takes a fresh one-use ticket with the key (header); without a key: open mode. */
async function liveUrl(): Promise<string> {
  const base = getConfig().wsUrl;
  if (!getApiKey()) return base;
  const t = await api<{ ticket: string; expires_at: number }>("/api/v1/stream/ticket", { method: "POST" });
  return wsUrlWithTicket(base, t.ticket);
}

export const live = new LiveSocket(liveUrl);

declare global {
  interface Window {
    __live?: LiveSocket;
  }
}

export function startLive(): void {
  if (typeof WebSocket === "undefined") return;
  window.__live = live; // read by the e2e tests (subscriptions, message count)
  live.start();
  onApiKeyChange(() => live.restart());
}

/** Call `handler` for every message on channels matching `pattern` while mounted. */
export function useLive(pattern: string | null, handler: (msg: WsMessage) => void): void {
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => {
    if (!pattern) return;
    return live.subscribe(pattern, (m) => ref.current(m));
  }, [pattern]);
}

export function useLiveStatus(): WsStatus {
  const [s, setS] = useState<WsStatus>(live.status);
  useEffect(() => {
    setS(live.status); // a change between the first render and this effect would be lost otherwise
    return live.onStatus(setS);
  }, []);
  return s;
}
