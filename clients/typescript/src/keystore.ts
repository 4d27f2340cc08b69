/**
 * The client-side keystore: a key derived from the passkey's PRF output with HKDF-SHA-256, and blobs encrypted
 * with AES-256-GCM in WebCrypto before they reach storage. walletd only ever stores the ciphertext.
 *
 * Layout: a random data key (DEK) encrypts every blob; the DEK is wrapped once per passkey by a key-encryption
 * key (KEK) = HKDF(PRF output, per-wrapper random salt, info "walletd keystore v1 kek"). The serialised
 * keystore (what goes into `privateData` / the `keystore` blob) holds the wrappers and an encrypted secrets
 * section (e.g. the holder's private JWK); nothing in it is readable without a PRF output.
 *
 * Blob format: `0x01 || iv (12 bytes) || AES-GCM ciphertext with tag`; the caller's `aad` (use the blob id)
 * is authenticated, so the server cannot swap blobs between ids undetected.
 */
import { b64uDecode, b64uEncode } from "./b64.js";

const KEK_INFO = "walletd keystore v1 kek";
const SECRETS_AAD = "walletd keystore v1 secrets";
const BLOB_VERSION = 1;
const enc = new TextEncoder();

/** Decryption failed: wrong key, tampered data, or not a keystore/blob of this format. */
export class KeystoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeystoreError";
  }
}

function bytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

function buf(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/**
 * Derives an AES-256-GCM key from PRF output with HKDF-SHA-256. The key is non-extractable.
 * @param prfOutput the passkey's PRF result (`clientExtensionResults.prf.results.first`), at least 16 bytes
 * @param salt random per keystore wrapper, stored beside it
 * @param info context string binding the key to its use
 */
export async function deriveKeystoreKey(prfOutput: Uint8Array, salt: Uint8Array, info: string = KEK_INFO): Promise<CryptoKey> {
  if (prfOutput.byteLength < 16) throw new KeystoreError("the PRF output is too short");
  const ikm = await crypto.subtle.importKey("raw", buf(prfOutput), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: buf(salt), info: buf(enc.encode(info)) },
    ikm,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/** Encrypts `plaintext` with AES-GCM (fresh random IV) into the blob format of the module docs. */
export async function encryptBlob(key: CryptoKey, plaintext: Uint8Array, aad = ""): Promise<Uint8Array> {
  const iv = bytes(12);
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: buf(iv), additionalData: buf(enc.encode(aad)) }, key, buf(plaintext)));
  const out = new Uint8Array(1 + iv.length + ct.length);
  out[0] = BLOB_VERSION;
  out.set(iv, 1);
  out.set(ct, 13);
  return out;
}

/** Decrypts a blob of {@link encryptBlob}; throws {@link KeystoreError} on a wrong key, `aad` or any tampering. */
export async function decryptBlob(key: CryptoKey, blob: Uint8Array, aad = ""): Promise<Uint8Array> {
  if (blob.length < 1 + 12 + 16 || blob[0] !== BLOB_VERSION) throw new KeystoreError("not an encrypted blob of this format");
  try {
    const pt = await crypto.subtle.decrypt({ name: "AES-GCM", iv: buf(blob.subarray(1, 13)), additionalData: buf(enc.encode(aad)) }, key, buf(blob.subarray(13)));
    return new Uint8Array(pt);
  } catch {
    throw new KeystoreError("the blob does not decrypt: wrong key or tampered data");
  }
}

interface Wrapper {
  /** Which passkey (its credential id, base64url), when known. */
  credential_id?: string;
  salt: string;
  /** The DEK encrypted under the KEK (blob format, base64url). */
  dek: string;
}

interface Container {
  walletd_keystore: 1;
  wrappers: Wrapper[];
  /** Secrets JSON encrypted under the DEK (blob format, base64url). */
  secrets: string;
}

/** An unlocked keystore: encrypts and decrypts blobs, and holds small secrets (e.g. the holder key). */
export class Keystore {
  private constructor(
    private readonly dek: CryptoKey,
    private readonly rawDek: Uint8Array,
    private wrappers: Wrapper[],
    private secrets: Record<string, unknown>,
  ) {}

  /**
   * A new keystore unlocked by one passkey's PRF output.
   * @param credentialId the passkey's credential id, recorded so `open` tries its wrapper first
   */
  static async create(prfOutput: Uint8Array, credentialId?: Uint8Array): Promise<Keystore> {
    const rawDek = bytes(32);
    const dek = await crypto.subtle.importKey("raw", buf(rawDek), "AES-GCM", false, ["encrypt", "decrypt"]);
    const ks = new Keystore(dek, rawDek, [], {});
    await ks.addPasskey(prfOutput, credentialId);
    return ks;
  }

  /**
   * Opens a serialised keystore with a PRF output; throws {@link KeystoreError} when no wrapper opens with it
   * or the data was tampered with.
   */
  static async open(serialised: Uint8Array, prfOutput: Uint8Array, credentialId?: Uint8Array): Promise<Keystore> {
    let c: Container;
    try {
      c = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(serialised)) as Container;
    } catch {
      throw new KeystoreError("not a serialised keystore");
    }
    if (c.walletd_keystore !== 1 || !Array.isArray(c.wrappers) || typeof c.secrets !== "string") throw new KeystoreError("not a serialised keystore");
    const cid = credentialId ? b64uEncode(credentialId) : undefined;
    const ordered = [...c.wrappers].sort((a, b) => Number(b.credential_id === cid) - Number(a.credential_id === cid));
    for (const w of ordered) {
      let rawDek: Uint8Array;
      try {
        const kek = await deriveKeystoreKey(prfOutput, b64uDecode(w.salt));
        rawDek = await decryptBlob(kek, b64uDecode(w.dek), `dek:${w.salt}`);
      } catch {
        continue;
      }
      const dek = await crypto.subtle.importKey("raw", buf(rawDek), "AES-GCM", false, ["encrypt", "decrypt"]);
      let secrets: Record<string, unknown>;
      try {
        secrets = JSON.parse(new TextDecoder().decode(await decryptBlob(dek, b64uDecode(c.secrets), SECRETS_AAD))) as Record<string, unknown>;
      } catch {
        throw new KeystoreError("the keystore's secrets do not decrypt: tampered data");
      }
      return new Keystore(dek, rawDek, c.wrappers, secrets);
    }
    throw new KeystoreError("no passkey wrapper of this keystore opens with this PRF output");
  }

  /** Lets another passkey (its PRF output) open this keystore too. */
  async addPasskey(prfOutput: Uint8Array, credentialId?: Uint8Array): Promise<void> {
    const salt = b64uEncode(bytes(32));
    const kek = await deriveKeystoreKey(prfOutput, b64uDecode(salt));
    const dek = b64uEncode(await encryptBlob(kek, this.rawDek, `dek:${salt}`));
    this.wrappers.push({ ...(credentialId ? { credential_id: b64uEncode(credentialId) } : {}), salt, dek });
  }

  /** Removes the wrapper of a passkey (by credential id). */
  removePasskey(credentialId: Uint8Array): void {
    const id = b64uEncode(credentialId);
    this.wrappers = this.wrappers.filter((w) => w.credential_id !== id);
  }

  /** A secret stored inside the keystore. */
  getSecret(name: string): unknown {
    return Object.hasOwn(this.secrets, name) ? this.secrets[name] : undefined;
  }

  /** Stores a JSON-serialisable secret inside the keystore (persist with {@link serialise}). */
  setSecret(name: string, value: unknown): void {
    this.secrets[name] = value;
  }

  /** The keystore as bytes for storage (`privateData` / the `keystore` blob): wrappers and encrypted secrets. */
  async serialise(): Promise<Uint8Array> {
    const secrets = b64uEncode(await encryptBlob(this.dek, enc.encode(JSON.stringify(this.secrets)), SECRETS_AAD));
    const c: Container = { walletd_keystore: 1, wrappers: this.wrappers, secrets };
    return enc.encode(JSON.stringify(c));
  }

  /** Encrypts a blob for storage; `id` is authenticated (use the storage id). */
  encrypt(plaintext: Uint8Array, id = ""): Promise<Uint8Array> {
    return encryptBlob(this.dek, plaintext, `blob:${id}`);
  }

  /** Decrypts a blob of {@link encrypt} stored under `id`. */
  decrypt(blob: Uint8Array, id = ""): Promise<Uint8Array> {
    return decryptBlob(this.dek, blob, `blob:${id}`);
  }

  /** Encrypts JSON. */
  encryptJson(value: unknown, id = ""): Promise<Uint8Array> {
    return this.encrypt(enc.encode(JSON.stringify(value)), id);
  }

  /** Decrypts JSON. */
  async decryptJson(blob: Uint8Array, id = ""): Promise<unknown> {
    return JSON.parse(new TextDecoder().decode(await this.decrypt(blob, id))) as unknown;
  }
}
