import assert from "node:assert/strict";
import { createPublicKey, verify } from "node:crypto";
import { describe, it } from "node:test";
import {
  Keystore,
  KeystoreError,
  SdJwt,
  createWebCryptoSigner,
  decryptBlob,
  deriveKeystoreKey,
  encryptBlob,
  generateHolderKey,
  importPrivateJwk,
  publicJwk,
  b64uDecode,
  b64uDecodeText,
  b64uEncode,
  digestOf,
} from "../src/index.js";
import { loadVectors } from "./helpers/vectors.js";

const prf = (seed: number) => new Uint8Array(32).map((_, i) => (i * 31 + seed) & 255);
const text = (s: string) => new TextEncoder().encode(s);

describe("keystore crypto", () => {
  it("decrypts what WebCrypto encrypted under the PRF-derived key", async () => {
    const salt = new Uint8Array(32).fill(7);
    const key = await deriveKeystoreKey(prf(1), salt);
    const blob = await encryptBlob(key, text("credential bytes"), "blob:c1");
    assert.equal(blob[0], 1);
    assert.ok(!Buffer.from(blob).includes(Buffer.from("credential bytes")), "no plaintext in the blob");
    const again = await deriveKeystoreKey(prf(1), salt);
    assert.equal(new TextDecoder().decode(await decryptBlob(again, blob, "blob:c1")), "credential bytes");
    // Raw WebCrypto interop: the blob is iv || AES-GCM output of the HKDF key.
    const ikm = await crypto.subtle.importKey("raw", prf(1), "HKDF", false, ["deriveKey"]);
    const k2 = await crypto.subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt, info: text("walletd keystore v1 kek") }, ikm, { name: "AES-GCM", length: 256 }, false, ["decrypt"]);
    const pt = await crypto.subtle.decrypt({ name: "AES-GCM", iv: blob.slice(1, 13), additionalData: text("blob:c1") }, k2, blob.slice(13));
    assert.equal(new TextDecoder().decode(pt), "credential bytes");
  });

  it("fails on tampering, a wrong key, a wrong id and garbage", async () => {
    const key = await deriveKeystoreKey(prf(1), new Uint8Array(16));
    const blob = await encryptBlob(key, text("secret"), "a");
    for (const i of [0, 5, 20, blob.length - 1]) {
      const t = blob.slice();
      t[i] = (t[i] ?? 0) ^ 1;
      await assert.rejects(decryptBlob(key, t, "a"), KeystoreError, `flipped byte ${i}`);
    }
    await assert.rejects(decryptBlob(await deriveKeystoreKey(prf(2), new Uint8Array(16)), blob, "a"), KeystoreError);
    await assert.rejects(decryptBlob(key, blob, "b"), KeystoreError, "the id is authenticated");
    await assert.rejects(decryptBlob(key, blob.slice(0, 20), "a"), KeystoreError);
    await assert.rejects(deriveKeystoreKey(new Uint8Array(4), new Uint8Array(16)), KeystoreError);
  });

  it("a keystore opens with its passkey's PRF, not another; secrets survive; a second passkey works", async () => {
    const cid = text("cred-1");
    const ks = await Keystore.create(prf(1), cid);
    const holder = await generateHolderKey(true);
    ks.setSecret("holder_key", await crypto.subtle.exportKey("jwk", holder.privateKey));
    const blob = await ks.encryptJson({ sd_jwt: "x~y~" }, "c1");
    await ks.addPasskey(prf(9), text("cred-2"));
    const bytes = await ks.serialise();
    const serialised = new TextDecoder().decode(bytes);
    assert.ok(!serialised.includes('"d"'), "the private key is not in clear");
    const reopened = await Keystore.open(bytes, prf(1), cid);
    assert.deepEqual(await reopened.decryptJson(blob, "c1"), { sd_jwt: "x~y~" });
    const jwk = reopened.getSecret("holder_key") as JsonWebKey | undefined;
    assert.ok(jwk?.d);
    await importPrivateJwk(jwk);
    const viaSecond = await Keystore.open(bytes, prf(9));
    assert.deepEqual(await viaSecond.decryptJson(blob, "c1"), { sd_jwt: "x~y~" });
    await assert.rejects(Keystore.open(bytes, prf(3)), KeystoreError);
    const tampered = JSON.parse(serialised) as { secrets: string };
    const s = b64uDecode(tampered.secrets);
    s[s.length - 1] = (s[s.length - 1] ?? 0) ^ 1;
    tampered.secrets = b64uEncode(s);
    await assert.rejects(Keystore.open(text(JSON.stringify(tampered)), prf(1)), KeystoreError);
    await assert.rejects(Keystore.open(text("not json"), prf(1)), KeystoreError);
  });
});

describe("WebCrypto signer", () => {
  const verifyJwt = (jwt: string, jwk: JsonWebKey) => {
    const [h, p, s] = jwt.split(".");
    const key = createPublicKey({ key: jwk as import("node:crypto").JsonWebKey, format: "jwk" });
    return verify("sha256", Buffer.from(`${h ?? ""}.${p ?? ""}`), { key, dsaEncoding: "ieee-p1363" }, Buffer.from(s ?? "", "base64url"));
  };

  it("makes verifiable proof JWTs with the public key in the header", async () => {
    const key = await generateHolderKey();
    const signer = createWebCryptoSigner({ key, now: () => 1000 });
    const proofs = await signer.generateProofs({ flowId: "f", messageId: "m", params: { audience: "https://i", nonce: "n1", count: 2, proof_types_supported: { jwt: { proof_signing_alg_values_supported: ["ES256"] } } } });
    assert.equal(proofs.length, 2);
    for (const p of proofs) {
      const [h, c] = (p.jwt ?? "").split(".");
      const header = JSON.parse(b64uDecodeText(h ?? "")) as { typ: string; alg: string; jwk: JsonWebKey };
      assert.equal(header.typ, "openid4vci-proof+jwt");
      assert.equal(header.alg, "ES256");
      assert.deepEqual(JSON.parse(b64uDecodeText(c ?? "")), { aud: "https://i", iat: 1000, nonce: "n1" });
      assert.ok(verifyJwt(p.jwt ?? "", await publicJwk(key.publicKey)));
    }
    await assert.rejects(signer.generateProofs({ flowId: "f", messageId: "m", params: { audience: "a", proof_types_supported: { attestation: {} } } }));
  });

  it("signs client attestation PoPs with the instance key (provider_attestations)", async () => {
    const key = await generateHolderKey();
    const instance = await generateHolderKey();
    const signer = createWebCryptoSigner({ key, instanceKey: instance, now: () => 2000, popLifetimeSecs: 60 });
    const pop = await signer.clientAttestationPop({ flowId: "f", messageId: "m", params: { audience: "https://provider", challenge: "ch", client_id: "cid" } });
    const [h, c] = pop.split(".");
    const header = JSON.parse(b64uDecodeText(h ?? "")) as { typ: string; jwk: JsonWebKey };
    assert.equal(header.typ, "oauth-client-attestation-pop+jwt");
    assert.deepEqual(header.jwk, await publicJwk(instance.publicKey));
    const claims = JSON.parse(b64uDecodeText(c ?? "")) as Record<string, unknown>;
    assert.equal(claims.aud, "https://provider");
    assert.equal(claims.challenge, "ch");
    assert.equal(claims.iss, "cid");
    assert.equal(claims.exp, 2060);
    assert.equal(typeof claims.jti, "string");
    assert.ok(verifyJwt(pop, await publicJwk(instance.publicKey)));
    await assert.rejects(signer.clientAttestationPop({ flowId: "f", messageId: "m", params: { audience: "" } }));
  });

  it("presents exactly the consented disclosures with a KB-JWT over them", async () => {
    const key = await generateHolderKey();
    const file = loadVectors().find((f) => f.file === "sd-jwt-dcql.json");
    const cred = file?.credentials.find((c) => c.id === "pid-1");
    assert.ok(cred);
    const signer = createWebCryptoSigner({ key, credential: (id) => (id === "pid-1" ? cred.credential : undefined) });
    const vp = await signer.signPresentation({
      flowId: "f",
      messageId: "m",
      rawCredentials: new Map(),
      params: { audience: "x509_san_dns:v.example", nonce: "n2", transaction_data: ["dA"], credentials_to_include: [{ credential_id: "pid-1", credential_query_id: "pid", disclosed_claims: ["address.locality"] }] },
    });
    const token = JSON.parse(vp) as Record<string, string[]>;
    const pres = token.pid?.[0] ?? "";
    const base = pres.slice(0, pres.lastIndexOf("~") + 1);
    const kb = pres.slice(pres.lastIndexOf("~") + 1);
    const shown = new SdJwt(base).disclosures.map((d) => d.encoded);
    assert.deepEqual(shown, [cred.disclosures?.locality, cred.disclosures?.address]);
    const claims = JSON.parse(b64uDecodeText(kb.split(".")[1] ?? "")) as Record<string, unknown>;
    assert.equal(claims.aud, "x509_san_dns:v.example");
    assert.equal(claims.nonce, "n2");
    assert.equal(claims.sd_hash, digestOf(base));
    assert.deepEqual(claims.transaction_data_hashes, [digestOf("dA")]);
    assert.ok(verifyJwt(kb, await publicJwk(key.publicKey)));
    await assert.rejects(signer.signPresentation({ flowId: "f", messageId: "m", rawCredentials: new Map(), params: { audience: "a", nonce: "n", credentials_to_include: [{ credential_id: "unknown", credential_query_id: "q", disclosed_claims: [] }] } }));
  });
});
