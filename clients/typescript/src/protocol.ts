/**
 * Hand-written helpers over the generated API v2 types (`./generated/api-v2.ts`): frame lookup by `type`, the
 * feature names of the full profile, and a defensive parser for server frames.
 */
import {
  SERVER_FRAME_TYPES,
  type ClientMessage,
  type ErrorBody,
  type ServerFrame,
} from "./generated/api-v2.js";

export * from "./generated/api-v2.js";

/** The server frame whose `type` is `T`. */
export type ServerFrameOf<T extends ServerFrame["type"]> = Extract<ServerFrame, { type: T }>;
/** The client frame whose `type` is `T`. */
export type ClientMessageOf<T extends ClientMessage["type"]> = Extract<ClientMessage, { type: T }>;

/**
 * The features a full-profile client can declare in its handshake (docs/api-v2.md "Profiles and features").
 * A handshake without `features` selects the web profile.
 */
export const FULL_PROFILE_FEATURES = [
  "select_credential",
  "deferred",
  "decline",
  "presentation_definition",
  "transaction_data",
  "match_request",
] as const;

/**
 * A feature name of the full profile. `mdoc` and `provider_attestations` (the engine obtains attestations and asks
 * for `client_attestation_pop` signatures; needs `Signer.clientAttestationPop`) are declared only when asked for.
 */
export type Feature = (typeof FULL_PROFILE_FEATURES)[number] | "mdoc" | "provider_attestations";

/** The client profile: `web` behaves exactly like the public web client, `full` declares features. */
export type Profile = "web" | "full";

const SERVER_TYPES = new Set<string>(SERVER_FRAME_TYPES);

/**
 * Parses one server frame (WebSocket text frame or SSE `data:`). Returns `null` for anything that is not a JSON
 * object with a known `type` and the members the rest of this package reads, so a hostile or broken server
 * cannot make the client throw inside its event loop.
 */
export function parseServerFrame(text: string): ServerFrame | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  if (typeof o.type !== "string" || !SERVER_TYPES.has(o.type)) return null;
  const needsFlow = o.type !== "handshake_complete" && o.type !== "error";
  if (needsFlow && typeof o.flow_id !== "string") return null;
  if ((o.type === "sign_request" || o.type === "match_request") && typeof o.message_id !== "string") return null;
  if (o.type === "flow_progress" && typeof o.step !== "string") return null;
  if (o.type === "flow_error" && !isErrorBody(o.error)) return null;
  return o as unknown as ServerFrame;
}

function isErrorBody(v: unknown): v is ErrorBody {
  return typeof v === "object" && v !== null && typeof (v as { code?: unknown }).code === "string";
}

/** `ERROR` frames carry code/message at the top and inside `error`; this reads either. */
export function topLevelError(frame: ServerFrameOf<"error">): { code: string; message: string } {
  const inner = frame.error as Partial<ErrorBody> | undefined;
  return {
    code: frame.code ?? inner?.code ?? "INTERNAL_ERROR",
    message: frame.message ?? inner?.message ?? "error",
  };
}
