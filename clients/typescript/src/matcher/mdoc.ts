/**
 * mdoc (`mso_mdoc`, ISO/IEC 18013-5) credentials for matching, with the Rust holder's semantics
 * (`crates/wallet/src/mdoc.rs`): the credential is base64url `IssuerSigned`; a DCQL `mso_mdoc` query matches when
 * its `meta.doctype_value` is the MSO's docType and every requested `[namespace, element]` path (or every path
 * of the first satisfiable `claim_set`) is present, with `values` compared against text, integer, boolean and
 * float element values (a tag is looked through). `intent_to_retain` is the verifier's statement and does not
 * change what matches. Disclosed claims are `namespace.element`. Nothing is verified here (the engine checks
 * issued mdocs; the verifier checks presentations).
 */
import { b64uDecode } from "../b64.js";
import { CborTag, cborGet, decodeCbor, DEFAULT_CBOR_LIMITS, type Cbor, type CborLimits } from "./cbor.js";
import { jsonEqual, member, selectClaims } from "./claims.js";
import type { Json, JsonObject } from "./sdjwt.js";

/** The credential format identifier. */
export const MDOC_FORMAT = "mso_mdoc";

/** What the matcher reads of an mdoc: its docType and its elements by namespace. */
export class Mdoc {
  private constructor(
    /** The MSO's `docType`. */
    readonly doctype: string,
    /** `namespace -> element identifier -> value`, in the order received. */
    readonly namespaces: Map<string, Map<string, Cbor>>,
  ) {}

  /** Parses a base64url `IssuerSigned`; throws on anything else. */
  static parse(credential: string, limits: CborLimits = DEFAULT_CBOR_LIMITS): Mdoc {
    const text = credential.trim();
    if (text.length / 4 * 3 > limits.maxBytes + 3) throw new Error(`mdoc larger than ${limits.maxBytes} bytes`);
    const bytes = b64uDecode(text.replace(/=+$/, ""));
    const root = decodeCbor(bytes, limits);
    const ns = cborGet(root, "nameSpaces");
    const auth = cborGet(root, "issuerAuth");
    if (!(ns instanceof Map) || !Array.isArray(auth) || auth.length !== 4) throw new Error("not an IssuerSigned");
    const namespaces = new Map<string, Map<string, Cbor>>();
    for (const [name, items] of ns) {
      if (typeof name !== "string" || !Array.isArray(items)) throw new Error("malformed nameSpaces");
      const elements = new Map<string, Cbor>();
      for (const tagged of items) {
        const item = embedded(tagged, limits);
        const id = cborGet(item, "elementIdentifier");
        if (typeof id !== "string" || !(item instanceof Map) || !item.has("elementValue")) throw new Error("malformed IssuerSignedItem");
        elements.set(id, item.get("elementValue"));
      }
      namespaces.set(name, elements);
    }
    const payload = auth[2];
    if (!(payload instanceof Uint8Array)) throw new Error("issuerAuth has no payload");
    const mso = embedded(decodeCbor(payload, limits), limits);
    const doctype = cborGet(mso, "docType");
    if (typeof doctype !== "string") throw new Error("the MSO has no docType");
    return new Mdoc(doctype, namespaces);
  }

  /** An element's value, when present. */
  element(namespace: string, element: string): Cbor | undefined {
    const ns = this.namespaces.get(namespace);
    return ns?.has(element) ? ns.get(element) : undefined;
  }

  /** Every element value as JSON where it has a JSON form (others are `null`): `{namespace: {element: value}}`. */
  elements(): JsonObject {
    const out: JsonObject = {};
    for (const [ns, els] of this.namespaces) {
      const o: JsonObject = {};
      for (const [id, v] of els) o[id] = asJson(v) ?? null;
      out[ns] = o;
    }
    return out;
  }
}

/** `#6.24(bstr)` decoded; a plain map is accepted as is. */
function embedded(v: Cbor, limits: CborLimits): Cbor {
  if (v instanceof CborTag && v.tag === 24 && v.value instanceof Uint8Array) return decodeCbor(v.value, limits);
  if (v instanceof Uint8Array) return decodeCbor(v, limits);
  return v;
}

/** An element value as JSON (for `values` filters): text, integers, booleans, floats, through tags. */
export function asJson(v: Cbor): Json | undefined {
  if (typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return v >= -(2n ** 63n) && v < 2n ** 63n ? Number(v) : undefined;
  if (v instanceof CborTag) return asJson(v.value);
  return undefined;
}

/** The disclosed `namespace.element` entries if `doc` satisfies DCQL credential query `q`, else `null`. */
export function matchMdoc(q: Json, doc: Mdoc): string[] | null {
  if (member(q, "format") !== MDOC_FORMAT) return null;
  const want = member(member(q, "meta"), "doctype_value");
  if (typeof want === "string" && want !== doc.doctype) return null;
  const raw = member(q, "claims");
  const requested: Json[] = Array.isArray(raw) ? raw : [];
  const one = (cl: Json): string | null => {
    const path = member(cl, "path");
    if (!Array.isArray(path) || path.length !== 2) return null;
    const [ns, el] = path;
    if (typeof ns !== "string" || typeof el !== "string") return null;
    if (!doc.namespaces.get(ns)?.has(el)) return null;
    const value = doc.element(ns, el);
    const values = member(cl, "values");
    if (Array.isArray(values)) {
      const j = asJson(value);
      if (j === undefined || !values.some((v) => jsonEqual(v, j))) return null;
    }
    return `${ns}.${el}`;
  };
  return selectClaims(q, requested, one);
}
