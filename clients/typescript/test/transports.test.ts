import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import {
  FlowError,
  SseTransport,
  WebSocketTransport,
  backoffDelay,
  createTransport,
  type ConnectionState,
  type WebSocketConstructor,
} from "../src/index.js";
import { startFakeEngine, type FakeEngine } from "./helpers/fake-engine.js";
import { startFakeSse, type FakeSse } from "./helpers/fake-sse.js";
import { script, signer } from "./helpers/script.js";

const WS = WebSocket as unknown as WebSocketConstructor;
const fast = { initialDelayMs: 10, jitter: false, maxAttempts: 3 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
const pin = { onTxCode: () => Promise.resolve("1234") };
const consent = { onConsent: () => Promise.resolve([{ credential_id: "c1", credential_query_id: "q1", disclosed_claims: ["given_name"] }]) };

describe("SseTransport (SSE wire contract)", () => {
  let sse: FakeSse;
  before(async () => {
    sse = await startFakeSse({ script, acceptBearer: (t) => t !== "bad", acceptToken: (t) => t !== "bad" });
  });
  after(async () => sse.close());

  it("runs concurrent flows with the same session logic as the WebSocket", async () => {
    const t = new SseTransport({ engineUrl: sse.url, token: "tok", signer, profile: "full" });
    const [vci, vp, meta] = await Promise.all([t.runIssuance("{}", pin), t.runPresentation("openid4vp://?r", consent), t.getTypeMetadata("urn:x")]);
    assert.ok(vci.status === "complete" && vci.frame.credentials?.length === 2);
    assert.ok(vp.status === "complete" && vp.frame.redirect_uri?.endsWith('{"q1":["vp-c1"]}'));
    assert.deepEqual(meta, { vct: "urn:x", name: "T" });
    const hs = sse.handshakes.at(-1);
    assert.equal(hs?.type, "handshake", "the handshake frame is posted like any frame");
    assert.ok(Array.isArray(hs.features));
    await t.disconnect();
  });

  it("resumes the stream with Last-Event-ID after a drop, without losing frames", async () => {
    const t = new SseTransport({ engineUrl: sse.url, token: "tok", signer });
    await t.connect();
    const before = sse.requests.filter((r) => r === "GET /api/v2/wallet/sse").length;
    const out = await t.runPresentation("openid4vp://?r", {
      onConsent: async () => {
        sse.dropStreams();
        await sleep(50);
        return [{ credential_id: "c2", credential_query_id: "q1", disclosed_claims: [] }];
      },
    });
    assert.ok(out.status === "complete" && out.frame.redirect_uri?.endsWith('{"q1":["vp-c2"]}'));
    assert.ok(sse.requests.filter((r) => r === "GET /api/v2/wallet/sse").length > before, "the stream was opened again");
    await t.disconnect();
  });

  it("the engine's close event (4001) refreshes the token and opens a new session", async () => {
    let n = 0;
    const t = new SseTransport({ engineUrl: sse.url, token: "tok", refreshToken: () => Promise.resolve(`fresh-${++n}`), reconnect: fast });
    await t.connect();
    const sessions = sse.sessions.size;
    sse.closeSessions(4001);
    await until(() => n === 1 && t.isConnected() && sse.sessions.size === sessions + 1, "the refresh and the new session");
    assert.equal(sse.handshakes.at(-1)?.app_token, "fresh-1");
    await t.disconnect();
  });

  it("a refused token is AUTH_FAILED", async () => {
    const t = new SseTransport({ engineUrl: sse.url, token: "bad", reconnect: { maxAttempts: 0 } });
    await assert.rejects(t.connect(), (e: unknown) => e instanceof FlowError && e.code === "AUTH_FAILED");
  });
});

describe("reconnect, backoff and token refresh", () => {
  let engine: FakeEngine;
  let tokens: string[] = [];
  before(async () => {
    engine = await startFakeEngine({ script, acceptToken: (t) => t !== "expired" });
  });
  after(async () => engine.close());

  it("backoff grows exponentially, is capped, jittered within bounds, and ends", () => {
    assert.deepEqual([0, 1, 2, 3, 4].map((a) => backoffDelay(a, { initialDelayMs: 100, maxDelayMs: 500, jitter: false, maxAttempts: 5 })), [100, 200, 400, 500, 500]);
    assert.equal(backoffDelay(5, { maxAttempts: 5 }), null);
    assert.equal(backoffDelay(0, { maxAttempts: 0 }), null);
    assert.equal(backoffDelay(2, { initialDelayMs: 100, jitter: true }, () => 0), 200);
    assert.equal(backoffDelay(2, { initialDelayMs: 100, jitter: true }, () => 0.999999), 400);
  });

  it("after a cut the running flow fails, the transport reconnects with backoff and works again", async () => {
    const states: ConnectionState[] = [];
    const t = new WebSocketTransport({ engineUrl: engine.url, token: "tok", signer, WebSocket: WS, reconnect: fast });
    t.onStateChange((s) => states.push(s));
    await t.connect();
    const hs = engine.handshakes.length;
    const running = t.runPresentation("openid4vp://?r", { onConsent: () => new Promise(() => undefined) });
    await until(() => engine.received.some((f) => f.type === "flow_start"), "the flow start");
    engine.cutAll(1011);
    await assert.rejects(running, (e: unknown) => e instanceof FlowError && e.code === "TRANSPORT_CLOSED");
    await until(() => t.isConnected() && engine.handshakes.length === hs + 1, "the reconnect");
    assert.ok(states.includes("reconnecting"));
    assert.equal(t.getCutCount(), 1);
    const out = await t.runIssuance("{}", pin);
    assert.equal(out.status, "complete");
    await t.disconnect();
  });

  it("gives up after the reconnect budget and reports it", async () => {
    const dead = await startFakeEngine({ script });
    const t = new WebSocketTransport({ engineUrl: dead.url, token: "tok", WebSocket: WS, reconnect: { initialDelayMs: 5, jitter: false, maxAttempts: 2 } });
    const errors: Error[] = [];
    t.onError((e) => errors.push(e));
    await t.connect();
    await dead.close();
    await until(() => errors.some((e) => e.message.includes("reconnect budget")), "giving up");
    assert.equal(t.getState(), "idle");
  });

  it("a 4001 close (token expired) refreshes the token before reconnecting", async () => {
    tokens = [];
    let current = "tok";
    const t = new WebSocketTransport({
      engineUrl: engine.url,
      token: () => current,
      refreshToken: () => {
        current = `fresh-${tokens.length}`;
        tokens.push(current);
        return Promise.resolve(current);
      },
      WebSocket: WS,
      reconnect: fast,
    });
    await t.connect();
    engine.cutAll(4001);
    await until(() => tokens.length === 1 && t.isConnected(), "the refresh and reconnect");
    assert.equal(engine.handshakes.at(-1)?.app_token, "fresh-0");
    await t.disconnect();
  });

  it("without refreshToken a 4001 close is final", async () => {
    const t = new WebSocketTransport({ engineUrl: engine.url, token: "tok", WebSocket: WS, reconnect: fast });
    const errors: Error[] = [];
    t.onError((e) => errors.push(e));
    await t.connect();
    const hs = engine.handshakes.length;
    engine.cutAll(4001);
    await until(() => errors.length > 0, "the auth error");
    await sleep(60);
    assert.equal(engine.handshakes.length, hs, "no reconnect with a dead token");
    assert.equal((errors[0] as FlowError).code, "AUTH_FAILED");
  });
});

describe("createTransport: preference order and fallback", () => {
  it("selects SSE when the WebSocket cannot be opened", async () => {
    const sse = await startFakeSse({ script });
    const switches: string[] = [];
    const t = createTransport({ engineUrl: sse.url, transports: ["websocket", "sse"] }, { token: "tok", signer, WebSocket: WS, onSwitch: (_f, to) => switches.push(to) });
    const out = await t.runIssuance("{}", pin);
    assert.equal(out.status, "complete");
    assert.equal(t.getActiveTransport(), "sse");
    assert.deepEqual(switches, ["sse"]);
    await t.disconnect();
    await sse.close();
  });

  it("prefers the WebSocket when it works and moves to SSE when it is cut repeatedly", async () => {
    const both = await startFakeSse({ script, withWebSocket: true });
    const switches: string[] = [];
    const t = createTransport({ engineUrl: both.url, transports: ["websocket", "sse"] }, { token: "tok", signer, WebSocket: WS, reconnect: fast, fallbackAfterCuts: 2, onSwitch: (_f, to, why) => switches.push(`${to}:${why}`) });
    await t.connect();
    assert.equal(t.getActiveTransport(), "websocket");
    both.cutWebSockets();
    await until(() => both.wsHandshakes.length === 2, "the WebSocket reconnect");
    await sleep(20);
    both.cutWebSockets();
    await until(() => t.getActiveTransport() === "sse", "the switch to SSE");
    assert.match(switches.at(-1) ?? "", /^sse:websocket was cut 2 times/);
    const out = await t.runPresentation("openid4vp://?r", consent);
    assert.equal(out.status, "complete");
    await t.disconnect();
    await both.close();
  });

  it("respects the allowed list and does not try other transports on AUTH_FAILED", async () => {
    const both = await startFakeSse({ script, withWebSocket: true, acceptToken: () => false, acceptBearer: () => true });
    const t = createTransport({ engineUrl: both.url, transports: ["websocket", "sse"] }, { token: "tok", WebSocket: WS, reconnect: { maxAttempts: 0 } });
    await assert.rejects(t.connect(), (e: unknown) => e instanceof FlowError && e.code === "AUTH_FAILED");
    assert.equal(both.handshakes.length, 0, "SSE was not tried with a refused token");
    await both.close();
  });
});
