#!/usr/bin/env node
// Writes the shared matcher vectors tests/vectors/matching/sd-jwt-*.json: a wallet of SD-JWT VCs (fixed salts,
// real ES256 signatures of a throwaway issuer key) and the DCQL, Presentation Exchange and disclosure cases
// with their expected answers. Both the TypeScript matcher (clients/typescript/test/matcher.test.ts) and the
// Rust holder (crates/wallet/tests/matching_vectors.rs) read these files. The JSON is the source of truth:
// edit it by hand or edit this script and run it again (`node scripts/make-matching-vectors.mjs`).
import { createHash, generateKeyPairSync, sign } from "node:crypto";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const out = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "tests", "vectors", "matching");
const b64u = (b) => Buffer.from(b).toString("base64url");
const digest = (s) => b64u(createHash("sha256").update(s).digest());
const issuer = generateKeyPairSync("ec", { namedCurve: "P-256" });
const holder = generateKeyPairSync("ec", { namedCurve: "P-256" });
const pub = (k) => {
  const { kty, crv, x, y } = k.publicKey.export({ format: "jwk" });
  return { kty, crv, x, y };
};

function jwt(payload) {
  const input = `${b64u(JSON.stringify({ alg: "ES256", typ: "dc+sd-jwt" }))}.${b64u(JSON.stringify(payload))}`;
  const sig = sign("sha256", Buffer.from(input), { key: issuer.privateKey, dsaEncoding: "ieee-p1363" });
  return `${input}.${b64u(sig)}`;
}

// A disclosure builder: label -> encoded text; `d(label, [salt, name?, value])`.
function sdJwt(build) {
  const labels = {};
  const order = [];
  const d = (label, arr) => {
    const enc = b64u(JSON.stringify(arr));
    labels[label] = enc;
    order.push(enc);
    return digest(enc);
  };
  const payload = build(d);
  return { credential: `${jwt(payload)}~${order.join("~")}~`, disclosures: labels };
}

const PID = "https://issuer.example/pid";
const DIPLOMA = "https://issuer.example/diploma";

const pid1 = sdJwt((d) => {
  const gn = d("given_name", ["s01", "given_name", "Erika"]);
  const fn = d("family_name", ["s02", "family_name", "Mustermann"]);
  const bd = d("birthdate", ["s03", "birthdate", "1964-08-12"]);
  const o18 = d("age_over_18", ["s04", "age_over_18", true]);
  const st = d("street_address", ["s05", "street_address", "Heidestrasse 17"]);
  const lo = d("locality", ["s06", "locality", "Koeln"]);
  const ad = d("address", ["s07", "address", { country: "DE", _sd: [st, lo] }]);
  const de = d("nationality_de", ["s08", "DE"]);
  const fr = d("nationality_fr", ["s09", "FR"]);
  return { iss: "https://issuer.example", vct: PID, age_in_years: 61, nationalities: [{ "...": de }, { "...": fr }],
    cnf: { jwk: pub(holder) }, _sd: [gn, fn, bd, o18, ad], _sd_alg: "sha-256" };
});
const pid2 = sdJwt((d) => {
  const gn = d("given_name", ["s11", "given_name", "Max"]);
  const fn = d("family_name", ["s12", "family_name", "Muster"]);
  const nn = d("nickname", ["s13", "nickname", "Maxi"]);
  const o18 = d("age_over_18", ["s14", "age_over_18", false]);
  return { iss: "https://issuer.example", vct: PID, age_in_years: 30, cnf: { jwk: pub(holder) }, _sd: [gn, fn, nn, o18], _sd_alg: "sha-256" };
});
const diploma = sdJwt((d) => {
  const dg = d("degree", ["s21", "degree", "MSc"]);
  return { iss: "https://issuer.example", vct: DIPLOMA, year: 2010, cnf: { jwk: pub(holder) }, _sd: [dg], _sd_alg: "sha-256" };
});

const claims = {
  "pid-1": { iss: "https://issuer.example", vct: PID, age_in_years: 61, nationalities: ["DE", "FR"], cnf: { jwk: pub(holder) },
    given_name: "Erika", family_name: "Mustermann", birthdate: "1964-08-12", age_over_18: true,
    address: { country: "DE", street_address: "Heidestrasse 17", locality: "Koeln" } },
  "pid-2": { iss: "https://issuer.example", vct: PID, age_in_years: 30, cnf: { jwk: pub(holder) },
    given_name: "Max", family_name: "Muster", nickname: "Maxi", age_over_18: false },
  diploma: { iss: "https://issuer.example", vct: DIPLOMA, year: 2010, cnf: { jwk: pub(holder) }, degree: "MSc" },
};
const credentials = [
  { id: "pid-1", format: "dc+sd-jwt", ...pid1, claims: claims["pid-1"] },
  { id: "pid-2", format: "dc+sd-jwt", ...pid2, claims: claims["pid-2"] },
  { id: "diploma", format: "dc+sd-jwt", ...diploma, claims: claims.diploma },
];

const m = (query_id, credential_id, disclosed_claims) => ({ query_id, credential_id, disclosed_claims });
const q = (id, extra) => ({ id, format: "dc+sd-jwt", meta: { vct_values: [PID] }, ...extra });

const dcql = [
  { name: "one claim of a typed credential: the first fitting credential answers", dcql_query: { credentials: [q("pid", { claims: [{ path: ["given_name"] }] })] }, expect: [m("pid", "pid-1", ["given_name"])] },
  { name: "a value filter skips the first credential", dcql_query: { credentials: [q("pid", { claims: [{ path: ["given_name"], values: ["Max"] }] })] }, expect: [m("pid", "pid-2", ["given_name"])] },
  { name: "a boolean value filter", dcql_query: { credentials: [q("pid", { claims: [{ path: ["age_over_18"], values: [false] }] })] }, expect: [m("pid", "pid-2", ["age_over_18"])] },
  { name: "a numeric always-visible claim", dcql_query: { credentials: [q("pid", { claims: [{ path: ["age_in_years"], values: [61] }] })] }, expect: [m("pid", "pid-1", ["age_in_years"])] },
  { name: "an unknown vct matches nothing", dcql_query: { credentials: [{ id: "pid", format: "dc+sd-jwt", meta: { vct_values: ["urn:nope"] }, claims: [{ path: ["given_name"] }] }] }, expect: null },
  { name: "a claim no credential has", dcql_query: { credentials: [q("pid", { claims: [{ path: ["no_such_claim"] }] })] }, expect: null },
  { name: "a nested claim inside a disclosed object", dcql_query: { credentials: [q("pid", { claims: [{ path: ["address", "locality"] }] })] }, expect: [m("pid", "pid-1", ["address.locality"])] },
  { name: "an array element by index", dcql_query: { credentials: [q("pid", { claims: [{ path: ["nationalities", 1] }] })] }, expect: [m("pid", "pid-1", ["nationalities.1"])] },
  { name: "every array element (null wildcard)", dcql_query: { credentials: [q("pid", { claims: [{ path: ["nationalities", null] }] })] }, expect: [m("pid", "pid-1", ["nationalities.*"])] },
  { name: "claim_sets: the first satisfiable set decides what is disclosed", dcql_query: { credentials: [q("pid", { claims: [{ id: "nick", path: ["nickname"] }, { id: "gn", path: ["given_name"] }, { id: "fn", path: ["family_name"] }], claim_sets: [["nick", "fn"], ["gn", "fn"], ["gn"]] })] }, expect: [m("pid", "pid-1", ["given_name", "family_name"])] },
  { name: "claim_sets naming an unknown claim id are skipped", dcql_query: { credentials: [q("pid", { claims: [{ id: "gn", path: ["given_name"] }], claim_sets: [["unknown"], ["gn"]] })] }, expect: [m("pid", "pid-1", ["given_name"])] },
  { name: "credential_sets: required and optional sets, only chosen queries answered", dcql_query: { credentials: [{ id: "dip", format: "dc+sd-jwt", meta: { vct_values: [DIPLOMA] }, claims: [{ path: ["degree"] }] }, q("pid", { claims: [{ path: ["given_name"] }] }), q("extra", { claims: [{ path: ["no_such_claim"] }] })], credential_sets: [{ options: [["dip", "pid"]] }, { required: false, options: [["extra"]] }] }, expect: [m("dip", "diploma", ["degree"]), m("pid", "pid-1", ["given_name"])] },
  { name: "credential_sets: a required set without a satisfiable option fails", dcql_query: { credentials: [q("pid", { claims: [{ path: ["given_name"] }] }), q("extra", { claims: [{ path: ["no_such_claim"] }] })], credential_sets: [{ options: [["extra"]] }] }, expect: null },
  { name: "credential_sets: the first satisfiable option wins", dcql_query: { credentials: [{ id: "mdl", format: "mso_mdoc" }, q("pid", { claims: [{ path: ["family_name"] }] })], credential_sets: [{ options: [["mdl"], ["pid"]] }] }, expect: [m("pid", "pid-1", ["family_name"])] },
  { name: "without credential_sets every query is needed", dcql_query: { credentials: [q("pid", { claims: [{ path: ["given_name"] }] }), q("extra", { claims: [{ path: ["no_such_claim"] }] })] }, expect: null },
  { name: "mso_mdoc queries never match SD-JWT credentials", dcql_query: { credentials: [{ id: "mdl", format: "mso_mdoc", meta: { doctype_value: "org.iso.18013.5.1.mDL" } }] }, expect: null },
  { name: "vc+sd-jwt is the same format family", dcql_query: { credentials: [{ id: "pid", format: "vc+sd-jwt", meta: { vct_values: [PID] }, claims: [{ path: ["family_name"] }] }] }, expect: [m("pid", "pid-1", ["family_name"])] },
  { name: "no claims requested: nothing is disclosed", dcql_query: { credentials: [{ id: "any", format: "dc+sd-jwt" }] }, expect: [m("any", "pid-1", [])] },
  { name: "prototype member names are not claims", dcql_query: { credentials: [{ id: "x", format: "dc+sd-jwt", claims: [{ path: ["constructor"] }] }, { id: "y", format: "dc+sd-jwt", claims: [{ path: ["__proto__"] }] }], credential_sets: [{ required: false, options: [["x"]] }, { required: false, options: [["y"]] }] }, expect: null },
  { name: "a credential query without id makes the query unusable", dcql_query: { credentials: [{ format: "dc+sd-jwt" }] }, expect: null },
];

const desc = (id, fields, extra) => ({ id, format: { "dc+sd-jwt": {} }, constraints: { fields }, ...extra });
const vctField = (v) => ({ path: ["$.vct"], filter: { type: "string", const: v } });
const pd = (descriptors, extra) => ({ id: "pd", input_descriptors: descriptors, ...extra });

const pe = [
  { name: "vct filter and one claim", presentation_definition: pd([desc("pid", [vctField(PID), { path: ["$.given_name"] }])]), expect: [m("pid", "pid-1", ["given_name"])] },
  { name: "an enum filter skips the first credential", presentation_definition: pd([desc("pid", [vctField(PID), { path: ["$.given_name"], filter: { type: "string", enum: ["Max"] } }])]), expect: [m("pid", "pid-2", ["given_name"])] },
  { name: "a literal prefix pattern", presentation_definition: pd([desc("pid", [{ path: ["$.family_name"], filter: { type: "string", pattern: "^Must" } }])]), expect: [m("pid", "pid-1", ["family_name"])] },
  { name: "a regex pattern is no match, never a guess", presentation_definition: pd([desc("pid", [{ path: ["$.family_name"], filter: { pattern: "^M.*r$" } }])]), expect: null },
  { name: "numeric bounds", presentation_definition: pd([desc("pid", [{ path: ["$.age_in_years"], filter: { type: "integer", minimum: 18, exclusiveMaximum: 61 } }])]), expect: [m("pid", "pid-2", ["age_in_years"])] },
  { name: "string length bounds", presentation_definition: pd([desc("pid", [{ path: ["$.given_name"], filter: { minLength: 4, maxLength: 5 } }])]), expect: [m("pid", "pid-1", ["given_name"])] },
  { name: "bracket paths to a nested claim", presentation_definition: pd([desc("pid", [{ path: ["$['address'][\"locality\"]"] }])]), expect: [m("pid", "pid-1", ["address.locality"])] },
  { name: "contains over an array of disclosed elements", presentation_definition: pd([desc("pid", [{ path: ["$.nationalities"], filter: { type: "array", contains: { const: "FR" } } }])]), expect: [m("pid", "pid-1", ["nationalities"])] },
  { name: "an optional field is still requested through DCQL", presentation_definition: pd([desc("pid", [{ path: ["$.given_name"] }, { path: ["$.nickname"], optional: true }])]), expect: [m("pid", "pid-2", ["given_name", "nickname"])] },
  { name: "an unknown filter keyword fails the field", presentation_definition: pd([desc("pid", [{ path: ["$.birthdate"], filter: { type: "string", format: "date" } }])]), expect: null },
  { name: "pick one of a group plus all of another", presentation_definition: pd([desc("nick", [{ path: ["$.nickname"] }], { group: ["A"] }), desc("gn", [{ path: ["$.given_name"] }], { group: ["A"] }), desc("deg", [vctField(DIPLOMA), { path: ["$.degree"] }], { group: ["B"] })], { submission_requirements: [{ rule: "pick", count: 1, from: "A" }, { rule: "all", from: "B" }] }), expect: [m("nick", "pid-2", ["nickname"]), m("deg", "diploma", ["degree"])] },
  { name: "pick more than the group can answer", presentation_definition: pd([desc("gn", [{ path: ["$.given_name"] }], { group: ["A"] }), desc("none", [{ path: ["$.no_such_claim"] }], { group: ["A"] })], { submission_requirements: [{ rule: "pick", count: 2, from: "A" }] }), expect: null },
  { name: "pick with min 0 and nothing matching answers nothing", presentation_definition: pd([desc("none", [{ path: ["$.no_such_claim"] }], { group: ["A"] })], { submission_requirements: [{ rule: "pick", min: 0, max: 1, from: "A" }] }), expect: null },
  { name: "from_nested is not supported", presentation_definition: pd([desc("gn", [{ path: ["$.given_name"] }], { group: ["A"] })], { submission_requirements: [{ rule: "all", from_nested: [{ rule: "all", from: "A" }] }] }), expect: null },
  { name: "a non-SD-JWT descriptor format never matches", presentation_definition: pd([{ id: "jwt", format: { jwt_vc_json: { alg: ["ES256"] } }, constraints: { fields: [{ path: ["$.given_name"] }] } }]), expect: null },
  { name: "the definition's format applies to descriptors without one", presentation_definition: { id: "pd", format: { "vc+sd-jwt": {} }, input_descriptors: [{ id: "pid", constraints: { fields: [vctField(PID), { path: ["$.family_name"] }] } }] }, expect: [m("pid", "pid-1", ["family_name"])] },
  { name: "every descriptor is needed without submission requirements", presentation_definition: pd([desc("gn", [{ path: ["$.given_name"] }]), desc("none", [{ path: ["$.no_such_claim"] }])]), expect: null },
];

const present = [
  { name: "a nested claim discloses its parent, not its siblings", present: { credential_id: "pid-1", disclosed_claims: ["address.locality"] }, expect_disclosures: ["locality", "address"] },
  { name: "a whole object discloses everything inside", present: { credential_id: "pid-1", disclosed_claims: ["address"] }, expect_disclosures: ["street_address", "locality", "address"] },
  { name: "one array element", present: { credential_id: "pid-1", disclosed_claims: ["nationalities.1"] }, expect_disclosures: ["nationality_fr"] },
  { name: "every array element", present: { credential_id: "pid-1", disclosed_claims: ["nationalities.*"] }, expect_disclosures: ["nationality_de", "nationality_fr"] },
  { name: "a whole array", present: { credential_id: "pid-1", disclosed_claims: ["nationalities"] }, expect_disclosures: ["nationality_de", "nationality_fr"] },
  { name: "always-visible claims need no disclosure", present: { credential_id: "pid-1", disclosed_claims: ["vct", "age_in_years"] }, expect_disclosures: [] },
  { name: "several claims, in the credential's order", present: { credential_id: "pid-1", disclosed_claims: ["birthdate", "given_name"] }, expect_disclosures: ["given_name", "birthdate"] },
  { name: "an unknown claim discloses nothing", present: { credential_id: "pid-2", disclosed_claims: ["no_such_claim"] }, expect_disclosures: [] },
];

const header = (what) => ({
  description: `Shared matcher vectors (${what}); read by clients/typescript/test/matcher.test.ts and crates/wallet/tests/matching_vectors.rs.`,
  format_note: "credentials[].format names the credential format; a suite skips credentials of formats it does not support and cases whose `requires` lists such a format. Issuer signatures are real but matchers do not verify them.",
  credentials,
});
writeFileSync(join(out, "sd-jwt-dcql.json"), JSON.stringify({ ...header("DCQL over SD-JWT VC"), cases: dcql }, null, 2) + "\n");
writeFileSync(join(out, "sd-jwt-pe.json"), JSON.stringify({ ...header("Presentation Exchange 2.0 over SD-JWT VC"), cases: pe }, null, 2) + "\n");
writeFileSync(join(out, "sd-jwt-disclosure.json"), JSON.stringify({ ...header("which disclosures a presentation of claim paths includes"), cases: present }, null, 2) + "\n");
console.log(`wrote ${out}`);
