import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { CborError, CborTag, CredentialMatcher, MATCHABLE_FORMATS, Mdoc, SdJwt, decodeCbor, parsePath, schemaHolds, sha256, type Json } from "../src/index.js";
import { loadVectors } from "./helpers/vectors.js";

const files = loadVectors();

describe("shared matcher vectors (tests/vectors/matching)", () => {
  it("there are vectors for DCQL, PE and disclosure selection", () => {
    const kinds = new Set(files.flatMap((f) => f.cases.map((c) => (c.dcql_query ? "dcql" : c.presentation_definition ? "pe" : c.present ? "present" : "?"))));
    assert.deepEqual([...kinds].sort(), ["dcql", "pe", "present"]);
  });
  for (const file of files) {
    describe(file.file, () => {
      const supported = file.credentials.filter((c) => MATCHABLE_FORMATS.includes(c.format));
      for (const c of supported) {
        if (c.format === "mso_mdoc") {
          it(`doctype and elements of ${c.id}`, () => {
            const doc = Mdoc.parse(c.credential);
            assert.equal(doc.doctype, c.doctype);
            assert.deepEqual(doc.elements(), c.elements);
          });
          continue;
        }
        if (c.claims === undefined) continue;
        it(`claims of ${c.id}`, () => {
          assert.deepEqual(new SdJwt(c.credential).allClaims(), c.claims);
        });
      }
      for (const v of file.cases) {
        const skip = v.requires?.some((f) => !MATCHABLE_FORMATS.includes(f)) ?? false;
        it(v.name, { skip }, () => {
          const wallet = v.wallet ? v.wallet.map((id) => supported.find((c) => c.id === id)).filter((c) => c !== undefined) : supported;
          const matcher = new CredentialMatcher(wallet);
          if (v.present) {
            const cred = supported.find((c) => c.id === v.present?.credential_id);
            assert.ok(cred, "the credential of a present case is in the file");
            const sd = new SdJwt(cred.credential);
            const shown = sd.selectivelyDisclosed(v.present.disclosed_claims).split("~").slice(1, -1);
            const labels = Object.fromEntries(Object.entries(cred.disclosures ?? {}).map(([k, enc]) => [enc, k]));
            assert.deepEqual(shown.map((enc) => labels[enc] ?? enc), v.expect_disclosures);
            return;
          }
          const got = v.dcql_query !== undefined ? matcher.matchDcql(v.dcql_query) : matcher.matchPresentationDefinition(v.presentation_definition);
          assert.deepEqual(got, v.expect ?? null);
        });
      }
    });
  }
});

describe("matcher units", () => {
  it("sha256 equals node's", () => {
    for (const len of [0, 1, 55, 56, 63, 64, 65, 200]) {
      const data = new Uint8Array(len).map((_, i) => (i * 7 + len) & 255);
      assert.equal(Buffer.from(sha256(data)).toString("hex"), createHash("sha256").update(data).digest("hex"));
    }
  });
  it("JSONPath subset", () => {
    assert.deepEqual(parsePath("$.a.b"), ["a", "b"]);
    assert.deepEqual(parsePath("$['a'][\"b\"][0][*]"), ["a", "b", 0, null]);
    for (const bad of ["$", "a.b", "$..a", "$[a]", "$['']", "$[0"]) assert.equal(parsePath(bad), null, bad);
  });
  it("schema subset: unknown keywords and non-literal patterns fail", () => {
    const t = (f: Json, v: Json) => schemaHolds(f, v);
    assert.ok(t({ type: "string", pattern: "ka$" }, "Erika"));
    assert.ok(!t({ pattern: "^E.*a$" }, "Erika"));
    assert.ok(!t({ format: "date" }, "2000-01-01"));
    assert.ok(t({ contains: { const: "DE" } }, ["FR", "DE"]));
    assert.ok(!t({ minLength: 6 }, "Erika"));
  });
  it("garbage credentials and queries never throw", () => {
    const m = new CredentialMatcher([
      { id: "a", format: "dc+sd-jwt", credential: "not-a-jwt~%%%~" },
      { id: "b", format: "dc+sd-jwt", credential: "" },
      { id: "c", format: "mso_mdoc", credential: "xyz" },
    ]);
    for (const q of [null, 1, "x", [], {}, { credentials: "x" }, { credentials: [{ id: "q", format: "dc+sd-jwt", claims: [{ path: "x" }] }] }]) {
      assert.doesNotThrow(() => m.matchDcql(q));
      assert.doesNotThrow(() => m.matchPresentationDefinition(q));
    }
    assert.equal(m.matchDcql({ credentials: [{ id: "q", format: "dc+sd-jwt", claims: [{ path: ["x"] }] }] }), null);
  });
  it("CBOR: bounded, strict, never more than the input", () => {
    const hex = (h: string) => Uint8Array.from(Buffer.from(h, "hex"));
    assert.deepEqual(decodeCbor(hex("83010203")), [1, 2, 3]);
    assert.equal(decodeCbor(hex("f93c00")), 1);
    assert.equal(decodeCbor(hex("3903e7")), -1000);
    assert.equal(decodeCbor(hex("1bffffffffffffffff")), 18446744073709551615n);
    const tagged = decodeCbor(hex("d818424101"));
    assert.ok(tagged instanceof CborTag && tagged.tag === 24);
    const deep = hex("81".repeat(40) + "00");
    assert.throws(() => decodeCbor(deep), /deeper than 32/);
    assert.doesNotThrow(() => decodeCbor(deep, { maxBytes: 1024, maxDepth: 64 }));
    assert.throws(() => decodeCbor(hex("83010203"), { maxBytes: 3, maxDepth: 32 }), /larger than 3 bytes/);
    for (const bad of ["9f0102ff", "5a7fffffff00", "9a7fffffff", "8301", "0001", "62c328"]) {
      assert.throws(() => decodeCbor(hex(bad)), CborError, bad);
    }
    for (const bad of ["", "AAAA", "oQ", "ompuYW1lU3BhY2Vz"]) assert.throws(() => Mdoc.parse(bad), Error);
  });
  it("mdoc DCQL: a malformed mdoc is dropped, the rest still match", () => {
    const file = files.find((f) => f.file === "mdoc-dcql.json");
    assert.ok(file);
    const good = file.credentials.filter((c) => c.format === "mso_mdoc");
    const m = new CredentialMatcher([{ id: "junk", format: "mso_mdoc", credential: "b2s" }, ...good]);
    const q = { credentials: [{ id: "q", format: "mso_mdoc", meta: { doctype_value: "org.iso.18013.5.1.mDL" }, claims: [{ path: ["org.iso.18013.5.1", "given_name"] }] }] };
    assert.deepEqual(m.matchDcql(q), [{ query_id: "q", credential_id: "mdl-1", disclosed_claims: ["org.iso.18013.5.1.given_name"] }]);
    const answer = m.answerMatchRequest({ type: "match_request", flow_id: "f", message_id: "m", timestamp: "", dcql_query: q });
    assert.equal(answer.matches[0]?.format, "mso_mdoc");
  });
  it("answers a match_request with the matched credentials", () => {
    const file = files.find((f) => f.file === "sd-jwt-dcql.json");
    assert.ok(file);
    const m = new CredentialMatcher(file.credentials);
    const answer = m.answerMatchRequest({ type: "match_request", flow_id: "f", message_id: "m", timestamp: "", dcql_query: { credentials: [{ id: "pid", format: "dc+sd-jwt", claims: [{ path: ["nickname"] }] }] } });
    assert.deepEqual(answer, { matches: [{ credential_query_id: "pid", credential_id: "pid-2", format: "dc+sd-jwt", vct: "https://issuer.example/pid", available_claims: ["nickname"] }] });
    assert.equal(m.answerMatchRequest({ type: "match_request", flow_id: "f", message_id: "m", timestamp: "", dcql_query: { credentials: [{ id: "x", format: "dc+sd-jwt", claims: [{ path: ["nope"] }] }] } }).matches.length, 0);
  });
});
