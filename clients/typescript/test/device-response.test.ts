import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, sign, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { CborTag, b64uDecode, buildDeviceResponse, cborGet, decodeCbor, encodeCbor, sessionTranscript, type Cbor, type MdocDeviceAuthRequest } from "../src/index.js";
import { vectorDir } from "./helpers/vectors.js";

const root = join(vectorDir(), "..", "..", "..");
const fixture = JSON.parse(readFileSync(join(root, "crates/protocol/src/mdoc/fixture.json"), "utf8")) as { credential: string };
// Computed by the Rust protocol crate (its own test checks this fixture's transcript).
const rustFrame = JSON.parse(readFileSync(join(root, "crates/protocol/tests/fixtures/server/sign_request_sign_presentation_mdoc.json"), "utf8")) as {
  params: { mdoc: MdocDeviceAuthRequest };
};
const request = rustFrame.params.mdoc;
const NS = "org.iso.18013.5.1";

describe("mdoc DeviceResponse (answering the DeviceAuth signing request)", () => {
  it("re-encodes an issued mdoc byte for byte (the encoder is canonical like the issuer's)", () => {
    const bytes = b64uDecode(fixture.credential);
    assert.deepEqual(encodeCbor(decodeCbor(bytes)), bytes);
  });

  it("recomputes the Rust engine's SessionTranscript and refuses a mismatch", () => {
    assert.deepEqual(encodeCbor(sessionTranscript(request)), b64uDecode(request.session_transcript));
    assert.throws(() => sessionTranscript({ ...request, nonce: "other" }), /does not match/);
    assert.throws(() => sessionTranscript({ ...request, response_uri: null }), /needs response_uri/);
    assert.throws(() => sessionTranscript({ ...request, handover: "OpenID4VPDCAPIHandover" }), /needs origin/);
  });

  it("discloses only the chosen elements and signs DeviceAuthentication with the device key", async () => {
    const key = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const signer = async (tbs: Uint8Array) => Uint8Array.from(sign("sha256", tbs, { key: key.privateKey, dsaEncoding: "ieee-p1363" }));
    const out = await buildDeviceResponse(fixture.credential, [`${NS}.age_over_18`, `${NS}.nope`], request, signer);
    const resp = decodeCbor(b64uDecode(out));
    assert.equal(cborGet(resp, "version"), "1.0");
    assert.equal(cborGet(resp, "status"), 0);
    const doc = (cborGet(resp, "documents") as Cbor[])[0];
    assert.equal(cborGet(doc, "docType"), "org.iso.18013.5.1.mDL");
    const original = decodeCbor(b64uDecode(fixture.credential));
    const shown = cborGet(cborGet(cborGet(doc, "issuerSigned"), "nameSpaces"), NS) as CborTag[];
    assert.equal(shown.length, 1);
    const item = decodeCbor(shown[0]?.value as Uint8Array);
    assert.equal(cborGet(item, "elementIdentifier"), "age_over_18");
    const originalItems = cborGet(cborGet(original, "nameSpaces"), NS) as CborTag[];
    assert.ok(originalItems.some((t) => Buffer.from(t.value as Uint8Array).equals(Buffer.from(shown[0]?.value as Uint8Array))), "the item bytes are the issued ones");
    assert.deepEqual(encodeCbor(cborGet(cborGet(doc, "issuerSigned"), "issuerAuth")), encodeCbor(cborGet(original, "issuerAuth")));
    // The COSE_Sign1 verifies over the detached DeviceAuthenticationBytes of the transcript.
    const deviceSigned = cborGet(doc, "deviceSigned");
    const [prot, , payload, signature] = cborGet(cborGet(deviceSigned, "deviceAuth"), "deviceSignature") as Cbor[];
    assert.equal(payload, null, "detached payload");
    assert.deepEqual(decodeCbor(prot as Uint8Array), new Map([[1, -7]]));
    const da = ["DeviceAuthentication", decodeCbor(b64uDecode(request.session_transcript)), "org.iso.18013.5.1.mDL", cborGet(deviceSigned, "nameSpaces")];
    const tbs = encodeCbor(["Signature1", prot, new Uint8Array(0), encodeCbor(new CborTag(24, encodeCbor(da)))]);
    assert.ok(verify("sha256", tbs, { key: key.publicKey, dsaEncoding: "ieee-p1363" }, signature as Uint8Array));
    // Nothing is signed for a request whose transcript does not match.
    await assert.rejects(buildDeviceResponse(fixture.credential, [], { ...request, nonce: "x" }, signer), /does not match/);
    await assert.rejects(buildDeviceResponse(fixture.credential, [], request, async () => new Uint8Array(3)), /64 bytes/);
    await assert.rejects(buildDeviceResponse("AAAA", [], request, signer));
  });
});

describe("mdoc DeviceResponse verified by the independent @owf/mdoc verifier (tests/interop)", () => {
  const interop = join(root, "tests", "interop");
  const ready = (() => {
    try {
      readFileSync(join(interop, "node_modules", "@owf", "mdoc", "package.json"));
      return true;
    } catch {
      return false;
    }
  })();
  it("a TS-built DeviceResponse of a freshly issued mDL verifies (issuer, device signature, transcript, digests)", { skip: ready ? false : "run npm ci in tests/interop" }, async () => {
    interface Interop {
      makePki(): { trusted: { iaca: Uint8Array } };
      issueMdoc(pki: unknown, kind: string, holderJwk: unknown): Promise<string>;
      verifyDeviceResponse(encoded: string, opts: Record<string, unknown>): Promise<{ docType: string; elements: Record<string, Record<string, unknown>> }[]>;
    }
    const m = (await import(join(interop, "mdoc.mjs"))) as Interop;
    const holder = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const pki = m.makePki();
    const credential = await m.issueMdoc(pki, "mdl", holder.publicKey.export({ format: "jwk" }));
    const enc = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" });
    const thumb = createHash("sha256").update(JSON.stringify({ crv: enc.crv, kty: enc.kty, x: enc.x, y: enc.y })).digest("base64url");
    const base = { handover: "OpenID4VPHandover" as const, client_id: "x509_san_dns:verifier.example", nonce: "n-1", response_uri: "https://verifier.example/post", documents: [] };
    for (const jwk_thumbprint of [null, thumb]) {
      const st = [null, null, ["OpenID4VPHandover", createHash("sha256").update(encodeCbor([base.client_id, base.nonce, jwk_thumbprint ? b64uDecode(jwk_thumbprint) : null, base.response_uri])).digest()]] as Cbor;
      const req: MdocDeviceAuthRequest = { ...base, jwk_thumbprint, session_transcript: Buffer.from(encodeCbor(st)).toString("base64url") };
      const signer = async (tbs: Uint8Array) => Uint8Array.from(sign("sha256", tbs, { key: holder.privateKey, dsaEncoding: "ieee-p1363" }));
      const out = await buildDeviceResponse(credential, [`${NS}.age_over_18`, `${NS}.given_name`], req, signer);
      const docs = await m.verifyDeviceResponse(out, { clientId: base.client_id, nonce: base.nonce, responseUri: base.response_uri, jwkThumbprint: jwk_thumbprint ? b64uDecode(jwk_thumbprint) : undefined, trusted: [pki.trusted.iaca] });
      assert.equal(docs[0]?.docType, "org.iso.18013.5.1.mDL");
      assert.deepEqual(Object.keys(docs[0]?.elements[NS] ?? {}).sort(), ["age_over_18", "given_name"]);
      // Signed for another nonce: the verifier refuses.
      await assert.rejects(m.verifyDeviceResponse(out, { clientId: base.client_id, nonce: "n-2", responseUri: base.response_uri, jwkThumbprint: jwk_thumbprint ? b64uDecode(jwk_thumbprint) : undefined, trusted: [pki.trusted.iaca] }));
    }
  });
});
