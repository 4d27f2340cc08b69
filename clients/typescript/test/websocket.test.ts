import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { FlowError, WebSocketTransport, type Signer, type WebSocketConstructor } from "../src/index.js";
import { startFakeEngine, type FakeEngine } from "./helpers/fake-engine.js";
import { script, signer } from "./helpers/script.js";

const WS = WebSocket as unknown as WebSocketConstructor;

describe("WebSocketTransport against a scripted engine", () => {
  let engine: FakeEngine;
  before(async () => {
    engine = await startFakeEngine({ script, acceptToken: (t) => t !== "bad" });
  });
  after(async () => engine.close());

  it("runs issuance with PIN and signer, presentation with consent, and vctm, concurrently on one socket", async () => {
    const t = new WebSocketTransport({ engineUrl: engine.url, token: "tok", signer, WebSocket: WS });
    const progress: string[] = [];
    t.onProgress((e) => progress.push(`${e.flowId}:${e.stage}`));
    const [vci, vp, vctm] = await Promise.all([
      t.runIssuance('{"credential_issuer":"https://issuer.example"}', { onTxCode: async (p) => (p.txCode.length === 4 ? "1234" : null) }),
      t.runPresentation("openid4vp://?request_uri=x", {
        onConsent: async (req) => {
          assert.equal(req.verifier?.name, "V");
          return [{ credential_id: "c1", credential_query_id: "q1", disclosed_claims: ["given_name"] }];
        },
      }),
      t.getTypeMetadata("urn:t"),
    ]);
    assert.equal(vci.status, "complete");
    assert.ok(vci.status === "complete" && vci.frame.credentials?.length === 2);
    assert.ok(vp.status === "complete" && vp.frame.redirect_uri === 'https://v.example/done#{"q1":["vp-c1"]}');
    assert.deepEqual(vctm, { vct: "urn:t", name: "T" });
    assert.equal(engine.handshakes.length, 1, "one socket, one handshake");
    assert.ok(progress.some((p) => p.endsWith(":offer_parsed")));
    await t.disconnect();
  });

  it("web profile sends no features; full profile declares them", async () => {
    const web = new WebSocketTransport({ engineUrl: engine.url, token: "tok", WebSocket: WS });
    await web.connect();
    const full = new WebSocketTransport({ engineUrl: engine.url, token: "tok", WebSocket: WS, profile: "full", features: ["select_credential", "match_request"] });
    await full.connect();
    const hs = engine.handshakes.slice(-2);
    assert.equal(hs[0]?.features, undefined);
    assert.deepEqual(hs[1]?.features, ["select_credential", "match_request"]);
    assert.deepEqual(full.getAcceptedFeatures(), ["select_credential", "match_request"]);
    await web.disconnect();
    await full.disconnect();
  });

  it("step API: stops at the PIN prompt and the selection like the web client, maps results", async () => {
    const t = new WebSocketTransport({ engineUrl: engine.url, token: "tok", signer, WebSocket: WS });
    await t.connect();
    const first = await t.startOID4VCIFlow({ credentialOffer: '{"credential_issuer":"https://issuer.example"}' });
    assert.equal(first.success, true);
    assert.equal(first.preAuthorizedCode, "pre");
    assert.deepEqual(first.txCode, { inputMode: "numeric", length: 4 });
    const done = await t.startOID4VCIFlow({ preAuthorizedCode: "pre", txCodeInput: "1234" });
    assert.equal(done.success, true);
    assert.equal(done.credentials?.length, 2);
    assert.equal(done.credentialIssuerIdentifier, "https://issuer.example");
    assert.equal(done.selectedCredentialConfigurationId, "pid");
    const sel = await t.startOID4VPFlow({ requestUriRef: "https://v.example/r", clientId: "x509_san_dns:v" });
    assert.equal(sel.success, true);
    assert.equal(sel.verifierInfo?.purpose, "age");
    assert.equal(sel.verifierInfo?.trustedStatus, "trusted");
    const vp = await t.startOID4VPFlow({ selectedCredentials: [{ batchId: 0, credentialQueryId: "q1", walletCredentialRef: "c9", credentialRaw: "raw", holderKeyKid: "k" }] });
    assert.equal(vp.redirectUri, 'https://v.example/done#{"q1":["vp-c9"]}');
    const wrong = await t.startOID4VCIFlow({ credentialOffer: "{}" });
    const bad = await t.startOID4VCIFlow({ preAuthorizedCode: "pre", txCodeInput: "0000", flowId: wrong.flowId ?? "" });
    assert.equal(bad.success, false);
    assert.equal(bad.error?.code, "TOKEN_ERROR");
    await t.disconnect();
  });

  it("a signer failure is sent as sign_response error and the flow fails with the engine's code", async () => {
    const failing: Signer = { generateProofs: () => Promise.reject(new Error("no key")), signPresentation: () => Promise.reject(new Error("user cancelled")) };
    const t = new WebSocketTransport({ engineUrl: engine.url, token: "tok", signer: failing, WebSocket: WS });
    await assert.rejects(
      t.runPresentation("openid4vp://?x", { onConsent: async () => [{ credential_id: "c", credential_query_id: "q1", disclosed_claims: [] }] }),
      (e: unknown) => e instanceof FlowError && e.code === "SIGN_ERROR" && e.message === "user cancelled",
    );
    await assert.rejects(t.runPresentation("openid4vp://?x", { onConsent: async () => null }), (e: unknown) => e instanceof FlowError && e.code === "PRESENTATION_ERROR");
    await t.disconnect();
  });

  it("web-client handler API: onSignRequest handlers (camelCase) sign, with the raw credential from the consent", async () => {
    const t = new WebSocketTransport({ engineUrl: engine.url, token: "tok", WebSocket: WS });
    const seen: string[] = [];
    t.onSignRequest(() => Promise.reject(new Error("first handler cannot")));
    t.onSignRequest(async (req) => {
      seen.push(`${req.action}:${req.params.audience ?? ""}`);
      if (req.action === "generate_proof") return { proofJwt: "legacy-proof" };
      const c = req.params.credentialsToInclude?.[0];
      return { vpToken: JSON.stringify({ [c?.credentialQueryId ?? "?"]: [`vp-of-${c?.credentialRaw ?? "nothing"}`] }) };
    });
    await t.startOID4VCIFlow({ credentialOffer: "{}" });
    assert.equal(t.getCurrentFlowId() !== null, true);
    const done = await t.startOID4VCIFlow({ preAuthorizedCode: "pre", txCodeInput: "1234" });
    assert.deepEqual(done.credentials?.map((c) => c.credential), ["cred(legacy-proof)"]);
    await t.startOID4VPFlow({ requestUriRef: "https://v/r", clientId: "x509_san_dns:v" });
    const vp = await t.startOID4VPFlow({ selectedCredentials: [{ batchId: 0, credentialQueryId: "q1", walletCredentialRef: "w1", credentialRaw: "RAW-SDJWT", holderKeyKid: "k" }] });
    assert.equal(vp.redirectUri, 'https://v.example/done#{"q1":["vp-of-RAW-SDJWT"]}');
    assert.deepEqual(seen, ["generate_proof:https://issuer.example", "sign_presentation:x509_san_dns:v"]);
    await t.disconnect();
  });

  it("trust, configuration choice and authorization through callbacks; leaving for the redirect resolves as pending", async () => {
    const t = new WebSocketTransport({ engineUrl: engine.url, token: "tok", WebSocket: WS, profile: "full" });
    const cb = {
      onTrust: async (r: { subject_id: string }) => ({ trusted: r.subject_id === "https://issuer.example", framework: "test" }),
      onSelectConfiguration: async (_f: string, offered: { id: string }[]) => offered[1]?.id ?? "",
    };
    const done = await t.runIssuance("auth-flow", { ...cb, onAuthorization: async (p) => ({ code: p.state === "st" ? "the-code" : "x", state: p.state }) });
    assert.ok(done.status === "complete" && done.frame.selected_credential_configuration_id === "mdl");
    const left = await t.runIssuance("auth-flow", { ...cb, onAuthorization: async () => null });
    assert.equal(left.status, "authorization_pending");
    assert.ok(left.status === "authorization_pending" && left.authorization.authorizationUrl.startsWith("https://as.example/") && left.authorization.codeVerifier === "cv");
    assert.deepEqual(left.status === "authorization_pending" ? left.authorization.credentialOffer : null, { credential_issuer: "https://issuer.example", credential_configuration_ids: ["mdl"] });
    await assert.rejects(t.runIssuance("auth-flow", { onTrust: async () => ({ trusted: false }) }), (e: unknown) => e instanceof FlowError && e.code === "UNTRUSTED_ISSUER");
    await assert.rejects(t.runIssuance("auth-flow", cb), (e: unknown) => e instanceof FlowError && e.code === "CLIENT_ERROR" && e.message.includes("onAuthorization"));
    // Back from the redirect: resume with what the pending outcome carried.
    assert.ok(left.status === "authorization_pending");
    const resumed = await t.resumeIssuance({ credentialOffer: left.authorization.credentialOffer, redirectUri: "https://wallet.example/cb", authorizationCode: "the-code", codeVerifier: left.authorization.codeVerifier });
    assert.ok(resumed.status === "complete" && resumed.frame.selected_credential_configuration_id === "mdl");
    // The step API's resume (what the web client sends after its redirect).
    const step = await t.startOID4VCIFlow({ credentialOffer: JSON.stringify(left.authorization.credentialOffer), redirectUri: "https://wallet.example/cb", authorizationCode: "the-code", codeVerifier: "cv" });
    assert.deepEqual(step.credentials, [{ format: "dc+sd-jwt", credential: "resumed~" }]);
    await t.disconnect();
  });

  it("client_attestation_pop sign requests go to the signer's clientAttestationPop (answered as proof_jwt)", async () => {
    const { createWebCryptoSigner, generateHolderKey } = await import("../src/index.js");
    const t = new WebSocketTransport({ engineUrl: engine.url, token: "tok", WebSocket: WS, profile: "full", features: ["provider_attestations"], signer: createWebCryptoSigner({ key: await generateHolderKey() }) });
    const out = await t.runIssuance("wia");
    assert.ok(out.status === "complete" && out.frame.credential_issuer === "pop-ok");
    const without = new WebSocketTransport({ engineUrl: engine.url, token: "tok", WebSocket: WS, signer });
    await assert.rejects(without.runIssuance("wia"), (e: unknown) => e instanceof FlowError && e.code === "SIGN_ERROR" && e.message.includes("client attestation"));
    await t.disconnect();
    await without.disconnect();
  });

  it("a refused token is AUTH_FAILED without refresh, and refreshed once with refreshToken", async () => {
    const t = new WebSocketTransport({ engineUrl: engine.url, token: "bad", WebSocket: WS, reconnect: { maxAttempts: 0 } });
    await assert.rejects(t.connect(), (e: unknown) => e instanceof FlowError && e.code === "AUTH_FAILED");
    let refreshed = 0;
    const r = new WebSocketTransport({ engineUrl: engine.url, token: "bad", WebSocket: WS, refreshToken: async () => { refreshed++; return "good"; } });
    await r.connect();
    assert.equal(refreshed, 1);
    assert.equal(r.isConnected(), true);
    await r.disconnect();
  });
});
