/**
 * The `FlowTransport` contract: the operations and result shapes of the public web client's transport
 * abstraction (wallet-frontend `IOIDFlowTransport` and its OID4VCI/OID4VP types), so that a client written
 * against that interface can use any transport of this package unchanged. Members are camelCase like that
 * client's; the wire frames (snake_case) are in `./protocol.ts`.
 *
 * A few members are additions (marked "walletd") that the original lacks and a caller may ignore: `flowId` on
 * parameters to address one of several concurrent flows, and `flowId`/`notificationId` on results.
 */

/** Which transport a {@link FlowTransport} is. `sse` is walletd's; the others match the web client's names. */
export type FlowTransportType = "websocket" | "sse" | "http_proxy" | "direct";

/** A generic request (the web client's escape hatch for anything without a typed method). */
export interface FlowRequest {
  /** Which flow family the request belongs to. */
  type: "oid4vci" | "oid4vp" | "vctm" | "general";
  /** What to do. */
  action: string;
  /** Request data. */
  payload: unknown;
}

/** Error information of a failed step. */
export interface FlowTransportError {
  /** Machine-readable code (an API v2 `ErrorCode`, or a transport code such as `WEBSOCKET_ERROR`). */
  code: string;
  /** For people; never contains secrets. */
  message: string;
  /** Extra structured data (`flow_error.error.details`). */
  details?: unknown;
}

/** The answer to a {@link FlowRequest}. */
export interface FlowResponse<T = unknown> {
  /** Whether the request succeeded. */
  success: boolean;
  /** The result when it did. */
  data?: T;
  /** Why it did not. */
  error?: FlowTransportError;
}

/** A progress event of a running flow (one per `flow_progress` frame). */
export interface FlowProgressEvent {
  /** The flow's id. */
  flowId: string;
  /** The step name (`offer_parsed`, `token_obtained`, ...). */
  stage: string;
  /** Percentage, when the server sends one (walletd does not). */
  progress?: number;
  /** A message for people, when the server sends one. */
  message?: string;
  /** The step's payload object. */
  payload?: unknown;
}

/** Tri-state trust verdict. */
export type TrustStatus = "trusted" | "unknown" | "untrusted";

/** Trust data attached to issuer and verifier information. */
export interface TrustEvaluation {
  /** The verdict; `unknown` when no PDP decided. */
  trustedStatus?: TrustStatus;
  /** Why, as the PDP said. */
  reason?: string;
  /** Opaque PDP data for display. */
  metadata?: Record<string, unknown>;
}

// ===== OID4VCI =====

/** How the holder binds the credential to its key (sent with an OID4VCI consent). */
export interface OID4VCIHolderBinding {
  /** Binding method. */
  method: "dpop" | "attestation" | "jwt_key";
  /** The holder's public key. */
  publicKeyJwk: JsonWebKey;
}

/** One `authorization_details` entry naming a credential configuration. */
export interface OID4VCIAuthorizationDetail {
  /** Always `openid_credential`. */
  type: string;
  /** The configuration asked for. */
  credential_configuration_id?: string;
  [key: string]: unknown;
}

/**
 * Parameters of one step of an issuance. Which members are set decides the step: an offer starts a flow (with
 * `authorizationCode` + `credentialOffer` it resumes after a redirect); `holderBinding` +
 * `credentialConfigurationId` is a consent; `authorizationCode` alone completes authorization on the socket;
 * `preAuthorizedCode` + `txCodeInput` answers a transaction-code prompt.
 */
export interface OID4VCIFlowParams {
  /** An `openid-credential-offer://` URL or the https location of an offer. */
  credentialOfferUri?: string;
  /** The offer as JSON text (or an `openid-credential-offer://` URL). */
  credentialOffer?: string;
  /** Where the authorization server sends the user back. */
  redirectUri?: string;
  /** Wallet instance attestation JWT. */
  clientAttestation?: string;
  /** Its proof-of-possession JWT. */
  clientAttestationPoP?: string;
  /** Holder binding (consent step). */
  holderBinding?: OID4VCIHolderBinding;
  /** The chosen configuration. */
  credentialConfigurationId?: string;
  /** `authorization_details` for the authorization request. */
  authorizationDetails?: OID4VCIAuthorizationDetail[];
  /** Authorization code from the redirect. */
  authorizationCode?: string;
  /** OAuth state of the redirect. */
  state?: string;
  /** PKCE verifier of the authorization request. */
  codeVerifier?: string;
  /** Issuer identifier, for resumption. */
  issuerIdentifier?: string;
  /** Configuration id, for resumption. */
  configurationId?: string;
  /** The pre-authorized code of a transaction-code prompt. */
  preAuthorizedCode?: string;
  /** The transaction code the user typed. */
  txCodeInput?: string;
  /** walletd: the flow a continuation belongs to (default: the last flow this transport started). */
  flowId?: string;
}

/** Transaction-code requirements of a pre-authorized offer. */
export interface OID4VCITxCode {
  /** `numeric` or `text`. */
  inputMode?: string;
  /** Expected length. */
  length?: number;
  /** Text to show. */
  description?: string;
}

/** Issuer information for display. */
export interface OID4VCIIssuerInfo extends TrustEvaluation {
  /** The credential issuer identifier. */
  identifier?: string;
  /** Display name. */
  name?: string;
  /** Logo URL. */
  logo?: string;
}

/** A credential offer (kept by the client to resume after a redirect). */
export interface OID4VCICredentialOffer {
  /** Credential issuer URL. */
  credential_issuer: string;
  /** Offered configuration ids. */
  credential_configuration_ids: string[];
  /** Offered grants. */
  grants?: Record<string, unknown>;
}

/** One issued credential of a batch. */
export interface OID4VCIIssuedCredential {
  /** `dc+sd-jwt`, `vc+sd-jwt`, `mso_mdoc`, `jwt_vc_json`. */
  format?: string;
  /** The credential as issued. */
  credential: string;
  /** SD-JWT VC type. */
  vct?: string;
  /** walletd: the id for a later `credential_notification`. */
  notification_id?: string;
  /** walletd: the registry's type metadata. */
  type_metadata?: unknown;
}

/** The result of one issuance step. */
export interface OID4VCIFlowResult {
  /** Whether the step succeeded. */
  success: boolean;
  /** Issuer metadata, when the server sends it. */
  issuerMetadata?: Record<string, unknown>;
  /** Issuer display and trust data. */
  issuerInfo?: OID4VCIIssuerInfo;
  /** The credential issuer identifier. */
  credentialIssuerIdentifier?: string;
  /** Offered configurations, when the server sends them. */
  credentialConfigurations?: Record<string, unknown>;
  /** The configuration the flow uses. */
  selectedCredentialConfigurationId?: string;
  /** Whether the user must authorize. */
  authorizationRequired?: boolean;
  /** Where to send the user to authorize. */
  authorizationUrl?: string;
  /** PKCE verifier to keep for the resume. */
  codeVerifier?: string;
  /** The OAuth state of the authorization request. */
  issuerState?: string;
  /** Pre-authorized code of a transaction-code prompt. */
  preAuthorizedCode?: string;
  /** Transaction-code requirements. */
  txCode?: OID4VCITxCode;
  /** @deprecated the first credential; use `credentials`. */
  credential?: string;
  /** @deprecated the first credential's format; use `credentials`. */
  format?: string;
  /** Issued credentials. */
  credentials?: OID4VCIIssuedCredential[];
  /** Deferred issuance transaction id. */
  transactionId?: string;
  /** The offer narrowed to the chosen configuration, to resume after a redirect. */
  credentialOffer?: OID4VCICredentialOffer;
  /** The flow id (needed for a credential notification). */
  flowId?: string;
  /** walletd: refresh token of the issuer for renewal. */
  refreshToken?: string;
  /** Why the step failed. */
  error?: { code: string; message: string; details?: unknown };
}

// ===== OID4VP =====

/** A credential the user chose for a presentation. */
export interface OID4VPSelectedCredential {
  /** Batch id of the credential instance. */
  batchId: number;
  /** The credential query (or input descriptor) id it answers. */
  credentialQueryId: string;
  /** The wallet's opaque id of the credential. */
  walletCredentialRef: string;
  /** The raw credential; kept on the client for the sign handler, never sent to the engine. */
  credentialRaw: string;
  /** Key id of the holder key. */
  holderKeyKid: string;
  /** Claim paths to disclose ("." joined DCQL paths). */
  disclosedClaims?: string[];
}

/** Parameters of one presentation step: start (`requestUriRef` + `clientId`) or consent (`selectedCredentials`). */
export interface OID4VPFlowParams {
  /** The request URI (what the web client sends). */
  requestUriRef?: string;
  /** The verifier's client id. */
  clientId?: string;
  /** The user's choice. */
  selectedCredentials?: OID4VPSelectedCredential[];
  /** walletd: a full `openid4vp://`/`haip://` URL or query string instead of `requestUriRef`. */
  requestUri?: string;
  /** walletd: the flow a consent belongs to (default: the last flow this transport started). */
  flowId?: string;
}

/** Verifier information for display. */
export interface OID4VPVerifierInfo extends TrustEvaluation {
  /** Display name. */
  name?: string;
  /** Why it asks (first credential set's purpose). */
  purpose?: string;
  /** Domain. */
  domain?: string;
  /** Logo URL. */
  logo?: string;
  /** Client id prefix (`x509_san_dns`, `redirect_uri`, ...). */
  clientIdScheme?: string;
  /** Trust framework. */
  trustFramework?: string;
  /** Trusted or not (legacy boolean). */
  trusted?: boolean;
}

/** Transaction data needing explicit consent. */
export interface OID4VPTransactionData {
  /** Its type. */
  type: string;
  /** Text to show. */
  description: string;
  /** The data. */
  data: unknown;
}

/** The result of one presentation step. */
export interface OID4VPFlowResult {
  /** Whether the step succeeded. */
  success: boolean;
  /** The verifier's DCQL query (selection step). */
  dcqlQuery?: Record<string, unknown>;
  /** Echo of the selection. */
  selectedCredentials?: OID4VPSelectedCredential[];
  /** A Presentation Exchange definition (full profile). */
  presentationDefinition?: unknown;
  /** Descriptor id to matching credentials (HTTP proxy transport). */
  conformantCredentials?: Map<string, { credentials: number[]; requestedFields: { name?: string; purpose?: string; path?: (string | null)[] }[] }>;
  /** Verifier display and trust data. */
  verifierInfo?: OID4VPVerifierInfo;
  /** Transaction data (full profile). */
  transactionData?: OID4VPTransactionData[];
  /** Where to send the user after the presentation. */
  redirectUri?: string;
  /** Cross-device response data. */
  responseData?: unknown;
  /** walletd: the flow id. */
  flowId?: string;
  /** Why the step failed. */
  error?: { code: string; message: string; details?: unknown };
}

/**
 * A transport for credential flows: the operations of the web client's `IOIDFlowTransport`. Issuance and
 * presentation are driven step by step: each call sends one frame and resolves at the next point where the
 * caller must act (authorization, transaction code, credential selection) or at the end of the flow.
 */
export interface FlowTransport {
  /** Which transport this is. */
  readonly transportType: FlowTransportType;
  /** Opens the connection (a no-op for HTTP). */
  connect(): Promise<void>;
  /** Closes it; running flows end with an error. */
  disconnect(): Promise<void>;
  /** Whether the transport is usable right now. */
  isConnected(): boolean;
  /** Starts or continues an issuance. */
  startOID4VCIFlow(params: OID4VCIFlowParams): Promise<OID4VCIFlowResult>;
  /** Starts or continues a presentation. */
  startOID4VPFlow(params: OID4VPFlowParams): Promise<OID4VPFlowResult>;
  /** A generic request. */
  request<T>(flowRequest: FlowRequest): Promise<FlowResponse<T>>;
  /** Subscribes to progress events; returns the unsubscribe function. */
  onProgress(callback: (event: FlowProgressEvent) => void): () => void;
  /** Subscribes to transport errors; returns the unsubscribe function. */
  onError(callback: (error: Error) => void): () => void;
}
