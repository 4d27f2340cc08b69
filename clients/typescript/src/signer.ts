/**
 * A WebCrypto {@link Signer} for SD-JWT VC wallets: OID4VCI JWT proofs (`openid4vci-proof+jwt`) and OID4VP
 * presentations (selective disclosure of exactly the consented claims plus a `kb+jwt` key-binding JWT). The
 * private key is a WebCrypto `CryptoKey` (create it non-extractable unless you must persist it in the keystore);
 * it never leaves the caller.
 */
import { b64uEncode, b64uEncodeText } from "./b64.js";
import { SdJwt } from "./matcher/sdjwt.js";
import { sha256 } from "./matcher/sha256.js";
import type { Proof } from "./protocol.js";
import type { ClientAttestationPopRequest, PresentationRequest, ProofRequest, Signer } from "./signing-types.js";

const ES256 = { name: "ECDSA", namedCurve: "P-256" } as const;

/** A new ES256 key pair (`extractable` only when you must export the private key, e.g. into the keystore). */
export async function generateHolderKey(extractable = false): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(ES256, extractable, ["sign", "verify"]);
}

/** The public JWK of a key (`{kty, crv, x, y}` only). */
export async function publicJwk(key: CryptoKey): Promise<JsonWebKey> {
  const jwk = await crypto.subtle.exportKey("jwk", key);
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
}

/** Imports a private JWK (e.g. from the keystore) as a non-extractable signing key. */
export async function importPrivateJwk(jwk: JsonWebKey): Promise<CryptoKey> {
  return crypto.subtle.importKey("jwk", jwk, ES256, false, ["sign"]);
}

/** Signs a compact JWS with ES256 (`alg` is set in the header). */
export async function signJwt(privateKey: CryptoKey, header: Record<string, unknown>, payload: Record<string, unknown>): Promise<string> {
  const input = `${b64uEncodeText(JSON.stringify({ ...header, alg: "ES256" }))}.${b64uEncodeText(JSON.stringify(payload))}`;
  // WebCrypto ECDSA signatures are already r||s, the JOSE form.
  const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, new TextEncoder().encode(input));
  return `${input}.${b64uEncode(new Uint8Array(sig))}`;
}

/** Options of {@link createWebCryptoSigner}. */
export interface WebCryptoSignerOptions {
  /** The holder key pair (the public key goes into proofs as `jwk`). */
  key: CryptoKeyPair;
  /**
   * Keys for batch proofs: called with the proof index when the engine asks for `count > 1`. Default: the same
   * key for every proof.
   */
  keyFor?: (index: number) => Promise<CryptoKeyPair> | CryptoKeyPair;
  /** The stored SD-JWT of a credential id (used when the consent did not hand the raw credential over). */
  credential?: (id: string) => Promise<string | undefined> | string | undefined;
  /** The signing key of a credential (default: `key`). */
  keyForCredential?: (id: string) => Promise<CryptoKey> | CryptoKey;
  /** Seconds since the epoch (injectable for tests). */
  now?: () => number;
  /** Most proofs one request may ask for. Default 32. */
  maxProofs?: number;
  /** The wallet instance key for `client_attestation_pop` (default: `key`). */
  instanceKey?: CryptoKeyPair;
  /** Lifetime of a client attestation PoP in seconds. Default 300. */
  popLifetimeSecs?: number;
}

/** A {@link Signer} whose `vp_token` is always JSON text. */
export interface WebCryptoSigner extends Signer {
  signPresentation(request: PresentationRequest): Promise<string>;
  clientAttestationPop(request: ClientAttestationPopRequest): Promise<string>;
}

/** A {@link Signer} over WebCrypto keys; see the module docs. */
export function createWebCryptoSigner(options: WebCryptoSignerOptions): WebCryptoSigner {
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  return {
    async generateProofs(req: ProofRequest): Promise<Proof[]> {
      const p = req.params;
      if (typeof p.audience !== "string" || p.audience === "") throw new Error("generate_proof without audience");
      const types = p.proof_types_supported;
      if (types && !("jwt" in types)) throw new Error("the issuer accepts no jwt proofs");
      const algs = types?.jwt?.proof_signing_alg_values_supported;
      if (Array.isArray(algs) && algs.length > 0 && !algs.includes("ES256")) throw new Error("the issuer accepts no ES256 proofs");
      const count = Math.max(1, Math.min(typeof p.count === "number" ? Math.floor(p.count) : 1, options.maxProofs ?? 32));
      const proofs: Proof[] = [];
      for (let i = 0; i < count; i++) {
        const pair = options.keyFor ? await options.keyFor(i) : options.key;
        const claims: Record<string, unknown> = { aud: p.audience, iat: now() };
        if (typeof p.nonce === "string" && p.nonce !== "") claims.nonce = p.nonce;
        if (typeof p.issuer === "string" && p.issuer !== "") claims.iss = p.issuer;
        const jwt = await signJwt(pair.privateKey, { typ: "openid4vci-proof+jwt", jwk: await publicJwk(pair.publicKey) }, claims);
        proofs.push({ proof_type: "jwt", jwt });
      }
      return proofs;
    },
    async clientAttestationPop(req: ClientAttestationPopRequest): Promise<string> {
      const p = req.params;
      if (typeof p.audience !== "string" || p.audience === "") throw new Error("client_attestation_pop without audience");
      const pair = options.instanceKey ?? options.key;
      const iat = now();
      const claims: Record<string, unknown> = { aud: p.audience, jti: crypto.randomUUID(), iat, exp: iat + (options.popLifetimeSecs ?? 300) };
      if (typeof p.challenge === "string") claims.challenge = p.challenge;
      if (typeof p.client_id === "string" && p.client_id !== "") claims.iss = p.client_id;
      return signJwt(pair.privateKey, { typ: "oauth-client-attestation-pop+jwt", jwk: await publicJwk(pair.publicKey) }, claims);
    },
    async signPresentation(req: PresentationRequest): Promise<string> {
      const p = req.params;
      if (typeof p.audience !== "string" || typeof p.nonce !== "string") throw new Error("sign_presentation without audience or nonce");
      if (!Array.isArray(p.credentials_to_include) || p.credentials_to_include.length === 0) throw new Error("nothing to present");
      const token: Record<string, string[]> = {};
      for (const c of p.credentials_to_include) {
        const raw = req.rawCredentials.get(c.credential_id) ?? (options.credential ? await options.credential(c.credential_id) : undefined);
        if (!raw) throw new Error(`unknown credential ${c.credential_id}`);
        const base = new SdJwt(raw).selectivelyDisclosed(Array.isArray(c.disclosed_claims) ? c.disclosed_claims : []);
        const claims: Record<string, unknown> = {
          aud: p.audience,
          nonce: p.nonce,
          iat: now(),
          sd_hash: b64uEncode(sha256(new TextEncoder().encode(base))),
        };
        if (Array.isArray(p.transaction_data) && p.transaction_data.length > 0) {
          claims.transaction_data_hashes = p.transaction_data.map((t) => b64uEncode(sha256(new TextEncoder().encode(t))));
          claims.transaction_data_hashes_alg = "sha-256";
        }
        const key = options.keyForCredential ? await options.keyForCredential(c.credential_id) : options.key.privateKey;
        const kb = await signJwt(key, { typ: "kb+jwt" }, claims);
        (token[c.credential_query_id] ??= []).push(base + kb);
      }
      return JSON.stringify(token);
    },
  };
}
