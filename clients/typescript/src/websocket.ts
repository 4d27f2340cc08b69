/** API v2 over one WebSocket (`GET /api/v2/wallet`). */
import { FrameFlowTransport } from "./flow-transport.js";
import { defaultTimers, type FrameLink, type LinkEvents, type SessionOptions } from "./session.js";

/** The subset of the browser `WebSocket` API the transport uses (the `ws` package's class fits too). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A `WebSocket` constructor. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Options of {@link WebSocketTransport}. */
export interface WebSocketTransportOptions extends SessionOptions {
  /**
   * The engine's base URL (`https://wallet.example.org`); the socket goes to `/api/v2/wallet` at its root, as
   * the web client does. Ignored when `wsUrl` is set.
   */
  engineUrl?: string;
  /** The full WebSocket URL (`wss://host/api/v2/wallet`), overriding `engineUrl`. */
  wsUrl?: string;
  /** The WebSocket class; default `globalThis.WebSocket` (pass the `ws` package's class on Node 20). */
  WebSocket?: WebSocketConstructor;
  /** Give the socket this long to open. Default 10 000 ms. */
  openTimeoutMs?: number;
}

/** `ws(s)://<origin of engineUrl>/api/v2/wallet` (any base path is dropped, like the web client). */
export function engineWebSocketUrl(engineUrl: string): string {
  const u = new URL(engineUrl);
  const scheme = u.protocol === "https:" || u.protocol === "wss:" ? "wss:" : "ws:";
  return `${scheme}//${u.host}/api/v2/wallet`;
}

/**
 * The WebSocket transport: handshake, many flows at once on one socket, sign requests delegated to the
 * caller's signer, callbacks for consent and selection, progress events, reconnect with backoff after a cut,
 * token refresh on 4001, and both client profiles (`profile: "web" | "full"`).
 *
 * @example
 * const t = new WebSocketTransport({ engineUrl: "https://wallet.example.org", token: () => auth.token(), signer });
 * const out = await t.runIssuance(offerUrl, { onTxCode: async () => prompt("PIN") });
 */
export class WebSocketTransport extends FrameFlowTransport {
  readonly transportType = "websocket" as const;
  private readonly url: string;
  private readonly ctor: WebSocketConstructor;
  private readonly openTimeoutMs: number;

  constructor(options: WebSocketTransportOptions) {
    super(options);
    if (options.wsUrl) this.url = options.wsUrl;
    else if (options.engineUrl) this.url = engineWebSocketUrl(options.engineUrl);
    else throw new Error("WebSocketTransport needs engineUrl or wsUrl");
    const ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!ctor) throw new Error("no WebSocket implementation: pass options.WebSocket");
    this.ctor = ctor;
    this.openTimeoutMs = options.openTimeoutMs ?? 10_000;
  }

  /** The URL the transport connects to. */
  getUrl(): string {
    return this.url;
  }

  protected openLink(events: LinkEvents): Promise<FrameLink> {
    return new Promise<FrameLink>((resolve, reject) => {
      let open = false;
      let done = false;
      const ws = new this.ctor(this.url);
      const timers = this.options.timers ?? defaultTimers;
      const timer = timers.setTimeout(() => {
        if (done) return;
        done = true;
        try {
          ws.close();
        } catch {
          // already closed
        }
        reject(new Error("the WebSocket did not open in time"));
      }, this.openTimeoutMs);
      const link: FrameLink = {
        send: (text) => ws.send(text),
        close: (code, reason) => {
          try {
            ws.close(code ?? 1000, reason);
          } catch {
            // already closed
          }
        },
      };
      ws.onopen = () => {
        if (done) return;
        done = true;
        open = true;
        timers.clearTimeout(timer);
        resolve(link);
      };
      ws.onmessage = (ev) => {
        if (typeof ev.data === "string") events.onFrame(ev.data);
      };
      ws.onerror = () => {
        if (!open && !done) {
          done = true;
          timers.clearTimeout(timer);
          reject(new Error("the WebSocket could not be opened"));
        }
      };
      ws.onclose = (ev) => {
        if (!open) {
          if (!done) {
            done = true;
            timers.clearTimeout(timer);
            reject(new Error(`the WebSocket closed before opening (${ev.code})`));
          }
          return;
        }
        events.onClose(ev.code, ev.reason);
      };
    });
  }
}
