/**
 * The mdoc `DeviceResponse` a client answers the engine's mdoc DeviceAuth signing request with (docs/api-v2.md,
 * OID4VP step 4), built like the Rust holder (`walletd_protocol::mdoc::device_response`): only the disclosed
 * elements in `issuerSigned.nameSpaces` (their `IssuerSignedItemBytes` unchanged, in the issued order),
 * `issuerAuth` unchanged, empty device namespaces, and a `DeviceSignature` (COSE_Sign1, ES256, detached payload)
 * over `DeviceAuthenticationBytes` of the request's `SessionTranscript`, which is recomputed from the handover
 * inputs first (a mismatch is refused: the client signs only what it can check).
 */
import { b64uDecode, b64uEncode } from "../b64.js";
import type { MdocDeviceAuthRequest } from "../generated/api-v2.js";
import { CborTag, cborGet, decodeCbor, encodeCbor, DEFAULT_CBOR_LIMITS, type Cbor } from "./cbor.js";
import { sha256 } from "./sha256.js";

/** Signs the COSE `Sig_structure` bytes with the credential's device key: ES256, raw `r||s` (64 bytes). */
export type DeviceAuthSign = (toBeSigned: Uint8Array) => Promise<Uint8Array>;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The `SessionTranscript` of `request`, recomputed from its inputs; throws when the sent one differs. */
export function sessionTranscript(request: MdocDeviceAuthRequest): Cbor {
  const thumb = request.jwk_thumbprint ? b64uDecode(request.jwk_thumbprint) : null;
  let name: string;
  let info: Cbor[];
  if (request.handover === "OpenID4VPHandover") {
    if (!request.response_uri) throw new Error("an OpenID4VPHandover needs response_uri");
    name = "OpenID4VPHandover";
    info = [request.client_id, request.nonce, thumb, request.response_uri];
  } else {
    if (!request.origin) throw new Error("an OpenID4VPDCAPIHandover needs origin");
    name = "OpenID4VPDCAPIHandover";
    info = [request.origin, request.nonce, thumb];
  }
  const st: Cbor = [null, null, [name, sha256(encodeCbor(info))]];
  if (!sameBytes(encodeCbor(st), b64uDecode(request.session_transcript))) {
    throw new Error("the session_transcript does not match its handover inputs");
  }
  return st;
}

/**
 * A base64url `DeviceResponse` presenting `credential` (base64url `IssuerSigned`) with only `disclosed`
 * (`namespace.element`, as `disclosed_claims` carries them) for `request`, signed by `sign`.
 */
export async function buildDeviceResponse(
  credential: string,
  disclosed: readonly string[],
  request: MdocDeviceAuthRequest,
  sign: DeviceAuthSign,
): Promise<string> {
  const st = sessionTranscript(request);
  const limits = DEFAULT_CBOR_LIMITS;
  const root = decodeCbor(b64uDecode(credential.trim().replace(/=+$/, "")), limits);
  const ns = cborGet(root, "nameSpaces");
  const issuerAuth = cborGet(root, "issuerAuth");
  if (!(ns instanceof Map) || !Array.isArray(issuerAuth) || !(issuerAuth[2] instanceof Uint8Array)) {
    throw new Error("not an IssuerSigned");
  }
  // Namespaces contain dots, element identifiers do not: the last "." separates them.
  const wanted = disclosed.map((d) => [d.slice(0, d.lastIndexOf(".")), d.slice(d.lastIndexOf(".") + 1)] as const);
  const kept = new Map<Cbor, Cbor>();
  for (const [name, items] of ns) {
    if (typeof name !== "string" || !Array.isArray(items)) throw new Error("malformed nameSpaces");
    const chosen = items.filter((tagged) => {
      if (!(tagged instanceof CborTag) || !(tagged.value instanceof Uint8Array)) return false;
      const id = cborGet(decodeCbor(tagged.value, limits), "elementIdentifier");
      return wanted.some(([n, e]) => n === name && e === id);
    });
    if (chosen.length > 0) kept.set(name, chosen);
  }
  const msoTagged = decodeCbor(issuerAuth[2], limits);
  const mso = msoTagged instanceof CborTag && msoTagged.value instanceof Uint8Array ? decodeCbor(msoTagged.value, limits) : msoTagged;
  const docType = cborGet(mso, "docType");
  if (typeof docType !== "string") throw new Error("the MSO has no docType");

  const deviceNs = new CborTag(24, encodeCbor(new Map()));
  const deviceAuthentication: Cbor = ["DeviceAuthentication", st, docType, deviceNs];
  const payload = encodeCbor(new CborTag(24, encodeCbor(deviceAuthentication)));
  const protectedHeader = encodeCbor(new Map<Cbor, Cbor>([[1, -7]]));
  const toBeSigned = encodeCbor(["Signature1", protectedHeader, new Uint8Array(0), payload]);
  const signature = await sign(toBeSigned);
  if (signature.length !== 64) throw new Error("the device key's signature must be raw r||s (64 bytes)");
  const deviceSignature: Cbor = [protectedHeader, new Map(), null, signature];
  const document = new Map<Cbor, Cbor>([
    ["docType", docType],
    ["issuerSigned", new Map<Cbor, Cbor>([["nameSpaces", kept], ["issuerAuth", issuerAuth]])],
    ["deviceSigned", new Map<Cbor, Cbor>([["nameSpaces", deviceNs], ["deviceAuth", new Map<Cbor, Cbor>([["deviceSignature", deviceSignature]])]])],
  ]);
  return b64uEncode(encodeCbor(new Map<Cbor, Cbor>([["version", "1.0"], ["documents", [document]], ["status", 0]])));
}
