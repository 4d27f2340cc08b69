import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { HttpProxyTransport, createWebCryptoSigner, generateHolderKey, b64uDecodeText } from "../src/index.js";

// A backend with the legacy /proxy in front of an in-process issuer (the proxy relays to the issuer's handler).
async function start(proxyEnabled: boolean) {
  const calls: { url: string; method: string; data?: unknown }[] = [];
  const ISS = "https://issuer.example";
  const issuer = (url: string, method: string, data: unknown): { status: number; data: unknown } => {
    calls.push({ url, method, data });
    if (url === `${ISS}/.well-known/openid-credential-issuer`) return { status: 200, data: { credential_issuer: ISS, credential_endpoint: `${ISS}/credential`, nonce_endpoint: `${ISS}/nonce`, credential_configurations_supported: { pid: { format: "dc+sd-jwt", proof_types_supported: { jwt: { proof_signing_alg_values_supported: ["ES256"] } } } } } };
    if (url === `${ISS}/.well-known/oauth-authorization-server`) return { status: 200, data: { issuer: ISS, token_endpoint: `${ISS}/token` } };
    if (url === `${ISS}/token`) {
      const form = new URLSearchParams(String(data));
      if (form.get("pre-authorized_code") !== "pac" || form.get("tx_code") !== "4321") return { status: 400, data: { error: "invalid_grant" } };
      return { status: 200, data: { access_token: "at", token_type: "Bearer" } };
    }
    if (url === `${ISS}/nonce`) return { status: 200, data: { c_nonce: "cn" } };
    if (url === `${ISS}/credential`) return { status: 200, data: { credentials: [{ credential: "issued~" }] } };
    return { status: 404, data: null };
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (!proxyEnabled || req.url !== "/proxy") return res.writeHead(404, { "content-type": "application/json" }).end('{"error":"proxy_disabled"}');
      const b = JSON.parse(Buffer.concat(chunks).toString()) as { url: string; method: string; data?: unknown };
      const r = issuer(b.url, b.method, b.data);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: r.status, headers: {}, data: r.data }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const offer = JSON.stringify({ credential_issuer: "https://issuer.example", credential_configuration_ids: ["pid"], grants: { "urn:ietf:params:oauth:grant-type:pre-authorized_code": { "pre-authorized_code": "pac", tx_code: { input_mode: "numeric", length: 4 } } } });

describe("HttpProxyTransport (legacy)", () => {
  it("runs a pre-authorized issuance with a PIN through /proxy, proofs from the caller's signer", async () => {
    const b = await start(true);
    const signer = createWebCryptoSigner({ key: await generateHolderKey() });
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- testing the legacy transport
    const t = new HttpProxyTransport({ backendUrl: b.url, token: "tok", signer });
    await t.connect();
    const first = await t.startOID4VCIFlow({ credentialOfferUri: `openid-credential-offer://?credential_offer=${encodeURIComponent(offer)}` });
    assert.equal(first.success, true);
    assert.deepEqual(first.txCode, { inputMode: "numeric", length: 4 });
    const done = await t.startOID4VCIFlow({ preAuthorizedCode: "pac", txCodeInput: "4321", flowId: first.flowId ?? "" });
    assert.equal(done.success, true);
    assert.deepEqual(done.credentials, [{ credential: "issued~", format: "dc+sd-jwt" }]);
    const credCall = b.calls.find((c) => c.url.endsWith("/credential"));
    const proof = ((credCall?.data as { proofs: { jwt: string[] } }).proofs.jwt[0] ?? "").split(".")[1] ?? "";
    assert.equal((JSON.parse(b64uDecodeText(proof)) as { nonce: string }).nonce, "cn");
    const wrong = await t.startOID4VCIFlow({ credentialOffer: offer, txCodeInput: "0000" });
    assert.equal(wrong.error?.code, "TOKEN_ERROR");
    const vp = await t.startOID4VPFlow({ requestUriRef: "https://v", clientId: "x" });
    assert.equal(vp.error?.code, "UNSUPPORTED");
    await b.close();
  });

  it("a disabled proxy is a clear PROXY_DISABLED error", async () => {
    const b = await start(false);
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- testing the legacy transport
    const t = new HttpProxyTransport({ backendUrl: b.url, token: "tok" });
    const r = await t.startOID4VCIFlow({ credentialOffer: offer });
    assert.equal(r.error?.code, "PROXY_DISABLED");
    await b.close();
  });
});
