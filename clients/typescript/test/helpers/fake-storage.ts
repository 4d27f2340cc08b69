// A storage role stand-in on 127.0.0.1 with walletd's documented semantics (docs/api-v1.md storage routes):
// atomic versions, ETag "<n>", If-Match -> 412 {error:"precondition_failed", current_version}, If-None-Match: *,
// tombstones in a per-user change feed with an opaque cursor. Used where the real binary is not at hand; the
// live suite (test/live.test.ts) runs the same client against the real walletd.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

interface Blob {
  version: number;
  data: string | null;
  seq: number;
  updated_at: string;
}

export interface FakeStorage {
  url: string;
  blobs: Map<string, Blob>;
  /** Called before each PUT is applied (lets a test race another writer in). */
  beforePut?: (id: string) => void;
  writeDirect(id: string, data: string): void;
  close(): Promise<void>;
}

export async function startFakeStorage(): Promise<FakeStorage> {
  const blobs = new Map<string, Blob>();
  let seq = 0;
  const write = (id: string, data: string | null) => {
    const cur = blobs.get(id);
    const b = { version: (cur?.version ?? 0) + 1, data, seq: ++seq, updated_at: new Date().toISOString() };
    blobs.set(id, b);
    return b;
  };
  const self: FakeStorage = {
    url: "",
    blobs,
    writeDirect: (id, data) => void write(id, data),
    close: () => new Promise((r) => server.close(() => r())),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) => res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
      if (req.headers.authorization !== "Bearer tok") return json(401, { error: "unauthorized", message: "no token" });
      const m = /^\/storage\/credentials\/([A-Za-z0-9._-]{1,128})$/.exec(url.pathname);
      if (m?.[1]) {
        const id = m[1];
        const cur = blobs.get(id);
        const live = cur && cur.data !== null ? cur : undefined;
        const ifMatch = req.headers["if-match"];
        if (req.method === "GET") {
          if (!live) return json(404, { error: "not_found", message: "no such blob" });
          return json(200, { id, version: live.version, data: live.data, content_type: null, updated_at: live.updated_at }, { etag: `"${live.version}"` });
        }
        if (req.method === "PUT" || req.method === "DELETE") {
          self.beforePut?.(id);
          const now = blobs.get(id);
          const nowLive = now && now.data !== null ? now : undefined;
          if (ifMatch) {
            const want = Number(ifMatch.replace(/"/g, ""));
            if (!nowLive) return json(404, { error: "not_found", message: "no such blob" });
            if (nowLive.version !== want) return json(412, { error: "precondition_failed", message: `the blob is at version ${nowLive.version}`, current_version: nowLive.version }, { etag: `"${nowLive.version}"` });
          } else if (req.headers["if-none-match"] === "*" && nowLive) {
            return json(412, { error: "precondition_failed", message: `the blob is at version ${nowLive.version}`, current_version: nowLive.version });
          }
          if (req.method === "DELETE") {
            if (!nowLive) return json(404, { error: "not_found", message: "no such blob" });
            write(id, null);
            return res.writeHead(204).end();
          }
          const body = JSON.parse(Buffer.concat(chunks).toString()) as { data: string };
          const b = write(id, body.data);
          return json(nowLive ? 200 : 201, { id, version: b.version }, { etag: `"${b.version}"` });
        }
      }
      if (req.method === "GET" && url.pathname === "/storage/sync") {
        const since = Number(url.searchParams.get("since") ?? 0);
        const limit = Number(url.searchParams.get("limit") ?? 100);
        const all = [...blobs.entries()].filter(([, b]) => b.seq > since).sort((a, b) => a[1].seq - b[1].seq);
        const page = all.slice(0, limit);
        const changes = page.map(([id, b]) => ({ id, version: b.version, deleted: b.data === null, updated_at: b.updated_at, ...(b.data !== null ? { data: b.data } : {}) }));
        const last = page.at(-1)?.[1].seq ?? since;
        return json(200, { changes, cursor: String(last), has_more: all.length > page.length, reset_required: false });
      }
      json(404, { error: "not_found", message: "no route" });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  self.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return self;
}
