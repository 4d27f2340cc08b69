/**
 * SD-JWT VC as the holder sees it: the issuer JWT's payload, the disclosures by digest, every claim with the
 * disclosures put back in place (nested objects and array elements too), and the choice of disclosures a
 * presentation of given claim paths needs. Signatures are not verified here (the wallet verified the credential
 * when it stored it); see `../signer.ts` for key binding.
 */
import { b64uDecodeText, b64uEncode } from "../b64.js";
import { sha256 } from "./sha256.js";

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
/** A JSON object. */
export type JsonObject = { [k: string]: Json };

/** One disclosure: `[salt, name, value]` (object member) or `[salt, value]` (array element). */
export interface Disclosure {
  /** The base64url text as it appears in the SD-JWT. */
  encoded: string;
  /** base64url SHA-256 of `encoded` (what `_sd` / `...` reference). */
  digest: string;
  /** The member name; absent for an array element. */
  name?: string;
  /** The disclosed value. */
  value: Json;
}

/** Nesting deeper than this is not followed. */
const MAX_DEPTH = 32;

/** base64url SHA-256 of ASCII text (the disclosure digest). */
export function digestOf(text: string): string {
  return b64uEncode(sha256(new TextEncoder().encode(text)));
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A parsed SD-JWT (`<jwt>~<disclosure>~...~[kb-jwt]`). */
export class SdJwt {
  /** The issuer-signed JWT. */
  readonly jwt: string;
  /** The issued disclosures in their order. */
  readonly disclosures: Disclosure[];
  /** The JWT payload (`null` when it does not decode). */
  readonly payload: JsonObject | null;
  private readonly byDigest = new Map<string, Disclosure>();

  constructor(readonly raw: string) {
    const parts = raw.split("~");
    this.jwt = parts[0] ?? "";
    this.disclosures = [];
    for (const d of parts.slice(1)) {
      if (d === "" || d.includes(".")) continue;
      let arr: unknown;
      try {
        arr = JSON.parse(b64uDecodeText(d));
      } catch {
        continue;
      }
      if (!Array.isArray(arr)) continue;
      let disc: Disclosure | undefined;
      if (arr.length === 3 && typeof arr[1] === "string") disc = { encoded: d, digest: digestOf(d), name: arr[1], value: arr[2] as Json };
      else if (arr.length === 2) disc = { encoded: d, digest: digestOf(d), value: arr[1] as Json };
      if (disc) {
        this.disclosures.push(disc);
        this.byDigest.set(disc.digest, disc);
      }
    }
    let payload: JsonObject | null = null;
    try {
      const p: unknown = JSON.parse(b64uDecodeText(this.jwt.split(".")[1] ?? ""));
      if (isObject(p) && this.jwt.split(".").length === 3) payload = p;
    } catch {
      payload = null;
    }
    this.payload = payload;
  }

  /** The disclosure with this digest. */
  disclosure(digest: string): Disclosure | undefined {
    return this.byDigest.get(digest);
  }

  /** Every claim the holder could show, disclosures put back in place (`_sd`, `_sd_alg` removed). */
  allClaims(): JsonObject {
    if (!this.payload) return {};
    const out = this.resolve(this.payload, 0);
    if (!isObject(out)) return {};
    delete out._sd_alg;
    return out;
  }

  private resolve(node: Json, depth: number): Json {
    if (depth > MAX_DEPTH) return null;
    if (Array.isArray(node)) {
      const out: Json[] = [];
      for (const e of node) {
        const d = arrayDigest(e);
        if (d === undefined) out.push(this.resolve(e, depth + 1));
        else {
          const disc = this.byDigest.get(d);
          if (disc && disc.name === undefined) out.push(this.resolve(disc.value, depth + 1));
        }
      }
      return out;
    }
    if (isObject(node)) {
      const out: JsonObject = {};
      for (const [k, v] of Object.entries(node)) if (k !== "_sd") out[k] = this.resolve(v, depth + 1);
      const sd = node._sd;
      if (Array.isArray(sd)) {
        for (const d of sd) {
          const disc = typeof d === "string" ? this.byDigest.get(d) : undefined;
          if (disc?.name !== undefined) out[disc.name] = this.resolve(disc.value, depth + 1);
        }
      }
      return out;
    }
    return node;
  }

  /**
   * The digests of the disclosures needed to show `claimPaths` ("a", "a.b", "a.0", "a.*"): every disclosure on
   * the way to the claim and everything inside it.
   */
  disclosuresFor(claimPaths: readonly string[]): Set<string> {
    const out = new Set<string>();
    if (!this.payload) return out;
    for (const p of claimPaths) this.select(this.payload, parseClaimPath(p), out, 0);
    return out;
  }

  /** The SD-JWT with only the disclosures `claimPaths` need, ending in `~` (ready for a KB-JWT). */
  selectivelyDisclosed(claimPaths: readonly string[]): string {
    const needed = this.disclosuresFor(claimPaths);
    let base = `${this.jwt}~`;
    for (const d of this.disclosures) if (needed.has(d.digest)) base += `${d.encoded}~`;
    return base;
  }

  private select(node: Json, path: (string | number | null)[], out: Set<string>, depth: number): void {
    if (depth > MAX_DEPTH) return;
    if (path.length === 0) {
      this.selectAll(node, out, depth);
      return;
    }
    const [step, ...rest] = path;
    if (typeof step === "string" && isObject(node)) {
      if (step !== "_sd" && Object.hasOwn(node, step)) this.select(node[step] as Json, rest, out, depth + 1);
      const sd = node._sd;
      if (Array.isArray(sd)) {
        for (const d of sd) {
          const disc = typeof d === "string" ? this.byDigest.get(d) : undefined;
          if (disc?.name === step) {
            out.add(disc.digest);
            this.select(disc.value, rest, out, depth + 1);
          }
        }
      }
    } else if (typeof step === "number" && Array.isArray(node)) {
      const e = node[step];
      if (e !== undefined) this.selectElement(e, rest, out, depth);
    } else if (step === null && Array.isArray(node)) {
      for (const e of node) this.selectElement(e, rest, out, depth);
    }
  }

  private selectElement(e: Json, rest: (string | number | null)[], out: Set<string>, depth: number): void {
    const d = arrayDigest(e);
    if (d === undefined) {
      this.select(e, rest, out, depth + 1);
      return;
    }
    const disc = this.byDigest.get(d);
    if (disc && disc.name === undefined) {
      out.add(d);
      this.select(disc.value, rest, out, depth + 1);
    }
  }

  private selectAll(node: Json, out: Set<string>, depth: number): void {
    if (depth > MAX_DEPTH) return;
    if (Array.isArray(node)) {
      for (const e of node) this.selectElement(e, [], out, depth);
    } else if (isObject(node)) {
      for (const [k, v] of Object.entries(node)) {
        if (k === "_sd") {
          if (!Array.isArray(v)) continue;
          for (const d of v) {
            const disc = typeof d === "string" ? this.byDigest.get(d) : undefined;
            if (disc?.name !== undefined) {
              out.add(disc.digest);
              this.selectAll(disc.value, out, depth + 1);
            }
          }
        } else {
          this.selectAll(v, out, depth + 1);
        }
      }
    }
  }
}

function arrayDigest(e: Json): string | undefined {
  if (!isObject(e)) return undefined;
  const keys = Object.keys(e);
  if (keys.length !== 1 || keys[0] !== "...") return undefined;
  const d = e["..."];
  return typeof d === "string" ? d : undefined;
}

/** A "." joined claim path back to DCQL path elements ("*" is `null`, digits are indexes). */
export function parseClaimPath(p: string): (string | number | null)[] {
  return p.split(".").map((s) => (s === "*" ? null : /^[0-9]+$/.test(s) && Number.isSafeInteger(Number(s)) ? Number(s) : s));
}
