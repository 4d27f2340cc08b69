/**
 * The public types of the session transports: links, timers, connection states, options, outcomes and
 * {@link FlowError}.
 */
import type { BackoffOptions } from "./backoff.js";
import type { AuthorizationPrompt, FlowCallbacks } from "./callbacks.js";
import type { Profile, ServerFrameOf } from "./protocol.js";
import type { Signer } from "./signing-types.js";

/** An open, message-oriented connection carrying API v2 frames as JSON text. */
export interface FrameLink {
  /** Sends one client frame. Throws when the link is closed. */
  send(text: string): void;
  /** Closes the link. */
  close(code?: number, reason?: string): void;
}

/** How a link reports to the session. */
export interface LinkEvents {
  /** One server frame's text. */
  onFrame(text: string): void;
  /** The link is gone (`code` as a WebSocket close code; 1006 when unknown). */
  onClose(code: number, reason: string): void;
}

/** Timer functions; the defaults call the global ones unbound (browsers refuse them with another `this`). */
export interface Timers {
  setTimeout: (fn: () => void, ms: number) => ReturnType<typeof setTimeout>;
  clearTimeout: (t: ReturnType<typeof setTimeout> | undefined) => void;
}

/** The global timers, wrapped so they are never called as methods of another object. */
export const defaultTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => {
    clearTimeout(t);
  },
};

/** Connection state of a session transport. */
export type ConnectionState = "idle" | "connecting" | "connected" | "reconnecting" | "closed";

/** An error of a flow: the `flow_error` body, or a transport failure (`TRANSPORT_CLOSED`, `STEP_TIMEOUT`, ...). */
export class FlowError extends Error {
  /** API v2 `ErrorCode` or a transport code. */
  readonly code: string;
  /** `error.details` of the frame. */
  readonly details: unknown;
  /** The step it failed in. */
  readonly step: string | undefined;
  /** The flow. */
  readonly flowId: string;

  constructor(flowId: string, code: string, message: string, details?: unknown, step?: string) {
    super(message);
    this.name = "FlowError";
    this.flowId = flowId;
    this.code = code;
    this.details = details;
    this.step = step ?? undefined;
  }
}

/** Options shared by the session transports. */
export interface SessionOptions {
  /** The access token for the handshake, or a function returning the current one (called at every connect). */
  token: string | (() => string | Promise<string>);
  /**
   * Obtains a fresh access token (e.g. `POST /user/token/refresh`). Called when the engine refuses the token
   * (`AUTH_FAILED`, close 4001) before one more attempt; without it such a refusal is final.
   */
  refreshToken?: () => Promise<string>;
  /** `web` (default: exactly the public web client's behaviour) or `full` (declares `features`). */
  profile?: Profile;
  /** Features for the full profile. Default: every feature in `FULL_PROFILE_FEATURES`. */
  features?: readonly string[];
  /** Signs for the engine; keys stay with the caller. */
  signer?: Signer;
  /** Default callbacks for every flow (a flow's own callbacks win). */
  callbacks?: FlowCallbacks;
  /** Wait for `handshake_complete` at most this long. Default 10 000 ms. */
  handshakeTimeoutMs?: number;
  /** Step API: wait at most this long for the next step of a flow. Default 60 000 ms (the web client's). */
  stepTimeoutMs?: number;
  /** High-level runs: give up on a flow after this long. Default 660 000 ms (engine flow timeout + 1 min). */
  flowTimeoutMs?: number;
  /** Reconnect policy after the connection is lost. */
  reconnect?: BackoffOptions;
  /**
   * A connection that stayed up this long counts as stable: its loss starts the cut count (what fallback and
   * the reconnect budget look at) from zero again. Default 60 000 ms.
   */
  stableAfterMs?: number;
  /** Timer functions (injectable for tests). */
  timers?: Timers;
}

/** A flow's result: completed, or left for an authorization redirect. */
export type FlowOutcome =
  | { status: "complete"; flowId: string; frame: ServerFrameOf<"flow_complete"> }
  | { status: "authorization_pending"; flowId: string; authorization: AuthorizationPrompt };
