// The scripted flows the transport tests run (issuance with PIN and proofs, presentation with consent, vctm).
import type { Signer } from "../../src/index.js";
import type { FlowIo } from "./fake-engine.js";

export const signer: Signer = {
  generateProofs: async (req) => Array.from({ length: req.params.count ?? 1 }, (_, i) => ({ proof_type: "jwt", jwt: `proof-${req.params.audience}-${i}` })),
  signPresentation: async (req) => JSON.stringify(Object.fromEntries(req.params.credentials_to_include.map((c) => [c.credential_query_id, [`vp-${c.credential_id}`]]))),
};

// An issuance with a tx_code prompt and a sign request; a presentation with consent and a sign request.
export async function script(io: FlowIo): Promise<void> {
  const s = io.start;
  if (s.protocol === "vctm") {
    io.send({ type: "flow_complete", type_metadata: { vct: s.vct, name: "T" } });
    return;
  }
  if (s.protocol === "oid4vci" && typeof s.auth_code === "string") {
    // Same-tab resume: straight to the token with the code and verifier the client kept.
    const offer = JSON.parse(String(s.offer)) as { credential_configuration_ids: string[] };
    const ok = s.auth_code === "the-code" && s.code_verifier === "cv" && s.redirect_uri === "https://wallet.example/cb";
    io.send(ok ? { type: "flow_complete", credentials: [{ format: "dc+sd-jwt", credential: "resumed~" }], selected_credential_configuration_id: offer.credential_configuration_ids[0] } : { type: "flow_error", step: "exchanging_token", error: { code: "TOKEN_ERROR", message: "bad resume" } });
    return;
  }
  if (s.protocol === "oid4vci" && s.offer === "wia") {
    io.send({ type: "sign_request", message_id: "pop1", action: "client_attestation_pop", params: { audience: "https://provider", challenge: "ch" } });
    const a = await io.next();
    if (typeof a.proof_jwt !== "string") {
      io.send({ type: "flow_error", step: "exchanging_token", error: { code: "SIGN_ERROR", message: typeof a.error === "string" ? a.error : "no pop" } });
      return;
    }
    io.send({ type: "flow_complete", credentials: [], credential_issuer: a.proof_jwt.split(".").length === 3 ? "pop-ok" : "pop-bad" });
    return;
  }
  if (s.protocol === "oid4vci" && s.offer === "auth-flow") {
    // Client-mediated trust, a configuration choice, then the authorization code grant.
    io.send({ type: "flow_progress", step: "evaluating_trust", payload: { trust_evaluation_required: true, request: { subject_id: "https://issuer.example", subject_type: "credential_issuer" } } });
    const trust = await io.next();
    if (trust.action !== "trust_result" || (trust.payload as { trusted?: boolean }).trusted !== true) {
      io.send({ type: "flow_error", step: "evaluating_trust", error: { code: "UNTRUSTED_ISSUER", message: "untrusted" } });
      return;
    }
    io.send({ type: "flow_progress", step: "awaiting_selection", payload: { available_credentials: [{ id: "pid" }, { id: "mdl" }] } });
    const sel = await io.next();
    const chosen = (sel.payload as { credential_configuration_id?: string }).credential_configuration_id ?? "";
    io.send({ type: "flow_progress", step: "authorization_required", payload: { authorization_url: "https://as.example/authorize?x=1", state: "st", code_verifier: "cv", credential_offer: { credential_issuer: "https://issuer.example", credential_configuration_ids: [chosen] } } });
    const auth = await io.next();
    if (auth.action !== "authorization_complete" || (auth.payload as { code?: string }).code !== "the-code") {
      io.send({ type: "flow_error", step: "authorization_required", error: { code: "AUTHORIZATION_FAILED", message: "no code" } });
      return;
    }
    io.send({ type: "flow_complete", credentials: [], credential_issuer: "https://issuer.example", selected_credential_configuration_id: chosen });
    return;
  }
  if (s.protocol === "oid4vci") {
    io.send({ type: "flow_progress", step: "offer_parsed", payload: { credential_issuer: "https://issuer.example" } });
    io.send({ type: "flow_progress", step: "authorization_required", payload: { type: "tx_code", pre_authorized_code: "pre", tx_code: { input_mode: "numeric", length: 4 }, credential_issuer: "https://issuer.example" } });
    const pin = await io.next();
    if (pin.action !== "provide_pin" || (pin.payload as { tx_code?: string }).tx_code !== "1234") {
      io.send({ type: "flow_error", step: "exchanging_token", error: { code: "TOKEN_ERROR", message: "bad pin", details: { error: "invalid_grant" } } });
      return;
    }
    io.send({ type: "sign_request", message_id: "m1", action: "generate_proof", params: { audience: "https://issuer.example", nonce: "n", proof_types_supported: { jwt: {} }, count: 2 } });
    const signed = await io.next();
    const proofs = signed.proofs as { jwt: string }[];
    io.send({ type: "flow_complete", credentials: proofs.map((p) => ({ format: "dc+sd-jwt", credential: `cred(${p.jwt})`, vct: "urn:t" })), credential_issuer: "https://issuer.example", selected_credential_configuration_id: "pid" });
    return;
  }
  io.send({ type: "flow_progress", step: "credential_selection", payload: { dcql_query: { credentials: [{ id: "q1" }], credential_sets: [{ options: [["q1"]], purpose: "age" }] }, verifier: { name: "V", trusted_status: "trusted", client_id_scheme: "x509_san_dns" } } });
  const consent = await io.next();
  if (consent.action === "decline") {
    io.send({ type: "flow_error", step: "credential_selection", error: { code: "PRESENTATION_ERROR", message: "declined" } });
    return;
  }
  const sel = (consent.payload as { selected_credentials: Record<string, unknown>[] }).selected_credentials;
  io.send({ type: "sign_request", message_id: "m2", action: "sign_presentation", params: { audience: "x509_san_dns:v", nonce: "n", credentials_to_include: sel } });
  const vp = await io.next();
  if (vp.error) {
    io.send({ type: "flow_error", step: "signing", error: { code: "SIGN_ERROR", message: typeof vp.error === "string" ? vp.error : JSON.stringify(vp.error) } });
    return;
  }
  io.send({ type: "flow_complete", redirect_uri: `https://v.example/done#${String(vp.vp_token)}` });
}

