/**
 * Presentation Exchange 2.0 matching over SD-JWT VCs, with the same semantics as the Rust holder
 * (`crates/wallet/src/pe.rs` and the translation in `crates/protocol/src/oid4vp/pe.rs`): each input descriptor
 * is matched through its DCQL equivalent plus the field filters DCQL cannot express; `submission_requirements`
 * (`all`, `pick` with `count`/`min`/`max`, over groups; no `from_nested`) decide which descriptors are answered.
 *
 * Filters are a JSON Schema subset: `type`, `const`, `enum`, `minimum`/`maximum`/`exclusiveMinimum`/
 * `exclusiveMaximum`, `minLength`/`maxLength`, `contains`, `pattern` when it is a literal with optional `^`/`$`,
 * and the annotations `title`/`description`/`$comment`. Any other keyword fails the field: better no match than
 * a false one.
 */
import { lookup, matchOne, member, jsonEqual, type Match, type MatchableCredential } from "./dcql.js";
import type { Json, JsonObject } from "./sdjwt.js";

const SD_JWT_FORMATS = new Set(["dc+sd-jwt", "vc+sd-jwt"]);

/** Parses the JSONPath subset definitions use: `$.a.b`, `$['a']["b"]`, `$.a[0]`, `$.a[*]`; `null` otherwise. */
export function parsePath(p: string): Json[] | null {
  let rest = p.trim();
  if (!rest.startsWith("$")) return null;
  rest = rest.slice(1);
  const out: Json[] = [];
  while (rest !== "") {
    if (rest.startsWith(".")) {
      const r = rest.slice(1);
      let end = r.search(/[.[]/);
      if (end < 0) end = r.length;
      const name = r.slice(0, end);
      if (name === "") return null;
      out.push(name === "*" ? null : name);
      rest = r.slice(end);
    } else if (rest.startsWith("[")) {
      const r = rest.slice(1);
      const end = r.indexOf("]");
      if (end < 0) return null;
      const inner = r.slice(0, end).trim();
      rest = r.slice(end + 1);
      if (inner === "*") out.push(null);
      else if (/^\+?[0-9]+$/.test(inner) && Number.isSafeInteger(Number(inner))) out.push(Number(inner));
      else {
        const q = inner.charAt(0);
        if ((q !== "'" && q !== '"') || inner.length < 3 || !inner.endsWith(q)) return null;
        out.push(inner.slice(1, -1));
      }
    } else {
      return null;
    }
  }
  return out.length > 0 ? out : null;
}

function fields(d: Json): Json[] {
  const f = member(member(d, "constraints"), "fields");
  return Array.isArray(f) ? f : [];
}

function firstKey(v: Json | undefined): string | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  return Object.keys(v)[0];
}

/** The format an input descriptor asks for (its own `format`, else the definition's; default `dc+sd-jwt`). */
export function descriptorFormat(pd: Json, d: Json): string {
  return firstKey(member(d, "format")) ?? firstKey(member(pd, "format")) ?? "dc+sd-jwt";
}

/** The DCQL credential query equivalent to one input descriptor (ids kept; `vct`/`type` filters become `vct_values`). */
export function descriptorToDcql(pd: Json, d: Json): JsonObject {
  const format = descriptorFormat(pd, d);
  const sdJwt = SD_JWT_FORMATS.has(format);
  const claims: JsonObject[] = [];
  const vctValues: Json[] = [];
  for (const f of fields(d)) {
    const paths = member(f, "path");
    const first = Array.isArray(paths) ? paths[0] : undefined;
    const path = typeof first === "string" ? parsePath(first) : null;
    if (!path) continue;
    const filter = member(f, "filter");
    if (sdJwt && path.length === 1 && (path[0] === "vct" || path[0] === "type")) {
      const c = member(filter, "const");
      const e = member(filter, "enum");
      if (c !== undefined) vctValues.push(c);
      else if (Array.isArray(e)) vctValues.push(...e);
      continue;
    }
    const claim: JsonObject = { path };
    const c = member(filter, "const");
    if (c !== undefined) claim.values = [c];
    claims.push(claim);
  }
  const q: JsonObject = { id: member(d, "id") ?? null, format: sdJwt ? "dc+sd-jwt" : format };
  if (sdJwt) q.meta = { vct_values: vctValues };
  if (claims.length > 0) q.claims = claims;
  return q;
}

/** One submission requirement: `[descriptor ids of its group, min, max]`, or an error message. */
export function requirement(pd: Json, r: Json): [string[], number, number] | string {
  if (member(r, "from_nested") !== undefined) return "submission_requirements with from_nested are not supported";
  const group = member(r, "from");
  if (typeof group !== "string") return "a submission requirement has no from group";
  const ds = member(pd, "input_descriptors");
  const ids: string[] = [];
  for (const d of Array.isArray(ds) ? ds : []) {
    const g = member(d, "group");
    const id = member(d, "id");
    if (Array.isArray(g) && g.some((x) => x === group) && typeof id === "string") ids.push(id);
  }
  if (ids.length === 0) return "a submission requirement names a group no input descriptor is in";
  const num = (k: string): number | undefined | string => {
    const v = member(r, k);
    if (v === undefined) return undefined;
    return typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : `submission requirement ${k} must be a non-negative integer`;
  };
  let min: number;
  let max: number;
  const rule = member(r, "rule");
  if (rule === "all") {
    min = ids.length;
    max = ids.length;
  } else if (rule === "pick") {
    const c = num("count");
    const mi = num("min");
    const ma = num("max");
    for (const x of [c, mi, ma]) if (typeof x === "string") return x;
    if (typeof c === "number") {
      min = c;
      max = c;
    } else {
      min = typeof mi === "number" ? mi : 0;
      max = typeof ma === "number" ? ma : ids.length;
    }
  } else {
    return "a submission requirement's rule must be all or pick";
  }
  if (min > max || min > ids.length) return "a submission requirement cannot be satisfied by its group";
  return [ids, min, Math.min(max, ids.length)];
}

function literalPattern(p: string, s: string): boolean | null {
  const start = p.startsWith("^");
  let lit = start ? p.slice(1) : p;
  const end = lit.endsWith("$");
  if (end) lit = lit.slice(0, -1);
  if (/[\\.^$|?*+()[\]{}]/.test(lit)) return null;
  if (start && end) return s === lit;
  if (start) return s.startsWith(lit);
  if (end) return s.endsWith(lit);
  return s.includes(lit);
}

/** The JSON Schema subset of the module docs; unknown keywords fail. */
export function schemaHolds(filter: Json, value: Json, depth = 0): boolean {
  if (typeof filter !== "object" || filter === null || Array.isArray(filter)) return false;
  if (depth > 8) return false;
  const num = (v: Json | undefined) => (typeof v === "number" ? v : undefined);
  const nonNegInt = (v: Json | undefined) => (typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : undefined);
  for (const [k, want] of Object.entries(filter)) {
    let ok: boolean;
    const v = num(value);
    const w = num(want);
    switch (k) {
      case "title":
      case "description":
      case "$comment":
        ok = true;
        break;
      case "type":
        ok =
          (want === "string" && typeof value === "string") ||
          (want === "number" && typeof value === "number") ||
          (want === "integer" && typeof value === "number" && Number.isInteger(value)) ||
          (want === "boolean" && typeof value === "boolean") ||
          (want === "object" && typeof value === "object" && value !== null && !Array.isArray(value)) ||
          (want === "array" && Array.isArray(value)) ||
          (want === "null" && value === null);
        break;
      case "const":
        ok = jsonEqual(want, value);
        break;
      case "enum":
        ok = Array.isArray(want) && want.some((e) => jsonEqual(e, value));
        break;
      case "minimum":
        ok = v !== undefined && w !== undefined && v >= w;
        break;
      case "maximum":
        ok = v !== undefined && w !== undefined && v <= w;
        break;
      case "exclusiveMinimum":
        ok = v !== undefined && w !== undefined && v > w;
        break;
      case "exclusiveMaximum":
        ok = v !== undefined && w !== undefined && v < w;
        break;
      case "minLength":
        ok = typeof value === "string" && nonNegInt(want) !== undefined && Array.from(value).length >= (nonNegInt(want) ?? 0);
        break;
      case "maxLength":
        ok = typeof value === "string" && nonNegInt(want) !== undefined && Array.from(value).length <= (nonNegInt(want) ?? 0);
        break;
      case "pattern":
        ok = typeof value === "string" && typeof want === "string" && literalPattern(want, value) === true;
        break;
      case "contains":
        ok = Array.isArray(value) && value.some((e) => schemaHolds(want, e, depth + 1));
        break;
      default:
        ok = false;
    }
    if (!ok) return false;
  }
  return true;
}

function filtersHold(d: Json, claims: JsonObject): boolean {
  for (const f of fields(d)) {
    const optional = member(f, "optional") === true;
    const paths = member(f, "path");
    const first = Array.isArray(paths) ? paths[0] : undefined;
    const path = typeof first === "string" ? parsePath(first) : null;
    const value = path ? lookup(claims, path) : undefined;
    if (value === undefined) {
      if (optional) continue;
      return false;
    }
    const filter = member(f, "filter");
    if (filter !== undefined && !schemaHolds(filter, value, 0)) return false;
  }
  return true;
}

/**
 * Matches a presentation definition; `null` when a needed input descriptor (all of them, or what the
 * submission requirements ask for) has no fitting credential.
 */
export function matchPresentationDefinition(pd: Json, wallet: readonly MatchableCredential[]): Match[] | null {
  const descriptors = member(pd, "input_descriptors");
  if (!Array.isArray(descriptors)) return null;
  const found: [string, Match | null][] = [];
  for (const d of descriptors) {
    const id = member(d, "id");
    if (typeof id !== "string") return null;
    const cq = descriptorToDcql(pd, d);
    let m: Match | null = null;
    for (const c of wallet) {
      const claims = matchOne(cq, c);
      if (claims && filtersHold(d, c.claims)) {
        m = { query_id: id, credential_id: c.id, disclosed_claims: claims };
        break;
      }
    }
    found.push([id, m]);
  }
  const reqs = member(pd, "submission_requirements");
  if (!Array.isArray(reqs)) {
    const all = found.map(([, m]) => m);
    return all.every((m): m is Match => m !== null) ? all : null;
  }
  const out: Match[] = [];
  for (const r of reqs) {
    const req = requirement(pd, r);
    if (typeof req === "string") return null;
    const [ids, min, max] = req;
    const matched = ids.map((id) => found.find(([q]) => q === id)?.[1] ?? null).filter((m): m is Match => m !== null);
    if (matched.length < min) return null;
    // As few as allowed (at least one when there is one), to disclose no more than asked for.
    const take = Math.min(Math.max(min, 1), max, matched.length);
    for (const m of matched.slice(0, take)) if (!out.some((x) => x.query_id === m.query_id)) out.push(m);
  }
  return out.length > 0 ? out : null;
}
