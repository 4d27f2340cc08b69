// The client against a real `walletd --mode=all` (SQLite in a temporary directory, HS256 tokens on a test
// secret, 127.0.0.1, ports picked by the OS). Runs when a walletd binary is found: WALLETD_BIN, or
// target/debug/walletd (or target/release/walletd) of the repository; skipped otherwise.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import {
  CredentialMatcher,
  FlowError,
  Keystore,
  SseTransport,
  StorageError,
  StorageSyncClient,
  WebSocketTransport,
  createTransport,
  createWebCryptoSigner,
  generateHolderKey,
  type FrameFlowTransport,
  type WalletCredential,
  type WebSocketConstructor,
} from "../src/index.js";

const WS = WebSocket as unknown as WebSocketConstructor;
const SECRET = "ts-client-live-test-secret";

function findBinary(): string | undefined {
  if (process.env.WALLETD_BIN) return existsSync(process.env.WALLETD_BIN) ? process.env.WALLETD_BIN : undefined;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    for (const p of ["target/debug/walletd", "target/release/walletd"]) if (existsSync(join(dir, p))) return join(dir, p);
    dir = resolve(dir, "..");
  }
  return undefined;
}

function hs256(claims: Record<string, unknown>): string {
  const b = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const input = `${b({ alg: "HS256", typ: "JWT" })}.${b(claims)}`;
  return `${input}.${createHmac("sha256", SECRET).update(input).digest("base64url")}`;
}

function token(user: string, ttl = 600): string {
  const now = Math.floor(Date.now() / 1000);
  return hs256({ sub: user, tenant_id: "default", iss: "walletd", aud: "walletd", iat: now, exp: now + ttl });
}

const bin = findBinary();

/** `node <script> 0` in tests/interop, resolved with its `{"url"}` line. */
function startPeer(script: string): Promise<{ url: string; proc: ChildProcess }> {
  const dir = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..", "tests", "interop");
  const proc = spawn(process.execPath, [script, "0"], { cwd: dir, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${script} did not start`)), 30_000);
    let buf = "";
    proc.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      const m = /\{"url":"([^"]+)"\}/.exec(buf);
      if (m?.[1]) {
        clearTimeout(timer);
        ok({ url: m[1], proc });
      }
    });
    proc.on("exit", () => fail(new Error(`${script} exited`)));
  });
}

function interopReady(): boolean {
  const dir = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..", "tests", "interop");
  return existsSync(join(dir, "node_modules", "@openid4vc", "openid4vp"));
}

async function postJson(url: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return (await r.json()) as Record<string, unknown>;
}

describe("against a real walletd --mode=all", { skip: bin ? false : "no walletd binary (set WALLETD_BIN or build target/debug/walletd)" }, () => {
  let child: ChildProcess | undefined;
  let dir = "";
  let base = "";
  const user = randomUUID();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "walletd-ts-live-"));
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("WALLET_")));
    // The engine may reach the interop peers on loopback over http (as the Rust engine tests allow).
    const config = { database: { url: `sqlite://${join(dir, "walletd.db")}` }, egress: { allow_http: true, allowed_cidrs: ["127.0.0.1/32", "::1/128"] } };
    writeFileSync(join(dir, "walletd.yaml"), JSON.stringify(config));
    Object.assign(env, {
      WALLET_SERVER__HTTP_PORT: "0",
      WALLET_SERVER__WS_PORT: "0",
      WALLET_SERVER__ADMIN_PORT: "0",
      WALLET_DATA_DIR: dir,
      WALLET_LOGGING__FORMAT: "json",
      WALLET_JWT__SECRET: SECRET,
    });
    const proc = spawn(bin ?? "", ["--config", join(dir, "walletd.yaml"), "--mode=all"], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    const logs: string[] = [];
    base = await new Promise<string>((resolveStart, reject) => {
      const timer = setTimeout(() => reject(new Error(`walletd did not start in 30 s:\n${logs.join("\n")}`)), 30_000);
      let buf = "";
      proc.stdout?.on("data", (d: Buffer) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          logs.push(line);
          try {
            const v = JSON.parse(line) as { message?: string; http?: string; fields?: { message?: string; http?: string } };
            const msg = v.message ?? v.fields?.message;
            const http = v.http ?? v.fields?.http;
            if (msg === "started" && http) {
              clearTimeout(timer);
              resolveStart(`http://${http}`);
            }
          } catch {
            // not a JSON log line
          }
        }
      });
      proc.stderr?.on("data", (d: Buffer) => logs.push(d.toString()));
      proc.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`walletd exited (${String(code)}):\n${logs.join("\n")}`));
      });
    });
  });

  after(() => {
    child?.kill("SIGKILL");
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("handshakes in both profiles and runs flows concurrently on one socket", async () => {
    const full = new WebSocketTransport({ engineUrl: base, token: token(user), WebSocket: WS, profile: "full", features: ["select_credential", "match_request", "nonsense"] });
    await full.connect();
    assert.ok(full.getSessionId());
    assert.deepEqual([...full.getAcceptedFeatures()].sort(), ["match_request", "select_credential"]);
    const outcomes = await Promise.allSettled([full.getTypeMetadata("urn:ts:unknown:1"), full.getTypeMetadata("urn:ts:unknown:2"), full.getTypeMetadata("urn:ts:unknown:3")]);
    for (const o of outcomes) {
      // The registry has no such type: every flow ends, each with its own terminal frame.
      if (o.status === "rejected") assert.ok(o.reason instanceof FlowError && o.reason.code === "METADATA_FETCH_ERROR", String(o.reason));
    }
    const bad = await full.startOID4VCIFlow({ credentialOffer: "this is not an offer" });
    assert.equal(bad.success, false);
    assert.equal(bad.error?.code, "OFFER_PARSE_ERROR");
    await full.disconnect();
    const web = new WebSocketTransport({ engineUrl: base, token: token(user), WebSocket: WS });
    await web.connect();
    assert.deepEqual(web.getAcceptedFeatures(), []);
    await web.disconnect();
  });

  it("a refused or expired token is AUTH_FAILED", async () => {
    const t = new WebSocketTransport({ engineUrl: base, token: "not-a-jwt", WebSocket: WS, reconnect: { maxAttempts: 0 } });
    await assert.rejects(t.connect(), (e: unknown) => e instanceof FlowError && e.code === "AUTH_FAILED");
    const expired = new WebSocketTransport({ engineUrl: base, token: token(user, -60), WebSocket: WS, reconnect: { maxAttempts: 0 } });
    await assert.rejects(expired.connect(), (e: unknown) => e instanceof FlowError && e.code === "AUTH_FAILED");
  });

  it("storage: encrypted blobs, 412 merge, the change feed and private data", async () => {
    const ks = await Keystore.create(new Uint8Array(32).fill(5));
    const c = new StorageSyncClient({ storageUrl: base, token: token(user), cipher: ks });
    const start = await c.pull();
    const v1 = await c.put("cred-a", new TextEncoder().encode("one"), null);
    const other = new StorageSyncClient({ storageUrl: base, token: token(user), cipher: ks });
    await other.put("cred-a", new TextEncoder().encode("two"), v1);
    const merged = await c.putMerged("cred-a", new TextEncoder().encode("three"), v1, (remote, local) => new TextEncoder().encode(`${new TextDecoder().decode(remote ?? new Uint8Array())}+${new TextDecoder().decode(local)}`));
    assert.equal(merged, v1 + 2);
    assert.equal(new TextDecoder().decode((await c.get("cred-a"))?.data), "two+three");
    await assert.rejects(c.put("cred-a", new TextEncoder().encode("x"), v1), (e: unknown) => e instanceof StorageError && e.status === 412);
    const feed = await c.pull(start.cursor);
    assert.ok(feed.changes.some((ch) => ch.id === "cred-a"));
    const ksBytes = await ks.serialise();
    const { etag } = await c.getPrivateData();
    const etag2 = await c.putPrivateData(ksBytes, etag);
    assert.ok(etag2);
    const back = await c.getPrivateData();
    assert.deepEqual(back.data, ksBytes);
    await assert.rejects(c.putPrivateData(ksBytes, etag ?? '"stale"'), (e: unknown) => e instanceof StorageError && e.status === 412);
  });

  it("SSE: the same flows when the engine serves the SSE endpoints", async (t) => {
    const probe = await fetch(`${base}/api/v2/wallet/sse/session`, { method: "POST", headers: { authorization: `Bearer ${token(user)}`, "content-type": "application/json" }, body: "{}" });
    if (probe.status === 404 || probe.status === 405) {
      t.skip("this walletd has no SSE endpoints");
      return;
    }
    const sse = new SseTransport({ engineUrl: base, token: token(user) });
    const bad = await sse.startOID4VCIFlow({ credentialOffer: "this is not an offer" });
    assert.equal(bad.error?.code, "OFFER_PARSE_ERROR");
    await sse.disconnect();
    // WebSockets blocked (a proxy that refuses the upgrade): createTransport ends up on SSE.
    const blocked = createTransport(
      { engineUrl: base, wsUrl: base.replace("http://", "ws://") + "/blocked-by-proxy", transports: ["websocket", "sse"] },
      { token: token(user), WebSocket: WS, reconnect: { maxAttempts: 0 } },
    );
    const again = await blocked.startOID4VCIFlow({ credentialOffer: "still not an offer" });
    assert.equal(blocked.getActiveTransport(), "sse");
    assert.equal(again.error?.code, "OFFER_PARSE_ERROR");
    await blocked.disconnect();
  });

  // Issuance from the independent Node issuer and presentation to the independent Node verifier, through the
  // real engine, with this package's signer (proof JWT, KB-JWT) and matcher; the verifier checks signature,
  // disclosures, key binding, nonce and audience.
  async function issueAndPresent(t: FrameFlowTransport, issuer: string, verifier: string): Promise<void> {
    const key = await generateHolderKey();
    const wallet: WalletCredential[] = [];
    const signer = createWebCryptoSigner({ key, credential: (id) => wallet.find((c) => c.id === id)?.credential });
    const offer = await postJson(`${issuer}/test/offer`, { grant: "pre", tx_code: true });
    const issued = await t.runIssuance(String(offer.offer), { signer, onTxCode: () => Promise.resolve(String(offer.tx_code_value)) });
    assert.equal(issued.status, "complete");
    const creds = issued.status === "complete" ? (issued.frame.credentials ?? []) : [];
    assert.ok(creds.length > 0);
    for (const [i, c] of creds.entries()) wallet.push({ id: `cred-${i}`, format: c.format, credential: String(c.credential) });
    const matcher = new CredentialMatcher(wallet);
    for (const query of ["dcql", "pe"]) {
      const req = await postJson(`${verifier}/test/request`, { query, mode: "direct_post", scheme: "x509_san_dns", claims: ["given_name"], vct: `${issuer}/vct/pid` });
      const done = await t.runPresentation(
        { requestUriRef: String(req.request_uri_ref), clientId: String(req.client_id) },
        {
          signer,
          // Full profile: the engine first asks the client to match (match_request).
          onMatchRequest: (frame) => Promise.resolve(matcher.answerMatchRequest(frame)),
          onConsent: (r) => {
            const m = matcher.match(r);
            return Promise.resolve(m ? CredentialMatcher.toSelection(m) : null);
          },
        },
      );
      assert.equal(done.status, "complete", query);
      const verdict = (await (await fetch(`${verifier}/result/${String(req.id)}`)).json()) as { verified?: boolean; disclosed?: string[]; reason?: string };
      assert.equal(verdict.verified, true, `${query}: ${JSON.stringify(verdict)}`);
      assert.deepEqual(verdict.disclosed, ["given_name"], query);
    }
  }

  it("issues from the interop issuer and presents to the interop verifier (WebSocket web profile; SSE full profile when served)", { skip: interopReady() ? false : "run npm ci in tests/interop" }, async () => {
    const issuer = await startPeer("issuer.mjs");
    const verifier = await startPeer("verifier.mjs");
    try {
      const t = new WebSocketTransport({ engineUrl: base, token: token(user), WebSocket: WS });
      await issueAndPresent(t, issuer.url, verifier.url);
      await t.disconnect();
      const probe = await fetch(`${base}/api/v2/wallet/sse/session`, { method: "POST", headers: { authorization: `Bearer ${token(user)}` } });
      if (probe.status !== 404 && probe.status !== 405) {
        const sse = new SseTransport({ engineUrl: base, token: token(user), profile: "full" });
        await issueAndPresent(sse, issuer.url, verifier.url);
        await sse.disconnect();
      }
    } finally {
      issuer.proc.kill();
      verifier.proc.kill();
    }
  });
});
