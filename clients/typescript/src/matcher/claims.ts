/**
 * Pieces of DCQL credential-query matching that do not depend on the credential format: JSON member access and
 * equality, and the choice of requested claims (every claim, or with `claim_sets` the first set whose claims all
 * match). `dcql.ts` (SD-JWT VCs) and `mdoc.ts` (`mso_mdoc`) each say how one claim matches.
 */
import type { Json, JsonObject } from "./sdjwt.js";

/** Own-property read of a JSON object member. */
export function member(v: unknown, k: string): Json | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  return Object.hasOwn(v, k) ? (v as JsonObject)[k] : undefined;
}

/** Deep JSON equality. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null && !Array.isArray(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual((a as JsonObject)[k], (b as JsonObject)[k]));
  }
  return false;
}

/**
 * The disclosed claims of credential query `q` given how one requested claim matches (`one`: its disclosed name,
 * or `null`), or `null` when the credential does not satisfy the query.
 */
export function selectClaims(q: Json, requested: readonly Json[], one: (cl: Json) => string | null): string[] | null {
  const sets = member(q, "claim_sets");
  if (Array.isArray(sets)) {
    for (const set of sets) {
      if (!Array.isArray(set)) continue;
      const out: string[] = [];
      let ok = true;
      for (const id of set) {
        const cl = requested.find((c) => {
          const cid = member(c, "id");
          return cid !== undefined && jsonEqual(cid, id);
        });
        const j = cl === undefined ? null : one(cl);
        if (j === null) {
          ok = false;
          break;
        }
        out.push(j);
      }
      if (ok) return out;
    }
    return null;
  }
  const out: string[] = [];
  for (const cl of requested) {
    const j = one(cl);
    if (j === null) return null;
    out.push(j);
  }
  return out;
}
