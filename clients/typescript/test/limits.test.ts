// Every limit of the package is an option with a default; these tests set each one low and watch it hold.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import WebSocket, { WebSocketServer } from "ws";
import { FlowError, SseTransport, StorageSyncClient, WebSocketTransport, createTransport, createWebCryptoSigner, generateHolderKey, type WebSocketConstructor } from "../src/index.js";
import { startFakeEngine } from "./helpers/fake-engine.js";
import { startFakeSse } from "./helpers/fake-sse.js";
import { startFakeStorage } from "./helpers/fake-storage.js";
import { script } from "./helpers/script.js";

const WS = WebSocket as unknown as WebSocketConstructor;

describe("configured limits", () => {
  it("handshakeTimeoutMs: an engine that never answers the handshake fails the connect", async () => {
    const http = createServer();
    const wss = new WebSocketServer({ server: http, path: "/api/v2/wallet" });
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const t = new WebSocketTransport({ engineUrl: url, token: "tok", WebSocket: WS, handshakeTimeoutMs: 100, reconnect: { maxAttempts: 0 } });
    const started = Date.now();
    await assert.rejects(t.connect(), (e: unknown) => e instanceof FlowError && e.code === "HANDSHAKE_TIMEOUT");
    assert.ok(Date.now() - started < 2000);
    for (const c of wss.clients) c.terminate();
    wss.close();
    await new Promise<void>((r) => http.close(() => r()));
  });

  it("stepTimeoutMs: the step API gives up on a silent flow with STEP_TIMEOUT", async () => {
    const engine = await startFakeEngine({ script: () => new Promise(() => undefined) });
    const t = new WebSocketTransport({ engineUrl: engine.url, token: "tok", WebSocket: WS, stepTimeoutMs: 100 });
    const r = await t.startOID4VCIFlow({ credentialOffer: "{}" });
    assert.equal(r.success, false);
    assert.equal(r.error?.code, "STEP_TIMEOUT");
    await t.disconnect();
    await engine.close();
  });

  it("flowTimeoutMs: a callback run gives up on a silent flow", async () => {
    const engine = await startFakeEngine({ script: () => new Promise(() => undefined) });
    const t = new WebSocketTransport({ engineUrl: engine.url, token: "tok", WebSocket: WS, flowTimeoutMs: 100 });
    await assert.rejects(t.runIssuance("{}"), (e: unknown) => e instanceof FlowError && e.code === "STEP_TIMEOUT");
    await t.disconnect();
    await engine.close();
  });

  it("maxProofs caps the proofs one request may ask for", async () => {
    const signer = createWebCryptoSigner({ key: await generateHolderKey(), maxProofs: 3 });
    const proofs = await signer.generateProofs({ flowId: "f", messageId: "m", params: { audience: "https://i", count: 1000 } });
    assert.equal(proofs.length, 3);
  });

  it("maxPages bounds one pull of the change feed", async () => {
    const store = await startFakeStorage();
    const c = new StorageSyncClient({ storageUrl: store.url, token: "tok", maxPages: 2 });
    for (let i = 0; i < 6; i++) await c.put(`b${i}`, new Uint8Array([i]), null);
    const first = await c.pull(null, 2);
    assert.equal(first.changes.length, 4, "two pages of two");
    const rest = await c.pull(first.cursor, 2);
    assert.deepEqual(rest.changes.map((ch) => ch.id), ["b4", "b5"]);
    await store.close();
  });

  it("maxStreamErrors: an SSE stream that keeps failing counts as lost", async () => {
    const sse = await startFakeSse({ script });
    const t = new SseTransport({ engineUrl: sse.url, token: "tok", maxStreamErrors: 0, reconnect: { maxAttempts: 0 } });
    await t.connect();
    const closed = new Promise<void>((r) => t.onStateChange((s) => s !== "connected" && r()));
    sse.dropStreams();
    await closed;
    assert.equal(t.isConnected(), false);
    await sse.close();
  });

  it("stableAfterMs: cuts of connections that had been stable do not add up to a fallback", async () => {
    const both = await startFakeSse({ script, withWebSocket: true });
    const t = createTransport({ engineUrl: both.url, transports: ["websocket", "sse"] }, { token: "tok", WebSocket: WS, reconnect: { initialDelayMs: 5, jitter: false }, fallbackAfterCuts: 2, stableAfterMs: 0 });
    await t.connect();
    for (let i = 1; i <= 3; i++) {
      both.cutWebSockets();
      const end = Date.now() + 3000;
      while (both.wsHandshakes.length < i + 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
      assert.equal(both.wsHandshakes.length, i + 1, `reconnect ${i}`);
    }
    assert.equal(t.getActiveTransport(), "websocket");
    await t.disconnect();
    await both.close();
  });

  it("maxMessageRetries: a 429 on a frame POST is retried after Retry-After, then the link gives up", async () => {
    let busy = 1;
    const sse = await startFakeSse({ script, busy: () => busy-- > 0 });
    const t = new SseTransport({ engineUrl: sse.url, token: "tok", maxMessageRetries: 1 });
    await t.connect(); // the handshake POST was answered 429 once, then accepted
    assert.equal(t.isConnected(), true);
    await t.disconnect();
    busy = 100;
    const give = new SseTransport({ engineUrl: sse.url, token: "tok", maxMessageRetries: 0, reconnect: { maxAttempts: 0 } });
    await assert.rejects(give.connect());
    await sse.close();
  });
});
