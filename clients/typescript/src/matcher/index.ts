/**
 * `CredentialMatcher`: which of the wallet's credentials answer a verifier's DCQL query or Presentation
 * Exchange definition, and which claims to disclose. Runs entirely on the client: the engine never sees the
 * wallet's inventory. Formats: SD-JWT VC (`dc+sd-jwt`, `vc+sd-jwt`) and mdoc (`mso_mdoc`: doctype, `[namespace,
 * element]` paths, `values`, `claim_sets`); other formats are kept but never match. `buildDeviceResponse`
 * answers the engine's mdoc DeviceAuth signing request (device-response.ts).
 */
import type { MatchAnswer, MatchEntry } from "../callbacks.js";
import type { ServerFrameOf } from "../protocol.js";
import { matchDcql, type Match, type MatchableCredential } from "./dcql.js";
import { matchPresentationDefinition } from "./pe.js";
import { Mdoc, MDOC_FORMAT } from "./mdoc.js";
import { SdJwt, type Json, type JsonObject } from "./sdjwt.js";

export { SdJwt, digestOf, parseClaimPath, type Disclosure, type Json, type JsonObject } from "./sdjwt.js";
export { matchDcql, matchOne, lookup, joinPath, jsonEqual, type Match, type MatchableCredential } from "./dcql.js";
export { matchPresentationDefinition, parsePath, schemaHolds, descriptorToDcql, requirement } from "./pe.js";
export { sha256 } from "./sha256.js";
export { Mdoc, MDOC_FORMAT, asJson, matchMdoc } from "./mdoc.js";
export { CborError, CborTag, DEFAULT_CBOR_LIMITS, cborGet, decodeCbor, encodeCbor, type Cbor, type CborLimits } from "./cbor.js";
export { buildDeviceResponse, sessionTranscript, type DeviceAuthSign } from "./device-response.js";

/** A credential held by the wallet. */
export interface WalletCredential {
  /** The wallet's id (what `consent.credential_id` names). */
  id: string;
  /** `dc+sd-jwt`, `vc+sd-jwt`, `mso_mdoc`, ... */
  format: string;
  /** The credential as issued (the SD-JWT text for SD-JWT VC). */
  credential: string;
}

/** Formats this matcher evaluates. */
export const MATCHABLE_FORMATS: readonly string[] = ["dc+sd-jwt", "vc+sd-jwt", MDOC_FORMAT];

/** Matches queries against a fixed set of wallet credentials (parsed once). */
export class CredentialMatcher {
  private readonly creds: (MatchableCredential & { format: string })[];

  /** @param credentials the wallet's credentials, in preference order (the first fitting one is chosen). */
  constructor(credentials: readonly WalletCredential[]) {
    this.creds = credentials
      .filter((c) => MATCHABLE_FORMATS.includes(c.format))
      .flatMap((c): (MatchableCredential & { format: string })[] => {
        if (c.format === MDOC_FORMAT) {
          // An mdoc that does not parse never matches (as in the Rust holder).
          try {
            return [{ id: c.id, format: c.format, claims: {}, mdoc: Mdoc.parse(c.credential) }];
          } catch {
            return [];
          }
        }
        const sdJwt = new SdJwt(c.credential);
        return [{ id: c.id, format: c.format, sdJwt, claims: sdJwt.allClaims() }];
      });
  }

  /** Every claim a credential can show (disclosures resolved), or `undefined` for an unknown id. */
  claimsOf(id: string): JsonObject | undefined {
    return this.creds.find((c) => c.id === id)?.claims;
  }

  /** Matches a DCQL query; `null` when it cannot be satisfied. */
  matchDcql(query: unknown): Match[] | null {
    return matchDcql(query as Json, this.creds);
  }

  /** Matches a Presentation Exchange definition; `null` when it cannot be satisfied. */
  matchPresentationDefinition(definition: unknown): Match[] | null {
    return matchPresentationDefinition(definition as Json, this.creds);
  }

  /** Matches whichever the request carries (`dcql_query` wins over `presentation_definition`). */
  match(request: { dcql_query?: unknown; presentation_definition?: unknown; dcqlQuery?: unknown; presentationDefinition?: unknown }): Match[] | null {
    const q = request.dcql_query ?? request.dcqlQuery;
    if (q !== undefined && q !== null) return this.matchDcql(q);
    const pd = request.presentation_definition ?? request.presentationDefinition;
    if (pd !== undefined && pd !== null) return this.matchPresentationDefinition(pd);
    return null;
  }

  /** The consent selection for a match (what `flow_action consent` carries). */
  static toSelection(matches: readonly Match[]): { credential_id: string; credential_query_id: string; disclosed_claims: string[] }[] {
    return matches.map((m) => ({ credential_id: m.credential_id, credential_query_id: m.query_id, disclosed_claims: [...m.disclosed_claims] }));
  }

  /** Answers an engine `match_request` (full profile) from this wallet. */
  answerMatchRequest(request: ServerFrameOf<"match_request">): MatchAnswer {
    const found = this.match(request);
    if (!found) return { matches: [], no_match_reason: "no credential in the wallet satisfies the request" };
    const matches: MatchEntry[] = found.map((m) => {
      const c = this.creds.find((x) => x.id === m.credential_id);
      const vct = c?.claims.vct;
      return {
        credential_query_id: m.query_id,
        credential_id: m.credential_id,
        format: c?.format ?? "dc+sd-jwt",
        ...(typeof vct === "string" ? { vct } : {}),
        available_claims: m.disclosed_claims,
      };
    });
    return { matches };
  }
}
