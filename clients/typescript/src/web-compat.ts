/**
 * The public web client's handler API on top of {@link Signer}: its transport registers sign and match handlers
 * after construction (`onSignRequest`, `onMatchRequest`) with camelCase request/response shapes. These adapters
 * let such code run unchanged on this package's frame transports.
 */
import type { MatchAnswer } from "./callbacks.js";
import type { ServerFrameOf } from "./protocol.js";
import type { Proof } from "./protocol.js";
import type { Signer } from "./signing-types.js";

/** A sign request as the web client's handlers receive it. */
export interface WebSignRequest {
  flowId: string;
  messageId: string;
  action: "generate_proof" | "sign_presentation";
  params: {
    audience?: string;
    nonce?: string;
    issuer?: string;
    proofType?: string;
    proofTypesSupported?: Record<string, unknown>;
    count?: number;
    credentialsToInclude?: { credentialId: string; credentialQueryId?: string; disclosedClaims?: string[]; credentialRaw?: string }[];
    responseUri?: string;
    verifierJwkThumbprint?: string;
  };
}

/** A sign response as the web client's handlers return it. */
export interface WebSignResponse {
  /** One proof (legacy). */
  proofJwt?: string;
  /** Batch proofs. */
  proofs?: Proof[];
  /** The `vp_token`. */
  vpToken?: string;
}

/** A web-client sign handler. */
export type WebSignRequestHandler = (request: WebSignRequest) => Promise<WebSignResponse>;

/** A match request as the web client's handlers receive it. */
export interface WebMatchRequest {
  flowId: string;
  messageId: string;
  dcqlQuery: Record<string, unknown>;
}

/** A web-client match handler. */
export type WebMatchRequestHandler = (request: WebMatchRequest) => Promise<MatchAnswer>;

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

async function firstThatWorks<T>(handlers: ReadonlySet<(r: never) => Promise<T>>, call: (h: (r: never) => Promise<T>) => Promise<T>): Promise<T> {
  let last: unknown = new Error("no handler registered");
  for (const h of handlers) {
    try {
      return await call(h);
    } catch (e) {
      last = e;
    }
  }
  throw last instanceof Error ? last : new Error(String(last));
}

/** A {@link Signer} that asks web-client sign handlers in turn (the first that succeeds answers). */
export function signerFromHandlers(handlers: ReadonlySet<WebSignRequestHandler>): Signer {
  return {
    async generateProofs(req) {
      const p = req.params;
      const web: WebSignRequest = {
        flowId: req.flowId,
        messageId: req.messageId,
        action: "generate_proof",
        params: {
          audience: p.audience,
          ...(str(p.nonce) ? { nonce: p.nonce } : {}),
          ...(str(p.issuer) ? { issuer: p.issuer } : {}),
          ...(str(p.proof_type) ? { proofType: str(p.proof_type) } : {}),
          ...(p.proof_types_supported ? { proofTypesSupported: p.proof_types_supported } : {}),
          ...(typeof p.count === "number" ? { count: p.count } : {}),
        },
      };
      const res = await firstThatWorks(handlers, (h) => (h as WebSignRequestHandler)(web));
      if (res.proofs && res.proofs.length > 0) return res.proofs;
      if (res.proofJwt) return [{ proof_type: "jwt", jwt: res.proofJwt }];
      throw new Error("the sign handler returned no proof");
    },
    async signPresentation(req) {
      const p = req.params;
      const web: WebSignRequest = {
        flowId: req.flowId,
        messageId: req.messageId,
        action: "sign_presentation",
        params: {
          audience: p.audience,
          nonce: p.nonce,
          ...(str(p.response_uri) ? { responseUri: p.response_uri } : {}),
          ...(str(p.verifier_jwk_thumbprint) ? { verifierJwkThumbprint: p.verifier_jwk_thumbprint } : {}),
          credentialsToInclude: p.credentials_to_include.map((c) => {
            const raw = req.rawCredentials.get(c.credential_id);
            return { credentialId: c.credential_id, credentialQueryId: c.credential_query_id, disclosedClaims: c.disclosed_claims, ...(raw ? { credentialRaw: raw } : {}) };
          }),
        },
      };
      const res = await firstThatWorks(handlers, (h) => (h as WebSignRequestHandler)(web));
      if (!res.vpToken) throw new Error("the sign handler returned no vp_token");
      return res.vpToken;
    },
  };
}

/** A match callback that asks web-client match handlers in turn. */
export function matcherFromHandlers(handlers: ReadonlySet<WebMatchRequestHandler>): (frame: ServerFrameOf<"match_request">) => Promise<MatchAnswer> {
  return (frame) => {
    const q = frame.dcql_query;
    if (typeof q !== "object" || q === null) return Promise.reject(new Error("Missing required dcql_query"));
    const req: WebMatchRequest = { flowId: frame.flow_id, messageId: frame.message_id, dcqlQuery: q as Record<string, unknown> };
    return firstThatWorks(handlers, (h) => (h as WebMatchRequestHandler)(req));
  };
}
