/**
 * The {@link FlowTransport} step API over a frame session: each call sends one frame and resolves at the next
 * point where the caller acts, mapped into the web client's result shapes. Shared by WebSocket and SSE.
 */
import type { FlowCallbacks } from "./callbacks.js";
import type {
  FlowRequest,
  FlowResponse,
  FlowTransport,
  OID4VCIFlowParams,
  OID4VCIFlowResult,
  OID4VCIIssuerInfo,
  OID4VPFlowParams,
  OID4VPFlowResult,
  OID4VPVerifierInfo,
  TrustStatus,
} from "./flow-types.js";
import type { ServerFrame } from "./protocol.js";
import { FlowError, SessionTransport, type FlowOutcome } from "./session.js";
import type { Signer } from "./signing-types.js";
import { matcherFromHandlers, signerFromHandlers, type WebMatchRequestHandler, type WebSignRequestHandler } from "./web-compat.js";

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function trustStatus(status: unknown, trusted: unknown): TrustStatus {
  if (status === "trusted" || status === "untrusted" || status === "unknown") return status;
  if (typeof trusted === "boolean") return trusted ? "trusted" : "untrusted";
  return "unknown";
}

function logo(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  return str(obj(v)?.uri);
}

/** Maps the engine's verifier object (`credential_selection.payload.verifier`) to {@link OID4VPVerifierInfo}. */
export function verifierInfo(raw: Record<string, unknown>): OID4VPVerifierInfo {
  const info: OID4VPVerifierInfo = { trustedStatus: trustStatus(raw.trusted_status, raw.trusted) };
  const set = <K extends keyof OID4VPVerifierInfo>(k: K, v: OID4VPVerifierInfo[K] | undefined) => {
    if (v !== undefined) info[k] = v;
  };
  set("name", str(raw.name));
  set("purpose", str(raw.purpose));
  set("domain", str(raw.domain));
  set("logo", logo(raw.logo));
  set("clientIdScheme", str(raw.client_id_scheme));
  set("trustFramework", str(raw.framework));
  set("reason", str(raw.reason));
  if (typeof raw.trusted === "boolean") info.trusted = raw.trusted;
  if (obj(raw.metadata)) info.metadata = obj(raw.metadata);
  return info;
}

function issuerInfo(raw: Record<string, unknown>): OID4VCIIssuerInfo {
  const info: OID4VCIIssuerInfo = { trustedStatus: trustStatus(raw.trusted_status, raw.trusted) };
  const id = str(raw.identifier);
  if (id) info.identifier = id;
  const name = str(raw.name);
  if (name) info.name = name;
  const l = logo(raw.logo);
  if (l) info.logo = l;
  return info;
}

function failure(flowId: string | undefined, code: string, message: string, details?: unknown) {
  return { success: false as const, ...(flowId ? { flowId } : {}), error: { code, message, ...(details === undefined ? {} : { details }) } };
}

/** Maps a stop frame of an issuance to the web client's {@link OID4VCIFlowResult}. */
export function mapIssuanceFrame(frame: ServerFrame): OID4VCIFlowResult {
  if (frame.type === "flow_error") return failure(frame.flow_id, frame.error.code, frame.error.message, frame.error.details);
  if (frame.type === "error") return failure(undefined, frame.code, frame.message);
  const r: OID4VCIFlowResult = { success: true };
  if ("flow_id" in frame) r.flowId = frame.flow_id;
  if (frame.type === "flow_progress") {
    const p = obj(frame.payload) ?? {};
    if (obj(p.issuer_metadata)) r.issuerMetadata = obj(p.issuer_metadata);
    if (obj(p.issuer_info)) r.issuerInfo = issuerInfo(obj(p.issuer_info) ?? {});
    if (obj(p.credential_configurations)) r.credentialConfigurations = obj(p.credential_configurations);
    if (str(p.authorization_url)) {
      r.authorizationRequired = true;
      r.authorizationUrl = str(p.authorization_url);
    }
    if (str(p.code_verifier)) r.codeVerifier = str(p.code_verifier);
    if (str(p.state)) r.issuerState = str(p.state);
    const offer = obj(p.credential_offer);
    if (offer && typeof offer.credential_issuer === "string" && Array.isArray(offer.credential_configuration_ids)) {
      r.credentialOffer = offer as unknown as OID4VCIFlowResult["credentialOffer"];
    }
    if (str(p.pre_authorized_code)) {
      r.preAuthorizedCode = str(p.pre_authorized_code);
      const tx = obj(p.tx_code) ?? {};
      r.txCode = {
        ...(str(tx.inputMode ?? tx.input_mode) ? { inputMode: str(tx.inputMode ?? tx.input_mode) } : {}),
        ...(typeof tx.length === "number" ? { length: tx.length } : {}),
        ...(str(tx.description) ? { description: str(tx.description) } : {}),
      };
    }
    r.selectedCredentialConfigurationId = str(p.selected_credential_configuration_id) ?? r.credentialOffer?.credential_configuration_ids[0];
    r.credentialIssuerIdentifier = str(p.credential_issuer) ?? r.issuerInfo?.identifier ?? r.credentialOffer?.credential_issuer;
  } else if (frame.type === "flow_complete") {
    const creds = (frame.credentials ?? []).map((c) => ({
      format: c.format,
      credential: typeof c.credential === "string" ? c.credential : JSON.stringify(c.credential),
      ...(c.vct ? { vct: c.vct } : {}),
      ...(c.notification_id ? { notification_id: c.notification_id } : {}),
      ...(c.type_metadata !== undefined && c.type_metadata !== null ? { type_metadata: c.type_metadata } : {}),
    }));
    r.credentials = creds;
    if (creds[0]) {
      // The deprecated single-credential members, for clients that still read them.
      // eslint-disable-next-line @typescript-eslint/no-deprecated
      r.credential = creds[0].credential;
      // eslint-disable-next-line @typescript-eslint/no-deprecated
      r.format = creds[0].format;
    }
    if (frame.credential_issuer) r.credentialIssuerIdentifier = frame.credential_issuer;
    if (frame.selected_credential_configuration_id) r.selectedCredentialConfigurationId = frame.selected_credential_configuration_id;
    if (frame.refresh_token) r.refreshToken = frame.refresh_token;
  }
  return Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as unknown as OID4VCIFlowResult;
}

/** Maps a stop frame of a presentation to the web client's {@link OID4VPFlowResult}. */
export function mapPresentationFrame(frame: ServerFrame): OID4VPFlowResult {
  if (frame.type === "flow_error") return failure(frame.flow_id, frame.error.code, frame.error.message, frame.error.details);
  if (frame.type === "error") return failure(undefined, frame.code, frame.message);
  const r: OID4VPFlowResult = { success: true };
  if ("flow_id" in frame) r.flowId = frame.flow_id;
  if (frame.type === "flow_progress") {
    const p = obj(frame.payload) ?? {};
    const q = obj(p.dcql_query);
    if (q) r.dcqlQuery = q;
    if (p.presentation_definition !== undefined) r.presentationDefinition = p.presentation_definition;
    const v = obj(p.verifier);
    if (v) r.verifierInfo = verifierInfo(v);
    const sets = q && Array.isArray(q.credential_sets) ? (q.credential_sets as unknown[]) : [];
    const purpose = str(obj(sets[0])?.purpose);
    if (purpose && r.verifierInfo) r.verifierInfo.purpose = purpose;
    if (Array.isArray(p.transaction_data)) r.transactionData = p.transaction_data as OID4VPFlowResult["transactionData"];
  } else if (frame.type === "flow_complete") {
    if (frame.redirect_uri) r.redirectUri = frame.redirect_uri;
  }
  return r;
}

/** The step API on top of {@link SessionTransport}; {@link WebSocketTransport} and {@link SseTransport} extend it. */
export abstract class FrameFlowTransport extends SessionTransport implements FlowTransport {
  private readonly signHandlers = new Set<WebSignRequestHandler>();
  private readonly matchHandlers = new Set<WebMatchRequestHandler>();

  /**
   * Web-client compatibility: registers a sign handler (camelCase shapes); used when no `signer` option or
   * per-flow signer is set. Handlers are tried in turn until one succeeds. Returns the unregister function.
   */
  onSignRequest(handler: WebSignRequestHandler): () => void {
    this.signHandlers.add(handler);
    return () => this.signHandlers.delete(handler);
  }

  /** Web-client compatibility: registers a match handler for `match_request` (full profile). */
  onMatchRequest(handler: WebMatchRequestHandler): () => void {
    this.matchHandlers.add(handler);
    return () => this.matchHandlers.delete(handler);
  }

  protected override registeredSigner(): Signer | undefined {
    return this.signHandlers.size > 0 ? signerFromHandlers(this.signHandlers) : undefined;
  }

  protected override registeredMatcher() {
    return this.matchHandlers.size > 0 ? matcherFromHandlers(this.matchHandlers) : undefined;
  }

  /** Web-client compatibility: the flow the step API continues by default. */
  getCurrentFlowId(): string | null {
    return this.lastFlowId ?? null;
  }

  /** Web-client compatibility: sends a `flow_action` (e.g. a decision the step API has no parameter for). */
  sendFlowAction(action: { flowId: string; action: string; payload: Record<string, unknown> }): void {
    this.continueFlow(action.flowId, action.action, action.payload);
  }

  private async step<R>(map: (f: ServerFrame) => R, run: () => Promise<Parameters<SessionTransport["nextStop"]>[0]>): Promise<R> {
    const flow = await run();
    return map(await this.nextStop(flow, this.options.stepTimeoutMs ?? 60_000));
  }

  private flowFor(id: string | undefined): string {
    const f = id ?? this.lastFlowId;
    if (!f) throw new FlowError("", "UNKNOWN_FLOW", "no flow to continue: start one first or pass flowId");
    return f;
  }

  /** {@inheritDoc FlowTransport.startOID4VCIFlow} */
  async startOID4VCIFlow(params: OID4VCIFlowParams): Promise<OID4VCIFlowResult> {
    try {
      return await this.step(mapIssuanceFrame, async () => {
        if (params.credentialOfferUri || params.credentialOffer) {
          const resume = Boolean(params.authorizationCode && params.credentialOffer);
          const flow = await this.beginFlow(
            {
              protocol: "oid4vci",
              ...(params.flowId ? { flow_id: params.flowId } : {}),
              ...(resume ? {} : params.credentialOfferUri ? { credential_offer_uri: params.credentialOfferUri } : {}),
              ...(params.credentialOffer ? { offer: params.credentialOffer } : {}),
              ...(params.redirectUri ? { redirect_uri: params.redirectUri } : {}),
              ...(resume ? { auth_code: params.authorizationCode, code_verifier: params.codeVerifier ?? null } : {}),
              ...(params.clientAttestation ? { client_attestation: params.clientAttestation } : {}),
              ...(params.clientAttestationPoP ? { client_attestation_pop: params.clientAttestationPoP } : {}),
            },
            undefined,
            true,
          );
          this.lastFlowId = flow.id;
          return flow;
        }
        const id = this.flowFor(params.flowId);
        if (params.holderBinding && params.credentialConfigurationId) {
          return this.continueFlow(id, "consent", {
            credential_configuration_id: params.credentialConfigurationId,
            holder_public_key: params.holderBinding.publicKeyJwk,
            holder_binding_method: params.holderBinding.method,
          });
        }
        if (params.authorizationCode) {
          return this.continueFlow(id, "authorization_complete", {
            code: params.authorizationCode,
            ...(params.state ? { state: params.state } : {}),
            ...(params.codeVerifier ? { code_verifier: params.codeVerifier } : {}),
          });
        }
        if (params.preAuthorizedCode) {
          return this.continueFlow(id, "provide_pin", { pre_authorized_code: params.preAuthorizedCode, tx_code: params.txCodeInput ?? "" });
        }
        throw new FlowError(id, "INVALID_PARAMS", "OID4VCI params name no entry point or continuation");
      });
    } catch (e) {
      return failure(params.flowId, e instanceof FlowError ? e.code : "TRANSPORT_ERROR", e instanceof Error ? e.message : String(e));
    }
  }

  /** {@inheritDoc FlowTransport.startOID4VPFlow} */
  async startOID4VPFlow(params: OID4VPFlowParams): Promise<OID4VPFlowResult> {
    try {
      return await this.step(mapPresentationFrame, async () => {
        if ((params.requestUriRef || params.requestUri) && !params.selectedCredentials) {
          const flow = await this.beginFlow(
            {
              protocol: "oid4vp",
              ...(params.flowId ? { flow_id: params.flowId } : {}),
              ...(params.requestUriRef ? { request_uri_ref: params.requestUriRef } : {}),
              ...(params.requestUri ? { request_uri: params.requestUri } : {}),
              ...(params.clientId ? { client_id: params.clientId } : {}),
            },
            undefined,
            true,
          );
          this.lastFlowId = flow.id;
          return flow;
        }
        if (params.selectedCredentials) {
          const id = this.flowFor(params.flowId);
          const flow = this.continueFlow(id, "consent", {
            selected_credentials: params.selectedCredentials.map((c) => ({
              credential_id: c.walletCredentialRef,
              credential_query_id: c.credentialQueryId,
              disclosed_claims: c.disclosedClaims ?? [],
            })),
          });
          // The raw credentials stay here for the signer; the engine never sees them.
          for (const c of params.selectedCredentials) flow.rawCredentials.set(c.walletCredentialRef, c.credentialRaw);
          return flow;
        }
        throw new FlowError("", "INVALID_PARAMS", "OID4VP params name no entry point or continuation");
      });
    } catch (e) {
      return failure(params.flowId, e instanceof FlowError ? e.code : "TRANSPORT_ERROR", e instanceof Error ? e.message : String(e));
    }
  }

  /**
   * Generic requests. Supported: `{type:"vctm", action:"get", payload:{vct}}` (type metadata through the
   * engine). Anything else answers `UNSUPPORTED`.
   */
  async request<T>(flowRequest: FlowRequest): Promise<FlowResponse<T>> {
    const vct = str(obj(flowRequest.payload)?.vct);
    if (flowRequest.type !== "vctm" || !vct) {
      return { success: false, error: { code: "UNSUPPORTED", message: "only vctm requests are supported" } };
    }
    try {
      return { success: true, data: (await this.getTypeMetadata(vct)) as T };
    } catch (e) {
      const fe = e instanceof FlowError ? e : undefined;
      return { success: false, error: { code: fe?.code ?? "TRANSPORT_ERROR", message: e instanceof Error ? e.message : String(e), details: fe?.details } };
    }
  }

  /** Runs a `vctm` flow and resolves with the type metadata. */
  async getTypeMetadata(vct: string): Promise<unknown> {
    const out = await this.runFlow({ protocol: "vctm", vct });
    return out.status === "complete" ? out.frame.type_metadata : undefined;
  }

  /**
   * Runs a whole issuance with callbacks (signer, PIN, authorization, selection). `offer` is an
   * `openid-credential-offer://` URL, offer JSON text, or the https URL of an offer.
   */
  runIssuance(offer: string, callbacks?: FlowCallbacks, extra?: { redirectUri?: string; clientAttestation?: string; clientAttestationPoP?: string }): Promise<FlowOutcome> {
    const byRef = /^https?:\/\//i.test(offer);
    return this.runFlow(
      {
        protocol: "oid4vci",
        ...(byRef ? { credential_offer_uri: offer } : { offer }),
        ...(extra?.redirectUri ? { redirect_uri: extra.redirectUri } : {}),
        ...(extra?.clientAttestation ? { client_attestation: extra.clientAttestation } : {}),
        ...(extra?.clientAttestationPoP ? { client_attestation_pop: extra.clientAttestationPoP } : {}),
      },
      callbacks,
    );
  }

  /** Resumes an issuance after the authorization redirect (same-tab flow). */
  resumeIssuance(resume: { credentialOffer: Record<string, unknown> | string; redirectUri: string; authorizationCode: string; codeVerifier: string }, callbacks?: FlowCallbacks): Promise<FlowOutcome> {
    const offer = typeof resume.credentialOffer === "string" ? resume.credentialOffer : JSON.stringify(resume.credentialOffer);
    return this.runFlow(
      { protocol: "oid4vci", offer, redirect_uri: resume.redirectUri, auth_code: resume.authorizationCode, code_verifier: resume.codeVerifier },
      callbacks,
    );
  }

  /**
   * Runs a whole presentation with callbacks (consent, signer). `request` is an `openid4vp://`/`haip://` URL or
   * query string; or pass `{requestUriRef, clientId}` as the web client does.
   */
  runPresentation(request: string | { requestUriRef: string; clientId: string }, callbacks?: FlowCallbacks): Promise<FlowOutcome> {
    const start = typeof request === "string" ? { request_uri: request } : { request_uri_ref: request.requestUriRef, client_id: request.clientId };
    return this.runFlow({ protocol: "oid4vp", ...start }, callbacks);
  }
}
