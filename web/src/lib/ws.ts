/**
 * Live channels over the gateway's `/ws`. One socket per page load, shared by every page.
 *
 * Protocol: send `{"op":"subscribe","channels":[patterns],"resume":{channel: lastSeq}}`; receive
 * `{"type":"message","channel","seq","id","ts","data"}`, `subscribed`, `heartbeat`, `pong`, `error`.
 * `ResumeTracker` keeps the last `seq` per channel, drops duplicates (a replay can overlap what was already
 * seen) and builds the `resume` map after a reconnect; `backoffMs` is capped exponential backoff with jitter.
 * A `subscribed` frame with `reset` for a channel (the hub's sequence restarted) forgets that channel's seq.
 */
export interface WsMessage {
  type: "message";
  channel: string;
  seq: number;
  id?: string;
  ts?: number;
  data: unknown;
}

export class ResumeTracker {
  private last = new Map<string, number>();

  /** Record a message; false when it is a duplicate or older than what was already delivered. */
  accept(channel: string, seq: number): boolean {
    const prev = this.last.get(channel);
    if (prev !== undefined && seq <= prev) return false;
    this.last.set(channel, seq);
    return true;
  }

  reset(channel: string): void {
    this.last.delete(channel);
  }

  lastSeq(channel: string): number | undefined {
    return this.last.get(channel);
  }

  /** `resume` for a subscribe: the last seq of each seen channel that matches one of the patterns. */
  resumeFor(patterns: Iterable<string>): Record<string, number> {
    const pats = [...patterns];
    const out: Record<string, number> = {};
    for (const [ch, seq] of this.last) if (pats.some((p) => globMatch(p, ch))) out[ch] = seq;
    return out;
  }
}

/** fnmatch-style `*` and `?` (what the server uses for patterns). */
export function globMatch(pattern: string, name: string): boolean {
  if (!pattern.includes("*") && !pattern.includes("?")) return pattern === name;
  const re = new RegExp("^" + pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$");
  return re.test(name);
}

/** Delay before reconnect attempt `attempt` (0-based): base·2^attempt capped at `max`, with ±`jitter` spread. */
export function backoffMs(attempt: number, base = 500, max = 15000, jitter = 0.2, rand: () => number = Math.random): number {
  const raw = Math.min(max, base * 2 ** Math.max(0, attempt));
  return Math.round(raw * (1 - jitter + 2 * jitter * rand()));
}

/** The socket URL with a one-use ticket (`POST /api/v1/stream/ticket`): browsers cannot set headers on a
 * WebSocket and API keys never go in URLs. */
export function wsUrlWithTicket(wsUrl: string, ticket: string): string {
  if (!ticket) return wsUrl;
  return wsUrl + (wsUrl.includes("?") ? "&" : "?") + "ticket=" + encodeURIComponent(ticket);
}

export type WsStatus = "connecting" | "open" | "closed";
type Handler = (msg: WsMessage) => void;

export interface SocketLike {
  readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export class LiveSocket {
  readonly tracker = new ResumeTracker();
  status: WsStatus = "closed";
  lastClose = "";
  received = 0;
  /** Patterns the server confirmed in its last `subscribed` frame. */
  subscribed: string[] = [];
  private ws: SocketLike | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = true;
  private subs = new Map<string, Set<Handler>>(); // pattern -> handlers
  private statusListeners = new Set<(s: WsStatus) => void>();

  constructor(
    private url: () => string | Promise<string>,
    private factory: (url: string) => SocketLike = (u) => new WebSocket(u) as unknown as SocketLike,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.ws?.close(1000, "bye");
    this.ws = null;
    this.setStatus("closed");
  }

  /** Reconnect now (e.g. the API key changed). */
  restart(): void {
    this.stop();
    this.attempt = 0;
    this.start();
  }

  onStatus(l: (s: WsStatus) => void): () => void {
    this.statusListeners.add(l);
    return () => this.statusListeners.delete(l);
  }

  subscribe(pattern: string, handler: Handler): () => void {
    let set = this.subs.get(pattern);
    const fresh = !set;
    if (!set) this.subs.set(pattern, (set = new Set()));
    set.add(handler);
    if (fresh && this.ws && this.status === "open") this.sendSubscribe([pattern]);
    return () => {
      const s = this.subs.get(pattern);
      if (!s) return;
      s.delete(handler);
      if (s.size === 0) {
        this.subs.delete(pattern);
        if (this.ws && this.status === "open") this.ws.send(JSON.stringify({ op: "unsubscribe", channels: [pattern] }));
      }
    };
  }

  /** Feed one raw frame (exported for tests). */
  handleFrame(raw: unknown): void {
    let frame: Record<string, unknown>;
    try {
      frame = typeof raw === "string" ? JSON.parse(raw) : (raw as Record<string, unknown>);
    } catch {
      return;
    }
    if (frame.type === "subscribed") {
      if (Array.isArray(frame.channels)) this.subscribed = frame.channels.map(String);
      const resumed = frame.resumed as Record<string, { reset?: boolean }> | undefined;
      if (resumed && typeof resumed === "object") {
        for (const [ch, info] of Object.entries(resumed)) if (info && info.reset) this.tracker.reset(ch);
      }
      return;
    }
    if (frame.type !== "message") return;
    const msg = frame as unknown as WsMessage;
    if (typeof msg.channel !== "string" || typeof msg.seq !== "number") return;
    if (!this.tracker.accept(msg.channel, msg.seq)) return;
    this.received++;
    for (const [pattern, handlers] of this.subs) {
      if (globMatch(pattern, msg.channel)) handlers.forEach((h) => h(msg));
    }
  }

  private connect(): void {
    if (this.stopped) return;
    this.setStatus("connecting");
    let url: string | Promise<string>;
    try {
      url = this.url();
    } catch {
      this.scheduleReconnect();
      return;
    }
    if (typeof url === "string") this.open(url);
    else url.then((u) => { if (!this.stopped && !this.ws) this.open(u); }, () => this.scheduleReconnect());
  }

  private open(url: string): void {
    let ws: SocketLike;
    try {
      ws = this.factory(url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.setStatus("open");
      if (this.subs.size) this.sendSubscribe([...this.subs.keys()]);
    };
    ws.onmessage = (ev) => this.handleFrame(ev.data);
    ws.onerror = () => {
      /* onclose follows */
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.subscribed = [];
      this.lastClose = ev.reason ? `${ev.code} ${ev.reason}` : String(ev.code);
      this.setStatus("closed");
      this.scheduleReconnect();
    };
  }

  private sendSubscribe(patterns: string[]): void {
    const resume = this.tracker.resumeFor(patterns);
    const msg: Record<string, unknown> = { op: "subscribe", channels: patterns };
    if (Object.keys(resume).length) msg.resume = resume;
    this.ws?.send(JSON.stringify(msg));
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const delay = backoffMs(this.attempt++);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  private setStatus(s: WsStatus): void {
    this.status = s;
    this.statusListeners.forEach((l) => l(s));
  }
}
