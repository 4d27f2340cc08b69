// An SSE engine on 127.0.0.1 following the SSE wire contract of API v2 (session POST, event stream with ids and
// Last-Event-ID resume, message POST), driving the same scripted sessions as the fake WebSocket engine.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { scriptedSession, type EngineOptions, type Frame } from "./fake-engine.js";

interface SseSession {
  events: { id: number; data: string }[];
  streams: Set<ServerResponse>;
  feed: (f: Frame) => void;
  closed: boolean;
}

export interface FakeSse {
  url: string;
  handshakes: Frame[];
  sessions: Map<string, SseSession>;
  /** Ends every open stream (the client must resume with Last-Event-ID). */
  dropStreams(): void;
  close(): Promise<void>;
  requests: string[];
  /** Closes every WebSocket (when `withWebSocket`) with `code`. */
  cutWebSockets(code?: number): void;
  /** Ends every SSE session with a `close` event of `code` (e.g. 4001: the token expired). */
  closeSessions(code: number): void;
  /** WebSocket handshakes seen. */
  wsHandshakes: Frame[];
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

export async function startFakeSse(opts: EngineOptions & { acceptBearer?: (t: string) => boolean; withWebSocket?: boolean; busy?: () => boolean }): Promise<FakeSse> {
  const sessions = new Map<string, SseSession>();
  const handshakes: Frame[] = [];
  const received: Frame[] = [];
  const requests: string[] = [];
  let next = 0;
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://x");
      requests.push(`${req.method ?? ""} ${url.pathname}`);
      if (req.method === "POST" && url.pathname === "/api/v2/wallet/sse/session") {
        const auth = req.headers.authorization ?? "";
        const token = auth.startsWith("Bearer ") ? auth.slice(7) : "";
        if (!token || !(opts.acceptBearer?.(token) ?? true)) {
          res.writeHead(401, { "content-type": "application/json" }).end('{"error":"unauthorized","message":"no"}');
          return;
        }
        const id = `sess-${++next}-${Math.random().toString(36).slice(2)}`;
        const s: SseSession = { events: [], streams: new Set(), closed: false, feed: () => undefined };
        let seq = 0;
        s.feed = scriptedSession(
          opts,
          (f) => {
            const ev = { id: ++seq, data: JSON.stringify(f) };
            s.events.push(ev);
            for (const st of s.streams) st.write(`id: ${ev.id}\ndata: ${ev.data}\n\n`);
          },
          (code) => {
            s.closed = true;
            // Like walletd: a named `close` event with the WebSocket close code, then the stream ends.
            for (const st of s.streams) st.end(`event: close\ndata: ${JSON.stringify({ code, reason: "closed by engine" })}\n\n`);
          },
          handshakes,
          received,
        );
        sessions.set(id, s);
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ session_id: id, stream_url: `/api/v2/wallet/sse?session=${id}`, message_url: `/api/v2/wallet/sse/message?session=${id}` }));
        return;
      }
      const s = sessions.get(url.searchParams.get("session") ?? "");
      if (req.method === "GET" && url.pathname === "/api/v2/wallet/sse") {
        if (!s || s.closed) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" });
        res.write(": open\n\n");
        const last = Number(req.headers["last-event-id"] ?? 0);
        for (const ev of s.events) if (ev.id > last) res.write(`id: ${ev.id}\ndata: ${ev.data}\n\n`);
        s.streams.add(res);
        req.on("close", () => s.streams.delete(res));
        return;
      }
      if (req.method === "POST" && url.pathname === "/api/v2/wallet/sse/message") {
        if (!s || s.closed) {
          res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not_found"}');
          return;
        }
        const text = await body(req);
        if (opts.busy?.()) {
          res.writeHead(429, { "content-type": "application/json", "retry-after": "1" }).end('{"error":"rate_limited","message":"queue full"}');
          return;
        }
        res.writeHead(202).end();
        s.feed(JSON.parse(text) as Frame);
        return;
      }
      res.writeHead(404).end();
    })();
  });
  const sockets = new Set<WebSocket>();
  const wsHandshakes: Frame[] = [];
  const wss = opts.withWebSocket ? new WebSocketServer({ server, path: "/api/v2/wallet" }) : undefined;
  wss?.on("connection", (ws) => {
    sockets.add(ws);
    ws.on("close", () => sockets.delete(ws));
    const feed = scriptedSession(opts, (f) => ws.send(JSON.stringify(f)), (code) => ws.close(code), wsHandshakes, received);
    ws.on("message", (d: Buffer) => feed(JSON.parse(d.toString()) as Frame));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    handshakes,
    sessions,
    requests,
    wsHandshakes,
    cutWebSockets(code = 1011) {
      for (const ws of sockets) ws.close(code, "cut");
    },
    closeSessions(code) {
      for (const s of sessions.values()) {
        s.closed = true;
        for (const st of s.streams) st.end(`event: close\ndata: ${JSON.stringify({ code, reason: "closed by engine" })}\n\n`);
      }
    },
    dropStreams() {
      for (const s of sessions.values()) for (const st of s.streams) st.destroy();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sessions.values()) for (const st of s.streams) st.destroy();
        for (const ws of sockets) ws.terminate();
        wss?.close();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
