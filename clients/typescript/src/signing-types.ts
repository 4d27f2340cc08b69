/**
 * What the engine asks the client to sign, and the callbacks a caller supplies. Keys never leave the caller:
 * the transports only forward `sign_request` frames to a {@link Signer} and send back what it returns.
 */
import type { MdocDeviceAuthRequest } from "./generated/api-v2.js";
import type { Proof } from "./protocol.js";

/** `sign_request generate_proof` params (OID4VCI proof of possession). */
export interface GenerateProofParams {
  /** The credential issuer (the proof's `aud`). */
  audience: string;
  /** The `c_nonce`; absent when the issuer has none. */
  nonce?: string;
  /** The client id (the proof's `iss`); absent for anonymous pre-authorized flows. */
  issuer?: string;
  /** The configuration's `proof_types_supported` object, keyed by proof type. */
  proof_types_supported?: Record<string, { proof_signing_alg_values_supported?: string[]; [k: string]: unknown }>;
  /** How many proofs (keys) the engine asks for. */
  count?: number;
  /** The key id of the credential being renewed. */
  reissuance_kid?: string;
  [key: string]: unknown;
}

/** One credential the user consented to present (echoed verbatim from the consent). */
export interface CredentialToInclude {
  /** The wallet's id of the credential. */
  credential_id: string;
  /** The DCQL credential query (or PE input descriptor) id. */
  credential_query_id: string;
  /** DCQL claim paths joined with ".". */
  disclosed_claims: string[];
}

/**
 * `sign_request sign_presentation` params (OID4VP) as a signer receives them: the schema's
 * `SignPresentationParams` (generated) with the consent entries typed and `response_uri` optional for tests and
 * older engines. This name wins over the generated one in the package's exports.
 */
export interface SignPresentationParams {
  /** The verifier's full client id (the KB-JWT `aud`). */
  audience: string;
  /** The request's nonce. */
  nonce: string;
  /** What to present. */
  credentials_to_include: CredentialToInclude[];
  /** Where the engine posts the response. */
  response_uri?: string;
  /** The verifier's encryption key thumbprint. */
  verifier_jwk_thumbprint?: string;
  /** Transaction data as the original base64url strings (full profile). */
  transaction_data?: string[];
  /** The mdoc DeviceAuth signing request, when the query asks for an `mso_mdoc` (see the generated type). */
  mdoc?: MdocDeviceAuthRequest | null;
  [key: string]: unknown;
}

/** `sign_request client_attestation_pop` params (clients with the `provider_attestations` feature). */
export interface ClientAttestationPopParams {
  /** The PoP's `aud`: the wallet provider, then the authorization server. */
  audience: string;
  /** The provider's single-use challenge (first request). */
  challenge?: string;
  /** The PoP's `iss` (the WIA's `sub` in the second request). */
  client_id?: string;
  [key: string]: unknown;
}

/** A `client_attestation_pop` request handed to the signer. */
export interface ClientAttestationPopRequest {
  /** The flow. */
  flowId: string;
  /** The request id the answer echoes. */
  messageId: string;
  /** The params as the engine sent them. */
  params: ClientAttestationPopParams;
}

/** A `generate_proof` request handed to the signer. */
export interface ProofRequest {
  /** The flow. */
  flowId: string;
  /** The request id the answer echoes. */
  messageId: string;
  /** The params as the engine sent them. */
  params: GenerateProofParams;
}

/** A `sign_presentation` request handed to the signer. */
export interface PresentationRequest {
  /** The flow. */
  flowId: string;
  /** The request id the answer echoes. */
  messageId: string;
  /** The params as the engine sent them. */
  params: SignPresentationParams;
  /**
   * Raw credentials by `credential_id`, when the caller handed them over with its consent (the FlowTransport
   * step API's `selectedCredentials[].credentialRaw`). They stay on the client.
   */
  rawCredentials: ReadonlyMap<string, string>;
}

/**
 * Signs for the engine. Implement it over your key store (WebCrypto non-extractable keys, a platform keystore,
 * a remote HSM); `createWebCryptoSigner` in `./signer.ts` is a ready one for SD-JWT VC wallets.
 * Throwing (or rejecting) sends a `sign_response` with `error`: the engine then fails the flow with `SIGN_ERROR`
 * and posts nothing to the verifier.
 */
export interface Signer {
  /** Returns `count` proofs of one type listed in `proof_types_supported`. */
  generateProofs(request: ProofRequest): Promise<Proof[]>;
  /** Returns the `vp_token`: JSON text (or object) of `{query_id: [presentation, ...]}`. */
  signPresentation(request: PresentationRequest): Promise<string | Record<string, unknown>>;
  /**
   * Returns an `oauth-client-attestation-pop+jwt` signed with the wallet instance key (only asked of clients that
   * declared `provider_attestations`). Optional: without it such requests are answered with an error.
   */
  clientAttestationPop?(request: ClientAttestationPopRequest): Promise<string>;
}
