/** The app's one LiveSocket and React hooks over it. */
import { useEffect, useRef, useState } from "react";
import { getApiKey, onApiKeyChange } from "./apiKey";
import { getConfig } from "./config";
import { LiveSocket, wsUrlWithKey, type WsMessage, type WsStatus } from "./ws";

export const live = new LiveSocket(() => wsUrlWithKey(getConfig().wsUrl, getApiKey()));

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
