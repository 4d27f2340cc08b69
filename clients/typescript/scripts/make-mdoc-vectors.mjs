#!/usr/bin/env node
// Writes the shared matcher vectors tests/vectors/matching/mdoc-dcql.json: DCQL over mdocs (`mso_mdoc`), and
// queries that combine an mdoc with an SD-JWT VC. The mdocs are the protocol crate's fixture
// (crates/protocol/src/mdoc/fixture.json: an mDL and a PID made by @owf/mdoc, signed by a test document signer);
// the SD-JWT VC is pid-1 of sd-jwt-dcql.json. Read by clients/typescript/test/matcher.test.ts and
// crates/wallet/tests/matching_vectors.rs. Run `node scripts/make-mdoc-vectors.mjs` after changing a case.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const out = join(root, "tests", "vectors", "matching");
const fixture = JSON.parse(readFileSync(join(root, "crates", "protocol", "src", "mdoc", "fixture.json"), "utf8"));
const sdjwt = JSON.parse(readFileSync(join(out, "sd-jwt-dcql.json"), "utf8")).credentials.find((c) => c.id === "pid-1");

const MDL = "org.iso.18013.5.1.mDL";
const MDL_NS = "org.iso.18013.5.1";
const PID = "eu.europa.ec.eudi.pid.1";
const q = (id, doctype, claims, extra = {}) => ({
  id,
  format: "mso_mdoc",
  ...(doctype ? { meta: { doctype_value: doctype } } : {}),
  ...(claims ? { claims } : {}),
  ...extra,
});
const c = (ns, el, extra = {}) => ({ path: [ns, el], ...extra });
const m = (query_id, credential_id, disclosed_claims) => ({ query_id, credential_id, disclosed_claims });
const one = (query) => ({ credentials: [query] });

const credentials = [
  {
    id: "mdl-1",
    format: "mso_mdoc",
    credential: fixture.credential,
    doctype: MDL,
    elements: { [MDL_NS]: { family_name: "Mustermann", given_name: "Erika", document_number: "X1234567", issuing_country: "SE", age_over_18: true, driving_privileges: null } },
  },
  {
    id: "pid-mdoc",
    format: "mso_mdoc",
    credential: fixture.pid,
    doctype: PID,
    elements: { [PID]: { family_name: "Mustermann", given_name: "Erika", birth_date: "1964-08-12", age_over_18: true, nationality: "DE" } },
  },
  { id: sdjwt.id, format: sdjwt.format, credential: sdjwt.credential },
];

const cases = [
  { name: "doctype and one element", dcql_query: one(q("mdl", MDL, [c(MDL_NS, "age_over_18")])), expect: [m("mdl", "mdl-1", [`${MDL_NS}.age_over_18`])] },
  { name: "the doctype picks the second mdoc", dcql_query: one(q("pid", PID, [c(PID, "family_name"), c(PID, "birth_date")])), expect: [m("pid", "pid-mdoc", [`${PID}.family_name`, `${PID}.birth_date`])] },
  { name: "an unknown doctype matches nothing", dcql_query: one(q("x", "org.example.unknown", [c(MDL_NS, "given_name")])), expect: null },
  { name: "text values: a listed value matches", dcql_query: one(q("mdl", MDL, [c(MDL_NS, "given_name", { values: ["Max", "Erika"] })])), expect: [m("mdl", "mdl-1", [`${MDL_NS}.given_name`])] },
  { name: "text values: an unlisted value does not", dcql_query: one(q("mdl", MDL, [c(MDL_NS, "given_name", { values: ["Max"] })])), expect: null },
  { name: "boolean values", dcql_query: one(q("mdl", MDL, [c(MDL_NS, "age_over_18", { values: [true] })])), expect: [m("mdl", "mdl-1", [`${MDL_NS}.age_over_18`])] },
  { name: "boolean values: false is not true", dcql_query: one(q("mdl", MDL, [c(MDL_NS, "age_over_18", { values: [false] })])), expect: null },
  { name: "values never match a structured element", dcql_query: one(q("mdl", MDL, [c(MDL_NS, "driving_privileges", { values: [null] })])), expect: null },
  { name: "a structured element without values matches", dcql_query: one(q("mdl", MDL, [c(MDL_NS, "driving_privileges")])), expect: [m("mdl", "mdl-1", [`${MDL_NS}.driving_privileges`])] },
  { name: "a missing element fails the query", dcql_query: one(q("mdl", MDL, [c(MDL_NS, "given_name"), c(MDL_NS, "portrait")])), expect: null },
  { name: "an element of another namespace is missing", dcql_query: one(q("mdl", MDL, [c(PID, "given_name")])), expect: null },
  { name: "a path must be [namespace, element]", dcql_query: one(q("mdl", MDL, [{ path: ["given_name"] }])), expect: null },
  { name: "a three-element path matches nothing", dcql_query: one(q("mdl", MDL, [{ path: [MDL_NS, "given_name", "x"] }])), expect: null },
  { name: "intent_to_retain does not change what matches", dcql_query: one(q("mdl", MDL, [c(MDL_NS, "family_name", { intent_to_retain: true }), c(MDL_NS, "age_over_18", { intent_to_retain: false })])), expect: [m("mdl", "mdl-1", [`${MDL_NS}.family_name`, `${MDL_NS}.age_over_18`])] },
  { name: "claim_sets: the first satisfiable set", dcql_query: one(q("mdl", MDL, [{ id: "p", ...c(MDL_NS, "portrait") }, { id: "a", ...c(MDL_NS, "age_over_18") }, { id: "n", ...c(MDL_NS, "family_name") }], { claim_sets: [["p"], ["a", "n"], ["n"]] })), expect: [m("mdl", "mdl-1", [`${MDL_NS}.age_over_18`, `${MDL_NS}.family_name`])] },
  { name: "claim_sets: none satisfiable", dcql_query: one(q("mdl", MDL, [{ id: "p", ...c(MDL_NS, "portrait") }], { claim_sets: [["p"]] })), expect: null },
  { name: "without doctype_value the first mdoc holding the elements answers", dcql_query: one(q("any", null, [c(PID, "nationality")])), expect: [m("any", "pid-mdoc", [`${PID}.nationality`])] },
  { name: "no claims: the doctype alone matches, nothing disclosed", dcql_query: one(q("pid", PID, null)), expect: [m("pid", "pid-mdoc", [])] },
  {
    name: "an SD-JWT VC and an mdoc in one query",
    dcql_query: { credentials: [q("mdl", MDL, [c(MDL_NS, "age_over_18")]), { id: "sd", format: "dc+sd-jwt", claims: [{ path: ["given_name"] }] }] },
    expect: [m("mdl", "mdl-1", [`${MDL_NS}.age_over_18`]), m("sd", "pid-1", ["given_name"])],
  },
  {
    name: "credential_sets: the mdoc option when the SD-JWT one cannot be met",
    dcql_query: { credentials: [{ id: "sd", format: "dc+sd-jwt", claims: [{ path: ["nope"] }] }, q("pid", PID, [c(PID, "age_over_18")])], credential_sets: [{ options: [["sd"], ["pid"]] }] },
    expect: [m("pid", "pid-mdoc", [`${PID}.age_over_18`])],
  },
  { name: "an mso_mdoc query never matches an SD-JWT VC", wallet: ["pid-1"], dcql_query: one(q("mdl", null, [])), expect: null },
  { name: "an SD-JWT VC query never matches an mdoc", wallet: ["mdl-1", "pid-mdoc"], dcql_query: one({ id: "sd", format: "dc+sd-jwt", claims: [{ path: ["given_name"] }] }), expect: null },
];

const file = {
  description: "Shared matcher vectors (DCQL over mdocs, and mdocs with SD-JWT VCs); read by clients/typescript/test/matcher.test.ts and crates/wallet/tests/matching_vectors.rs.",
  format_note: "mso_mdoc credentials are base64url IssuerSigned; `doctype` and `elements` (namespace -> element -> value as JSON, null where the value has no JSON form) are what a parser must read. Disclosed claims of an mdoc are `namespace.element`. Matchers do not verify signatures.",
  credentials,
  cases,
};
writeFileSync(join(out, "mdoc-dcql.json"), JSON.stringify(file, null, 2) + "\n");
console.log("wrote mdoc-dcql.json");
