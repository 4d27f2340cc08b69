// A scripted API v2 engine on 127.0.0.1 (the `ws` package), for transport tests that need precise control of
// frames, cuts and timing. Behaviour per flow comes from `script` (a function of the flow_start frame).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";

export type Frame = Record<string, unknown>;

export interface FlowIo {
  start: Frame;
  send(frame: Frame): void;
  /** The next client frame of this flow (flow_action, sign_response, match_response). */
  next(): Promise<Frame>;
}

export interface FakeEngine {
  url: string;
  port: number;
  sockets: Set<WebSocket>;
  handshakes: Frame[];
  received: Frame[];
  close(): Promise<void>;
  /** Closes every open socket with `code` (a cut from the server's side). */
  cutAll(code?: number): void;
}

export interface EngineOptions {
  script: (io: FlowIo) => Promise<void>;
  acceptToken?: (token: string) => boolean;
  features?: (declared: string[] | undefined) => string[];
}

/** One engine session: feed it client frames; it answers through `send` and ends with `close`. */
export function scriptedSession(opts: EngineOptions, rawSend: (f: Frame) => void, close: (code: number) => void, handshakes: Frame[], received: Frame[]): (f: Frame) => void {
  let authed = false;
  const inboxes = new Map<string, { queue: Frame[]; waiters: ((f: Frame) => void)[] }>();
  const send = (f: Frame) => rawSend({ ...f, timestamp: new Date().toISOString() });
  return (f: Frame) => {
    received.push(f);
    if (!authed) {
      handshakes.push(f);
      const ok = f.type === "handshake" && typeof f.app_token === "string" && (opts.acceptToken?.(f.app_token) ?? true);
      if (!ok) {
        send({ type: "error", code: "AUTH_FAILED", message: "bad token", error: { code: "AUTH_FAILED", message: "bad token" } });
        close(4001);
        return;
      }
      authed = true;
      const declared = f.features as string[] | undefined;
      send({ type: "handshake_complete", session_id: "s-1", capabilities: ["oid4vci", "oid4vp", "vctm"], features: opts.features?.(declared) ?? declared ?? [] });
      return;
    }
    const id = String(f.flow_id);
    if (f.type === "flow_start") {
      const box = { queue: [] as Frame[], waiters: [] as ((f: Frame) => void)[] };
      inboxes.set(id, box);
      const io: FlowIo = {
        start: f,
        send: (out) => send({ flow_id: id, ...out }),
        next: () =>
          new Promise<Frame>((resolve) => {
            const q = box.queue.shift();
            if (q) resolve(q);
            else box.waiters.push(resolve);
          }),
      };
      void opts.script(io).catch(() => undefined);
      return;
    }
    const box = inboxes.get(id);
    if (!box) return;
    const w = box.waiters.shift();
    if (w) w(f);
    else box.queue.push(f);
  };
}

export async function startFakeEngine(opts: EngineOptions): Promise<FakeEngine> {
  const http: Server = createServer((_, res) => {
    res.statusCode = 404;
    res.end();
  });
  const wss = new WebSocketServer({ server: http, path: "/api/v2/wallet" });
  const sockets = new Set<WebSocket>();
  const handshakes: Frame[] = [];
  const received: Frame[] = [];
  wss.on("connection", (ws) => {
    sockets.add(ws);
    ws.on("close", () => sockets.delete(ws));
    const session = scriptedSession(
      opts,
      (f) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(f));
      },
      (code) => ws.close(code, "closed by engine"),
      handshakes,
      received,
    );
    ws.on("message", (data: Buffer) => session(JSON.parse(data.toString()) as Frame));
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  const port = (http.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    sockets,
    handshakes,
    received,
    cutAll(code = 1011) {
      for (const s of sockets) s.close(code, "cut");
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.terminate();
        wss.close();
        http.close(() => r());
      }),
  };
}
