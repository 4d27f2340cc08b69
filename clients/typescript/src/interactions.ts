/**
 * How a flow's interaction points (`flow_progress` steps that need the user or the wallet) are answered through
 * {@link FlowCallbacks}: trust decisions, transaction codes, authorization, configuration choice, consent.
 */
import type { AuthorizationPrompt, ConsentRequest, FlowCallbacks, TrustAnswer } from "./callbacks.js";
import { FlowError } from "./session-types.js";

/** What an answer needs: the flow, its callbacks, and a way to send a `flow_action`. */
export interface InteractionContext {
  flowId: string;
  callbacks: FlowCallbacks;
  act(action: string, payload: Record<string, unknown>): void;
}

const STOP_STEPS = new Set(["authorization_required", "credential_selection", "awaiting_selection"]);

function obj(v: unknown): Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** Whether a step waits for the caller (the web client's stop points: a URL or PIN, a selection). */
export function isStop(step: string, p: Record<string, unknown>): boolean {
  if (!STOP_STEPS.has(step)) return false;
  return step !== "authorization_required" || Boolean(p.authorization_url || p.pre_authorized_code);
}

/** The prompt of an `authorization_required` step with an authorization URL. */
export function authorizationPrompt(flowId: string, p: Record<string, unknown>): AuthorizationPrompt {
  return {
    flowId,
    authorizationUrl: str(p.authorization_url) ?? "",
    expectedRedirectUri: str(p.expected_redirect_uri),
    state: str(p.state) ?? "",
    codeVerifier: str(p.code_verifier) ?? "",
    credentialOffer: obj(p.credential_offer),
  };
}

/** Answers a client-mediated trust request; no `onTrust` (or a failing one) answers untrusted. */
export async function answerTrust(ctx: InteractionContext, p: Record<string, unknown>): Promise<void> {
  const req = obj(p.request);
  let answer: TrustAnswer;
  try {
    answer = ctx.callbacks.onTrust
      ? await ctx.callbacks.onTrust({
          flowId: ctx.flowId,
          subject_id: str(req.subject_id) ?? "",
          subject_type: str(req.subject_type) ?? "",
          key_material: obj(req.key_material),
          context: obj(req.context),
        })
      : { trusted: false, reason: "the client has no trust evaluator" };
  } catch (e) {
    answer = { trusted: false, reason: e instanceof Error ? e.message : "trust evaluation failed" };
  }
  ctx.act("trust_result", { ...answer });
}

/**
 * Answers an interaction point through the callbacks. Resolves `"left"` when the caller leaves for an
 * authorization redirect (`onAuthorization` gave `null`); throws {@link FlowError} when a needed callback is
 * missing or the user cancelled.
 */
export async function answerInteraction(ctx: InteractionContext, step: string, p: Record<string, unknown>): Promise<"answered" | "left"> {
  const cb = ctx.callbacks;
  const missing = (what: string) => new FlowError(ctx.flowId, "CLIENT_ERROR", `the flow needs ${what} and no callback is set`, undefined, step);
  if (step === "authorization_required" && p.pre_authorized_code) {
    if (!cb.onTxCode) throw missing("a transaction code (onTxCode)");
    const code = await cb.onTxCode({ flowId: ctx.flowId, txCode: obj(p.tx_code), preAuthorizedCode: str(p.pre_authorized_code) ?? "", credentialIssuer: str(p.credential_issuer) });
    if (code === null) throw new FlowError(ctx.flowId, "CANCELLED", "the user cancelled", undefined, step);
    ctx.act("provide_pin", { tx_code: code, pre_authorized_code: p.pre_authorized_code });
  } else if (step === "authorization_required") {
    if (!cb.onAuthorization) throw missing("authorization (onAuthorization)");
    const answer = await cb.onAuthorization(authorizationPrompt(ctx.flowId, p));
    if (answer === null) return "left";
    const payload: Record<string, unknown> = { code: answer.code, state: answer.state };
    if (answer.codeVerifier) payload.code_verifier = answer.codeVerifier;
    ctx.act("authorization_complete", payload);
  } else if (step === "awaiting_selection") {
    if (!cb.onSelectConfiguration) throw missing("a configuration choice (onSelectConfiguration)");
    const offered = Array.isArray(p.available_credentials) ? (p.available_credentials as { id: string }[]) : [];
    ctx.act("select_credential", { credential_configuration_id: await cb.onSelectConfiguration(ctx.flowId, offered) });
  } else if (step === "credential_selection") {
    const req: ConsentRequest = {
      flowId: ctx.flowId,
      payload: p,
      ...(p.dcql_query ? { dcqlQuery: obj(p.dcql_query) } : {}),
      ...(p.presentation_definition ? { presentationDefinition: obj(p.presentation_definition) } : {}),
      ...(p.verifier ? { verifier: obj(p.verifier) } : {}),
      ...(Array.isArray(p.transaction_data) ? { transactionData: p.transaction_data as unknown[] } : {}),
    };
    const selection = cb.onConsent ? await cb.onConsent(req) : null;
    if (selection === null) {
      ctx.act("decline", { reason: cb.onConsent ? "the user declined" : "the client has no consent callback" });
      return "answered";
    }
    ctx.act("consent", { selected_credentials: selection });
  }
  return "answered";
}
