/**
 * LEGACY: the HTTP-proxy transport, for deployments that still enable walletd's `/proxy`
 * (`features.legacy_proxy: true`). The browser runs the protocol itself and every request to an issuer goes
 * through `POST {backend}/proxy {url, method, headers, data}`. walletd exists to remove that open proxy: prefer
 * the WebSocket or SSE transport (the engine does the network work behind its egress guard) and keep this one
 * only for deployments that cannot move yet.
 *
 * Scope: OID4VCI with a pre-authorized code (with or without a transaction code), JWT proofs from the caller's
 * signer, plain `Bearer` access tokens (no DPoP). Authorization-code issuance and OID4VP answer `UNSUPPORTED`:
 * use a frame transport for them.
 */
import type {
  FlowProgressEvent,
  FlowRequest,
  FlowResponse,
  FlowTransport,
  OID4VCIFlowParams,
  OID4VCIFlowResult,
  OID4VPFlowParams,
  OID4VPFlowResult,
} from "./flow-types.js";
import type { Signer } from "./signing-types.js";

/** Options of {@link HttpProxyTransport}. */
export interface HttpProxyTransportOptions {
  /** The backend's base URL (where `/proxy` is). */
  backendUrl: string;
  /** The access token, or a function returning the current one. */
  token: string | (() => string | Promise<string>);
  /** Signs proofs; keys stay with the caller. */
  signer?: Signer;
  /** fetch (default global). */
  fetch?: typeof fetch;
}

/** The proxy's answer `{status, headers, data}`. */
export interface ProxyResponse {
  status: number;
  headers: Record<string, string>;
  data: unknown;
}

interface PendingIssuance {
  offer: { credential_issuer: string; credential_configuration_ids: string[]; grants?: Record<string, unknown> };
  metadata: Record<string, unknown>;
  preAuthorizedCode: string;
}

class ProxyFlowError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function obj(v: unknown): Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** See the module docs. @deprecated legacy: use {@link WebSocketTransport} or {@link SseTransport}. */
export class HttpProxyTransport implements FlowTransport {
  readonly transportType = "http_proxy" as const;
  private readonly base: string;
  private readonly fetchFn: typeof fetch;
  private readonly pending = new Map<string, PendingIssuance>();
  private readonly progress = new Set<(e: FlowProgressEvent) => void>();
  private readonly errors = new Set<(e: Error) => void>();
  private connected = false;

  constructor(private readonly options: HttpProxyTransportOptions) {
    this.base = options.backendUrl.replace(/\/+$/, "");
    // Never call a supplied fetch as a method of this object (window.fetch refuses another `this`).
    const f = options.fetch ?? fetch;
    this.fetchFn = (...a: Parameters<typeof fetch>) => f(...a);
  }

  /** HTTP needs no connection; this only marks the transport usable. */
  connect(): Promise<void> {
    this.connected = true;
    return Promise.resolve();
  }

  disconnect(): Promise<void> {
    this.connected = false;
    this.pending.clear();
    return Promise.resolve();
  }

  isConnected(): boolean {
    return this.connected;
  }

  onProgress(callback: (event: FlowProgressEvent) => void): () => void {
    this.progress.add(callback);
    return () => this.progress.delete(callback);
  }

  onError(callback: (error: Error) => void): () => void {
    this.errors.add(callback);
    return () => this.errors.delete(callback);
  }

  private emit(flowId: string, stage: string, payload?: unknown): void {
    for (const l of [...this.progress]) l({ flowId, stage, ...(payload === undefined ? {} : { payload }) });
  }

  /** One request through `POST /proxy`. */
  async proxy(url: string, method = "GET", headers: Record<string, string> = {}, data?: unknown): Promise<ProxyResponse> {
    const t = this.options.token;
    const token = typeof t === "function" ? await t() : t;
    const res = await this.fetchFn(`${this.base}/proxy`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ url, method, headers, ...(data === undefined ? {} : { data }) }),
    });
    if (res.status === 404) throw new ProxyFlowError("PROXY_DISABLED", "the backend's legacy proxy is disabled");
    if (!res.ok) throw new ProxyFlowError("PROXY_ERROR", `the proxy answered ${res.status}`);
    return (await res.json()) as ProxyResponse;
  }

  private async json(url: string, method = "GET", headers: Record<string, string> = {}, data?: unknown): Promise<Record<string, unknown>> {
    const r = await this.proxy(url, method, headers, data);
    const body = typeof r.data === "string" ? (JSON.parse(r.data) as unknown) : r.data;
    if (r.status < 200 || r.status >= 300) {
      const e = obj(body);
      throw new ProxyFlowError("UPSTREAM_ERROR", `${new URL(url).host} answered ${r.status}${typeof e.error === "string" ? ` (${e.error})` : ""}`);
    }
    return obj(body);
  }

  private async parseOffer(params: OID4VCIFlowParams): Promise<PendingIssuance["offer"]> {
    let text = params.credentialOffer ?? params.credentialOfferUri ?? "";
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text) && !/^https?:/i.test(text)) {
      const q = new URL(text).searchParams;
      const byRef = q.get("credential_offer_uri");
      text = q.get("credential_offer") ?? "";
      if (byRef) return obj(await this.json(byRef)) as PendingIssuance["offer"];
    } else if (/^https?:/i.test(text)) {
      return obj(await this.json(text)) as PendingIssuance["offer"];
    }
    let v: unknown = JSON.parse(text);
    if (typeof v === "string") v = JSON.parse(v);
    const o = obj(v);
    if (typeof o.credential_issuer !== "string" || !Array.isArray(o.credential_configuration_ids)) throw new ProxyFlowError("OFFER_PARSE_ERROR", "the offer lacks credential_issuer or credential_configuration_ids");
    return o as PendingIssuance["offer"];
  }

  private wellKnown(issuer: string, name: string): string {
    const u = new URL(issuer);
    return `${u.origin}/.well-known/${name}${u.pathname === "/" ? "" : u.pathname}`;
  }

  async startOID4VCIFlow(params: OID4VCIFlowParams): Promise<OID4VCIFlowResult> {
    const flowId = params.flowId ?? crypto.randomUUID();
    try {
      let p: PendingIssuance | undefined = params.preAuthorizedCode ? this.pending.get(flowId) ?? [...this.pending.values()].find((x) => x.preAuthorizedCode === params.preAuthorizedCode) : undefined;
      if (!p) {
        if (!params.credentialOffer && !params.credentialOfferUri) throw new ProxyFlowError("INVALID_PARAMS", "no offer and no pending issuance");
        const offer = await this.parseOffer(params);
        this.emit(flowId, "offer_parsed", offer);
        const metadata = await this.json(this.wellKnown(offer.credential_issuer, "openid-credential-issuer"));
        if (metadata.credential_issuer !== offer.credential_issuer) throw new ProxyFlowError("METADATA_FETCH_ERROR", "the metadata names another credential issuer");
        this.emit(flowId, "metadata_fetched", { credential_issuer: offer.credential_issuer });
        const grant = obj(obj(offer.grants)["urn:ietf:params:oauth:grant-type:pre-authorized_code"]);
        if (typeof grant["pre-authorized_code"] !== "string") throw new ProxyFlowError("UNSUPPORTED", "only pre-authorized offers run over the legacy proxy transport");
        p = { offer, metadata, preAuthorizedCode: grant["pre-authorized_code"] };
        if (grant.tx_code !== undefined && params.txCodeInput === undefined) {
          this.pending.set(flowId, p);
          const tx = obj(grant.tx_code);
          return {
            success: true,
            flowId,
            preAuthorizedCode: p.preAuthorizedCode,
            txCode: { ...(typeof tx.input_mode === "string" ? { inputMode: tx.input_mode } : {}), ...(typeof tx.length === "number" ? { length: tx.length } : {}), ...(typeof tx.description === "string" ? { description: tx.description } : {}) },
            credentialIssuerIdentifier: offer.credential_issuer,
          };
        }
      }
      this.pending.delete(flowId);
      return await this.finishIssuance(flowId, p, params.txCodeInput);
    } catch (e) {
      const code = e instanceof ProxyFlowError ? e.code : "CREDENTIAL_ERROR";
      return { success: false, flowId, error: { code, message: e instanceof Error ? e.message : String(e) } };
    }
  }

  private async finishIssuance(flowId: string, p: PendingIssuance, txCode: string | undefined): Promise<OID4VCIFlowResult> {
    const { offer, metadata } = p;
    const configId = offer.credential_configuration_ids[0];
    if (!configId) throw new ProxyFlowError("OFFER_PARSE_ERROR", "the offer names no configuration");
    const asUrl = Array.isArray(metadata.authorization_servers) && typeof metadata.authorization_servers[0] === "string" ? metadata.authorization_servers[0] : offer.credential_issuer;
    const as = await this.json(this.wellKnown(asUrl, "oauth-authorization-server")).catch(() => this.json(this.wellKnown(asUrl, "openid-configuration")));
    if (typeof as.token_endpoint !== "string") throw new ProxyFlowError("AUTHORIZATION_FAILED", "no token endpoint");
    const form = new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:pre-authorized_code", "pre-authorized_code": p.preAuthorizedCode });
    if (txCode !== undefined) form.set("tx_code", txCode);
    this.emit(flowId, "exchanging_token");
    const token = await this.json(as.token_endpoint, "POST", { "content-type": "application/x-www-form-urlencoded" }, form.toString()).catch((e: unknown) => {
      throw new ProxyFlowError("TOKEN_ERROR", e instanceof Error ? e.message : "token request failed");
    });
    if (typeof token.access_token !== "string") throw new ProxyFlowError("TOKEN_ERROR", "no access token");
    let nonce = typeof token.c_nonce === "string" ? token.c_nonce : undefined;
    if (typeof metadata.nonce_endpoint === "string") {
      const n = await this.json(metadata.nonce_endpoint, "POST");
      if (typeof n.c_nonce === "string") nonce = n.c_nonce;
    }
    const config = obj(obj(metadata.credential_configurations_supported)[configId]);
    const body: Record<string, unknown> = { credential_configuration_id: configId };
    if (config.proof_types_supported !== undefined || config.cryptographic_binding_methods_supported !== undefined) {
      if (!this.options.signer) throw new ProxyFlowError("SIGN_ERROR", "the credential needs a proof and no signer is set");
      const proofs = await this.options.signer.generateProofs({
        flowId,
        messageId: crypto.randomUUID(),
        params: { audience: offer.credential_issuer, ...(nonce ? { nonce } : {}), proof_types_supported: obj(config.proof_types_supported ?? { jwt: { proof_signing_alg_values_supported: ["ES256"] } }) as never, count: 1 },
      });
      body.proofs = { jwt: proofs.map((x) => x.jwt).filter((j): j is string => typeof j === "string") };
    }
    if (typeof metadata.credential_endpoint !== "string") throw new ProxyFlowError("METADATA_FETCH_ERROR", "no credential endpoint");
    this.emit(flowId, "requesting_credential");
    const cred = await this.json(metadata.credential_endpoint, "POST", { authorization: `Bearer ${token.access_token}`, "content-type": "application/json" }, body).catch((e: unknown) => {
      throw new ProxyFlowError("CREDENTIAL_ERROR", e instanceof Error ? e.message : "credential request failed");
    });
    const list = Array.isArray(cred.credentials) ? cred.credentials.map((c) => (typeof c === "string" ? c : obj(c).credential)) : [cred.credential];
    const format = typeof config.format === "string" ? config.format : undefined;
    const credentials = list.filter((c): c is string => typeof c === "string").map((credential) => ({ credential, ...(format ? { format } : {}) }));
    if (credentials.length === 0) throw new ProxyFlowError("CREDENTIAL_ERROR", "the issuer returned no credential");
    return { success: true, flowId, credentials, credentialIssuerIdentifier: offer.credential_issuer, selectedCredentialConfigurationId: configId };
  }

  /** Presentations need the engine: answers `UNSUPPORTED`. */
  startOID4VPFlow(params: OID4VPFlowParams): Promise<OID4VPFlowResult> {
    return Promise.resolve({ success: false, ...(params.flowId ? { flowId: params.flowId } : {}), error: { code: "UNSUPPORTED", message: "presentations need the WebSocket or SSE transport" } });
  }

  /** Not supported over the legacy proxy. */
  request<T>(_flowRequest: FlowRequest): Promise<FlowResponse<T>> {
    return Promise.resolve({ success: false, error: { code: "UNSUPPORTED", message: "generic requests need the WebSocket or SSE transport" } });
  }
}
