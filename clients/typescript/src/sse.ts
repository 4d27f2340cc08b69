/**
 * API v2 over Server-Sent Events, for networks that break WebSockets. The same frames as the WebSocket:
 * 1. `POST {engine}/api/v2/wallet/sse/session` with `Authorization: Bearer <token>` answers
 *    `{session_id, stream_url, message_url}` (the session id is a capability bound to the user);
 * 2. `GET stream_url` (`text/event-stream`) carries each server frame as one `data:` event with `id: <seq>`;
 *    after a drop the stream resumes with `Last-Event-ID` within the engine's bounded window;
 * 3. each client frame (the handshake too) is one `POST message_url` with the frame as JSON body (202; a 429
 *    is retried after its `Retry-After`, a bounded number of times).
 * Frames are posted one after another, so their order is kept. The engine ends a session with a named
 * `close` event `{code, reason}` (the WebSocket's close code: 4001 for a refused or expired token).
 */
import { FrameFlowTransport } from "./flow-transport.js";
import { defaultTimers, type FrameLink, type LinkEvents, type SessionOptions } from "./session.js";

/** The subset of the browser `EventSource` API the transport uses. */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: string; lastEventId?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  /** Named events (the engine's `close`). */
  addEventListener?(type: string, listener: (ev: { data: string }) => void): void;
  close(): void;
}

/** An `EventSource` constructor. */
export type EventSourceConstructor = new (url: string) => EventSourceLike;

/** Options of {@link SseTransport}. */
export interface SseTransportOptions extends SessionOptions {
  /** The engine's base URL (`https://wallet.example.org`). */
  engineUrl: string;
  /** `EventSource` class; default the global one, else a built-in `fetch` stream reader (Node, workers). */
  EventSource?: EventSourceConstructor;
  /** `fetch` to use (default the global one). */
  fetch?: typeof fetch;
  /** Consecutive stream errors tolerated (the stream resumes with `Last-Event-ID`) before the link counts as lost. Default 5. */
  maxStreamErrors?: number;
  /** Give the stream this long to open. Default 10 000 ms. */
  openTimeoutMs?: number;
  /** Retries of a message POST answered 429 (the session's inbound queue is full). Default 5. */
  maxMessageRetries?: number;
}

interface SseSession {
  session_id: string;
  stream_url: string;
  message_url: string;
}

const CLOSED = 2;

/**
 * An `EventSource` work-alike over `fetch` streaming: parses `data:`/`id:` lines, resumes with `Last-Event-ID`
 * after a drop (its caller bounds how often), and reports a non-200 answer as a permanent failure.
 */
export class FetchEventSource implements EventSourceLike {
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: string; lastEventId?: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  private lastId = "";
  private abort = new AbortController();
  private listeners = new Map<string, ((ev: { data: string }) => void)[]>();

  addEventListener(type: string, listener: (ev: { data: string }) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  constructor(
    private readonly url: string,
    private readonly fetchFn: typeof fetch = (...a) => fetch(...a),
    private readonly retryMs = 500,
  ) {
    void this.run();
  }

  close(): void {
    this.readyState = CLOSED;
    this.abort.abort();
  }

  private async run(): Promise<void> {
    while (this.readyState !== CLOSED) {
      let permanent = false;
      try {
        const headers: Record<string, string> = { accept: "text/event-stream" };
        if (this.lastId) headers["last-event-id"] = this.lastId;
        const res = await this.fetchFn(this.url, { headers, signal: this.abort.signal, cache: "no-store" });
        if (res.status !== 200 || !res.body) {
          permanent = true;
          throw new Error(`stream answered ${res.status}`);
        }
        this.readyState = 1;
        this.onopen?.({});
        await this.read(res.body);
      } catch {
        // fall through to error handling
      }
      if (this.readyState === CLOSED) return;
      if (permanent) this.readyState = CLOSED;
      else this.readyState = 0;
      this.onerror?.({});
      if (this.readyState === CLOSED) return;
      await new Promise((r) => setTimeout(r, this.retryMs));
    }
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    let data: string[] = [];
    let id: string | undefined;
    let event = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += dec.decode(value, { stream: true });
      let nl: number;
      while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + (buf.startsWith("\r\n", nl) ? 2 : 1));
        if (line === "") {
          if (id !== undefined) this.lastId = id;
          if (data.length > 0) {
            const ev = { data: data.join("\n"), lastEventId: this.lastId };
            if (event === "" || event === "message") this.onmessage?.(ev);
            else for (const l of this.listeners.get(event) ?? []) l(ev);
          }
          data = [];
          id = undefined;
          event = "";
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? "" : line.slice(colon + 1);
        if (val.startsWith(" ")) val = val.slice(1);
        if (field === "data") data.push(val);
        else if (field === "event") event = val;
        else if (field === "id" && !val.includes("\0")) id = val;
      }
    }
  }
}

/**
 * The SSE transport: everything {@link WebSocketTransport} does (same session logic, callbacks, signer,
 * profiles, reconnect and token refresh), over `EventSource` + `POST`.
 */
export class SseTransport extends FrameFlowTransport {
  readonly transportType = "sse" as const;
  private readonly base: string;
  private readonly fetchFn: typeof fetch;
  private readonly sseOptions: SseTransportOptions;

  constructor(options: SseTransportOptions) {
    super(options);
    this.sseOptions = options;
    this.base = new URL(options.engineUrl).origin;
    // Never call a supplied fetch as a method of this object (window.fetch refuses another `this`).
    const f = options.fetch ?? fetch;
    this.fetchFn = (...a: Parameters<typeof fetch>) => f(...a);
  }

  private async token(): Promise<string> {
    const t = this.options.token;
    return typeof t === "function" ? await t() : t;
  }

  protected async openLink(events: LinkEvents): Promise<FrameLink> {
    const res = await this.fetchFn(`${this.base}/api/v2/wallet/sse/session`, {
      method: "POST",
      headers: { authorization: `Bearer ${await this.token()}`, "content-type": "application/json" },
      body: "{}",
    });
    if (res.status === 401 || res.status === 403) {
      // The session route refused the token: the same as a 4001 close.
      events.onClose(4001, "the engine refused the token");
      throw new Error(`the SSE session was refused (${res.status})`);
    }
    if (!res.ok) throw new Error(`the SSE session could not be opened (${res.status})`);
    const s = (await res.json()) as SseSession;
    if (typeof s.stream_url !== "string" || typeof s.message_url !== "string") throw new Error("the SSE session answer lacks its URLs");
    const streamUrl = new URL(s.stream_url, this.base).toString();
    const messageUrl = new URL(s.message_url, this.base).toString();
    const Ctor = this.sseOptions.EventSource ?? (globalThis as { EventSource?: EventSourceConstructor }).EventSource;
    const es: EventSourceLike = Ctor ? new Ctor(streamUrl) : new FetchEventSource(streamUrl, this.fetchFn);
    const maxErrors = this.sseOptions.maxStreamErrors ?? 5;
    let closed = false;
    let errors = 0;
    let queue: Promise<void> = Promise.resolve();
    const finish = (code: number, reason: string) => {
      if (closed) return;
      closed = true;
      es.close();
      events.onClose(code, reason);
    };
    const link: FrameLink = {
      send: (text) => {
        if (closed) throw new Error("the SSE link is closed");
        queue = queue.then(async () => {
          if (closed) return;
          try {
            let r = await this.fetchFn(messageUrl, { method: "POST", headers: { "content-type": "application/json" }, body: text });
            for (let i = 0; r.status === 429 && i < (this.sseOptions.maxMessageRetries ?? 5) && !closed; i++) {
              const wait = Math.min(Number(r.headers.get("retry-after") ?? "1") || 1, 10) * 1000;
              await new Promise((res) => setTimeout(res, wait));
              r = await this.fetchFn(messageUrl, { method: "POST", headers: { "content-type": "application/json" }, body: text });
            }
            if (r.status === 401 || r.status === 403) finish(4001, "the engine refused the session");
            else if (r.status === 404 || r.status === 410) finish(1006, "the SSE session is gone");
            else if (!r.ok && r.status !== 413) finish(1011, `message answered ${r.status}`);
            else if (r.status === 413) finish(1009, "frame too large");
          } catch {
            finish(1006, "the message could not be posted");
          }
        });
      },
      close: () => {
        if (closed) return;
        closed = true;
        es.close();
      },
    };
    await new Promise<void>((resolve, reject) => {
      const timers = this.options.timers ?? defaultTimers;
      let opened = false;
      const timer = timers.setTimeout(() => {
        if (opened) return;
        closed = true;
        es.close();
        reject(new Error("the SSE stream did not open in time"));
      }, this.sseOptions.openTimeoutMs ?? 10_000);
      es.onopen = () => {
        errors = 0;
        if (!opened) {
          opened = true;
          timers.clearTimeout(timer);
          resolve();
        }
      };
      es.addEventListener?.("close", (ev) => {
        let code = 1000;
        let reason = "the engine closed the session";
        try {
          const c = JSON.parse(ev.data) as { code?: unknown; reason?: unknown };
          if (typeof c.code === "number") code = c.code;
          if (typeof c.reason === "string") reason = c.reason;
        } catch {
          // keep the defaults
        }
        if (!opened) {
          timers.clearTimeout(timer);
          closed = true;
          es.close();
          reject(new Error(reason));
          return;
        }
        finish(code, reason);
      });
      es.onmessage = (ev) => {
        errors = 0;
        if (closed) return;
        events.onFrame(ev.data);
        // An engine ends a refused session with an AUTH_FAILED error; treat it like the WebSocket's 4001.
        if (ev.data.includes('"AUTH_FAILED"') && ev.data.includes('"type":"error"')) finish(4001, "the engine refused the token");
      };
      es.onerror = () => {
        errors++;
        if (!opened) {
          timers.clearTimeout(timer);
          closed = true;
          es.close();
          reject(new Error("the SSE stream could not be opened"));
          return;
        }
        if (es.readyState === CLOSED || errors > maxErrors) finish(1006, "the SSE stream was lost");
      };
    });
    return link;
  }
}
