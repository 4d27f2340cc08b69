/** The decisions a flow may need from the user or the wallet, as callbacks of {@link FlowCallbacks}. */
import type { ServerFrameOf } from "./protocol.js";
import type { Signer } from "./signing-types.js";

/** A transaction-code prompt of a pre-authorized offer (`authorization_required {type:"tx_code"}`). */
export interface TxCodePrompt {
  /** The flow. */
  flowId: string;
  /** The offer's `tx_code` object (`input_mode`/`inputMode`, `length`, `description`). */
  txCode: { input_mode?: string; inputMode?: string; length?: number; description?: string };
  /** The pre-authorized code it unlocks. */
  preAuthorizedCode: string;
  /** The issuer asking. */
  credentialIssuer?: string;
}

/** An authorization-code prompt (`authorization_required` with `authorization_url`). */
export interface AuthorizationPrompt {
  /** The flow. */
  flowId: string;
  /** Where to send the user. */
  authorizationUrl: string;
  /** The redirect URI the authorization server will use. */
  expectedRedirectUri?: string;
  /** The OAuth `state` to check on return. */
  state: string;
  /** PKCE verifier to keep for a same-tab resume. */
  codeVerifier: string;
  /** The offer narrowed to the chosen configuration, to keep for a same-tab resume. */
  credentialOffer: Record<string, unknown>;
}

/** What the user answered after authorizing in a popup or another tab. */
export interface AuthorizationAnswer {
  /** The authorization code. */
  code: string;
  /** The returned `state`. */
  state: string;
  /** The PKCE verifier, when not the engine's. */
  codeVerifier?: string;
}

/** One offered configuration (`awaiting_selection`, full profile). */
export interface OfferedConfiguration {
  /** The configuration id. */
  id: string;
  /** Its display entries. */
  display?: unknown;
  /** Its format. */
  format?: string;
  /** Its vct, for SD-JWT VC. */
  vct?: string;
}

/** A presentation request waiting for the user's consent (`credential_selection`). */
export interface ConsentRequest {
  /** The flow. */
  flowId: string;
  /** The verifier's DCQL query (always present for the web profile). */
  dcqlQuery?: Record<string, unknown>;
  /** The Presentation Exchange definition (full profile with `presentation_definition`). */
  presentationDefinition?: Record<string, unknown>;
  /** Verifier display and trust data as the engine sent it. */
  verifier?: Record<string, unknown>;
  /** Transaction data (full profile with `transaction_data`). */
  transactionData?: unknown[];
  /** The whole step payload. */
  payload: Record<string, unknown>;
}

/** The user's choice: what to present. `null` declines. */
export interface ConsentSelection {
  /** The wallet's id of the credential. */
  credential_id: string;
  /** The query or descriptor id it answers. */
  credential_query_id: string;
  /** Claim paths to disclose, "." joined. */
  disclosed_claims: string[];
}

/** A client-mediated trust decision request (`evaluating_trust` / `evaluating_verifier_trust`). */
export interface TrustRequest {
  /** The flow. */
  flowId: string;
  /** Issuer identifier or verifier client id. */
  subject_id: string;
  /** `credential_issuer` or `credential_verifier`. */
  subject_type: string;
  /** Key material to check (`{type:"x5c"|"jwk", x5c?, jwk?}`). */
  key_material?: Record<string, unknown>;
  /** Extra context (`client_id_scheme`, `response_uri`, ...). */
  context?: Record<string, unknown>;
}

/** The caller's trust verdict (sent as `trust_result`). */
export interface TrustAnswer {
  /** Trusted or not. */
  trusted: boolean;
  /** Display name. */
  name?: string;
  /** Logo. */
  logo?: string;
  /** Framework that decided. */
  framework?: string;
  /** Why. */
  reason?: string;
}

/** One credential a client-side match found (`match_response.matches[]`). */
export interface MatchEntry {
  /** The query it answers. */
  credential_query_id?: string;
  /** The wallet's id. */
  credential_id: string;
  /** Its format. */
  format: string;
  /** Its vct. */
  vct?: string;
  /** Claim paths it can disclose. */
  available_claims?: string[];
}

/** The answer to a `match_request`. */
export interface MatchAnswer {
  /** Matching credentials (empty when none). */
  matches: MatchEntry[];
  /** Why nothing matched. */
  no_match_reason?: string;
}

/**
 * Callbacks of one flow (or defaults for every flow of a transport). A missing callback means: the high-level
 * `runIssuance`/`runPresentation` fail the step they would need it for with a clear error (consent: decline);
 * the FlowTransport step API returns to its caller at that point instead.
 */
export interface FlowCallbacks {
  /** Signs `sign_request`s (overrides the transport's signer for this flow). */
  signer?: Signer;
  /** Asks the user for a transaction code; `null` cancels the flow. */
  onTxCode?: (prompt: TxCodePrompt) => Promise<string | null>;
  /**
   * Sends the user to authorize. Resolve with the code to finish on this connection, or `null` when the page
   * navigates away (then resume later with `resumeIssuance`); the run then resolves as `authorization_pending`.
   */
  onAuthorization?: (prompt: AuthorizationPrompt) => Promise<AuthorizationAnswer | null>;
  /** Picks one of several offered configurations (full profile). */
  onSelectConfiguration?: (flowId: string, offered: OfferedConfiguration[]) => Promise<string>;
  /** Asks the user what to present; `null` declines. */
  onConsent?: (request: ConsentRequest) => Promise<ConsentSelection[] | null>;
  /** Decides trust when the engine delegates it to the client. */
  onTrust?: (request: TrustRequest) => Promise<TrustAnswer>;
  /** Matches a query against the wallet's credentials (full profile with `match_request`). */
  onMatchRequest?: (request: ServerFrameOf<"match_request">) => Promise<MatchAnswer>;
}
