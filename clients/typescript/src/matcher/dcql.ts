/**
 * DCQL matching over SD-JWT VCs and mdocs (`mso_mdoc`, see `mdoc.ts`), with the same semantics as the Rust holder
 * (`crates/wallet/src/dcql.rs`, `mdoc.rs`):
 * the first credential of the wallet (in order) that satisfies a credential query answers it; only requested
 * claims are disclosed, and with `claim_sets` only those of the first set the credential satisfies;
 * `credential_sets` choose, per set, the first option whose queries all matched.
 * The shared vectors in `tests/vectors/matching/` check both implementations.
 */
import { matchMdoc, MDOC_FORMAT, type Mdoc } from "./mdoc.js";
import { jsonEqual, member, selectClaims } from "./claims.js";
import type { Json, JsonObject, SdJwt } from "./sdjwt.js";

export { jsonEqual, member } from "./claims.js";

/** One credential chosen for one credential query. */
export interface Match {
  /** The credential query (or input descriptor) id. */
  query_id: string;
  /** The wallet's id of the credential. */
  credential_id: string;
  /** The requested claim paths joined with "." (what `consent.disclosed_claims` carries). */
  disclosed_claims: string[];
}

/** A wallet credential as the matchers see it. */
export interface MatchableCredential {
  /** The wallet's id. */
  id: string;
  /** The parsed SD-JWT (SD-JWT VC credentials). */
  sdJwt?: SdJwt;
  /** Cached `sdJwt.allClaims()` (`{}` for an mdoc). */
  claims: JsonObject;
  /** The parsed mdoc (`mso_mdoc` credentials). */
  mdoc?: Mdoc;
}

const SD_JWT_FORMATS = new Set(["dc+sd-jwt", "vc+sd-jwt"]);

/** A claim path as `consent.disclosed_claims` carries it: elements joined with "." (`null` as "*"). */
export function joinPath(path: readonly Json[]): string {
  return path.map((p) => (typeof p === "string" ? p : p === null ? "*" : JSON.stringify(p))).join(".");
}

/** The value at a DCQL claims path; `null` (or any non-string, non-number element) selects a whole array. */
export function lookup(claims: JsonObject, path: readonly Json[]): Json | undefined {
  const [first, ...rest] = path;
  if (typeof first !== "string") return undefined;
  let cur = member(claims, first);
  for (const p of rest) {
    if (cur === undefined) return undefined;
    if (typeof p === "string") cur = member(cur, p);
    else if (typeof p === "number") cur = Number.isInteger(p) && p >= 0 && Array.isArray(cur) ? cur[p] : undefined;
    else cur = Array.isArray(cur) ? cur : undefined;
  }
  return cur;
}

/** The disclosed claim paths if `cred` satisfies credential query `q`, else `null`. */
export function matchOne(q: Json, cred: MatchableCredential): string[] | null {
  const format = member(q, "format");
  if (format === MDOC_FORMAT) return cred.mdoc ? matchMdoc(q, cred.mdoc) : null;
  if (typeof format !== "string" || !SD_JWT_FORMATS.has(format) || !cred.sdJwt) return null;
  const claims = cred.claims;
  const vctValues = member(member(q, "meta"), "vct_values");
  const vcts = Array.isArray(vctValues) ? vctValues.filter((v): v is string => typeof v === "string") : [];
  if (vcts.length > 0) {
    const vct = member(claims, "vct");
    if (typeof vct !== "string" || !vcts.includes(vct)) return null;
  }
  const requestedRaw = member(q, "claims");
  const requested: Json[] = Array.isArray(requestedRaw) ? requestedRaw : [];
  const one = (cl: Json): string | null => {
    const path = member(cl, "path");
    if (!Array.isArray(path)) return null;
    const value = lookup(claims, path);
    if (value === undefined) return null;
    const values = member(cl, "values");
    if (Array.isArray(values) && !values.some((v) => jsonEqual(v, value))) return null;
    return joinPath(path);
  };
  return selectClaims(q, requested, one);
}

/**
 * Matches a DCQL query. Without `credential_sets` every credential query is needed; with them each required set
 * is answered by its first option whose queries all matched (optional sets too when one option matched), and
 * only the queries of chosen options are answered. `null` when a needed query has no credential.
 */
export function matchDcql(query: Json, wallet: readonly MatchableCredential[]): Match[] | null {
  const creds = member(query, "credentials");
  if (!Array.isArray(creds)) return null;
  const found: [string, Match | null][] = [];
  for (const q of creds) {
    const id = member(q, "id");
    if (typeof id !== "string") return null;
    let m: Match | null = null;
    for (const c of wallet) {
      const claims = matchOne(q, c);
      if (claims) {
        m = { query_id: id, credential_id: c.id, disclosed_claims: claims };
        break;
      }
    }
    found.push([id, m]);
  }
  const get = (id: Json): Match | null => (typeof id === "string" ? (found.find(([q]) => q === id)?.[1] ?? null) : null);
  const sets = member(query, "credential_sets");
  if (!Array.isArray(sets)) {
    const all = found.map(([, m]) => m);
    return all.every((m): m is Match => m !== null) ? all : null;
  }
  const out: Match[] = [];
  for (const set of sets) {
    const req = member(set, "required");
    const required = typeof req === "boolean" ? req : true;
    const options = member(set, "options");
    let chosen: Match[] | null = null;
    if (Array.isArray(options)) {
      for (const o of options) {
        if (!Array.isArray(o)) continue;
        const ms = o.map(get);
        if (ms.every((m): m is Match => m !== null)) {
          chosen = ms;
          break;
        }
      }
    }
    if (chosen) {
      for (const m of chosen) if (!out.some((x) => x.query_id === m.query_id)) out.push(m);
    } else if (required) {
      return null;
    }
  }
  return out.length > 0 ? out : null;
}
