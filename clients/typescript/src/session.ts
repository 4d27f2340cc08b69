/**
 * The API v2 session logic shared by every frame transport (WebSocket, SSE): the handshake, many concurrent
 * flows on one connection, sign and match requests answered through caller callbacks, progress events,
 * reconnect with backoff and token refresh. A subclass only says how to open a {@link FrameLink}.
 */
import { backoffDelay } from "./backoff.js";
import type { FlowCallbacks } from "./callbacks.js";
import { answerInteraction, answerTrust, authorizationPrompt, isStop } from "./interactions.js";
import type { FlowProgressEvent, FlowTransportType } from "./flow-types.js";
import {
  FULL_PROFILE_FEATURES,
  parseServerFrame,
  topLevelError,
  type ClientMessage,
  type FlowStart,
  type ServerFrame,
  type ServerFrameOf,
} from "./protocol.js";
import type { ClientAttestationPopParams, GenerateProofParams, SignPresentationParams, Signer } from "./signing-types.js";

export * from "./session-types.js";
import {
  FlowError,
  defaultTimers,
  type FlowOutcome,
  type FrameLink,
  type LinkEvents,
  type SessionOptions,
  type ConnectionState,
} from "./session-types.js";

interface Waiter {
  resolve(frame: ServerFrame): void;
  reject(err: Error): void;
}

interface FlowState {
  id: string;
  callbacks: FlowCallbacks | undefined;
  /** Step API: true when interaction points are returned to the caller instead of answered by callbacks. */
  stepMode: boolean;
  queue: ServerFrame[];
  waiter: Waiter | undefined;
  rawCredentials: Map<string, string>;
}

function obj(v: unknown): Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** The session core; see {@link WebSocketTransport} and {@link SseTransport}. */
export abstract class SessionTransport {
  /** Which transport this is. */
  abstract readonly transportType: FlowTransportType;
  protected readonly options: SessionOptions;
  private link: FrameLink | undefined;
  private connecting: Promise<void> | undefined;
  private state: ConnectionState = "idle";
  private flows = new Map<string, FlowState>();
  private acks = new Map<string, Waiter>();
  private progressListeners = new Set<(e: FlowProgressEvent) => void>();
  private errorListeners = new Set<(e: Error) => void>();
  private stateListeners = new Set<(s: ConnectionState) => void>();
  private closedByUs = false;
  private authRefused = false;
  private needsRefresh = false;
  private reconnectAttempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private sessionId: string | undefined;
  private acceptedFeatures: string[] = [];
  /** Connections lost without our asking since the last successful handshake + settle (for fallback). */
  private cuts = 0;
  private connectedAt = 0;
  /** The last flow started through the step API (continuations without `flowId` address it). */
  protected lastFlowId: string | undefined;

  protected constructor(options: SessionOptions) {
    this.options = options;
  }

  /** Opens the underlying link; `events` must be called for every frame and once at close. */
  protected abstract openLink(events: LinkEvents): Promise<FrameLink>;

  private get timers() {
    return this.options.timers ?? defaultTimers;
  }

  /** The current connection state. */
  getState(): ConnectionState {
    return this.state;
  }

  /** The engine's session id of the current connection. */
  getSessionId(): string | undefined {
    return this.sessionId;
  }

  /** The features the engine accepted in the last handshake. */
  getAcceptedFeatures(): readonly string[] {
    return this.acceptedFeatures;
  }

  /** Times the connection was cut (closed abnormally by the network or the server) since the last success. */
  getCutCount(): number {
    return this.cuts;
  }

  /** Whether the handshake completed and the link is open. */
  isConnected(): boolean {
    return this.state === "connected";
  }

  /** Subscribes to progress events. */
  onProgress(callback: (event: FlowProgressEvent) => void): () => void {
    this.progressListeners.add(callback);
    return () => this.progressListeners.delete(callback);
  }

  /** Subscribes to transport-level errors (auth refused, reconnect given up, stray `error` frames). */
  onError(callback: (error: Error) => void): () => void {
    this.errorListeners.add(callback);
    return () => this.errorListeners.delete(callback);
  }

  /** Subscribes to connection state changes. */
  onStateChange(callback: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(callback);
    return () => this.stateListeners.delete(callback);
  }

  /** Replaces the token (after a refresh done elsewhere); the next connect uses it. */
  updateAuthToken(token: string): void {
    this.options.token = token;
    this.authRefused = false;
  }

  /** Opens the connection and completes the handshake (idempotent while connected or connecting). */
  async connect(): Promise<void> {
    if (this.state === "connected") return;
    if (this.connecting) return this.connecting;
    this.closedByUs = false;
    this.connecting = this.doConnect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /** Closes the connection; running flows fail with `TRANSPORT_CLOSED`. No reconnect follows. */
  disconnect(): Promise<void> {
    this.closedByUs = true;
    if (this.reconnectTimer) this.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const link = this.link;
    this.link = undefined;
    link?.close(1000, "client disconnect");
    this.failAll("TRANSPORT_CLOSED", "the client closed the connection");
    this.setState("closed");
    return Promise.resolve();
  }

  private setState(s: ConnectionState): void {
    if (this.state === s) return;
    this.state = s;
    for (const l of [...this.stateListeners]) {
      try {
        l(s);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  protected emitError(e: Error): void {
    for (const l of [...this.errorListeners]) {
      try {
        l(e);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  private async currentToken(): Promise<string> {
    if (this.needsRefresh && this.options.refreshToken) {
      this.needsRefresh = false;
      const t = await this.options.refreshToken();
      this.options.token = t;
      return t;
    }
    const t = this.options.token;
    return typeof t === "function" ? await t() : t;
  }

  private async doConnect(): Promise<void> {
    this.setState(this.state === "reconnecting" ? "reconnecting" : "connecting");
    for (let attempt = 0; ; attempt++) {
      try {
        await this.handshakeOnce();
        this.connectedAt = Date.now();
        this.setState("connected");
        return;
      } catch (e) {
        const auth = e instanceof FlowError && e.code === "AUTH_FAILED";
        if (auth && attempt === 0 && this.options.refreshToken) {
          this.needsRefresh = true;
          continue;
        }
        if (auth) this.authRefused = true;
        if (this.state !== "reconnecting") this.setState("idle");
        throw e;
      }
    }
  }

  private handshakeOnce(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let link: FrameLink | undefined;
      const timer = this.timers.setTimeout(() => {
        fail(new FlowError("", "HANDSHAKE_TIMEOUT", "the engine did not complete the handshake in time"));
      }, this.options.handshakeTimeoutMs ?? 10_000);
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        this.timers.clearTimeout(timer);
        link?.close(1000, "handshake failed");
        reject(err);
      };
      const events: LinkEvents = {
        onFrame: (text) => {
          const frame = parseServerFrame(text);
          if (!settled) {
            if (frame?.type === "handshake_complete") {
              settled = true;
              this.timers.clearTimeout(timer);
              this.link = link;
              this.sessionId = frame.session_id;
              this.acceptedFeatures = frame.features;
              resolve();
            } else if (frame?.type === "error") {
              const { code, message } = topLevelError(frame);
              fail(new FlowError("", code, message));
            }
            return;
          }
          if (frame) this.onServerFrame(frame);
        },
        onClose: (code, reason) => {
          if (!settled) {
            const auth = code === 4001;
            fail(new FlowError("", auth ? "AUTH_FAILED" : "CONNECT_FAILED", reason || `the connection closed (${code})`));
            return;
          }
          if (this.link === link) this.onLinkClosed(code, reason);
        },
      };
      void (async () => {
        try {
          const token = await this.currentToken();
          link = await this.openLink(events);
          if (settled) {
            link.close(1000, "handshake abandoned");
            return;
          }
          const hs: ClientMessage = { type: "handshake", app_token: token };
          if ((this.options.profile ?? "web") === "full") {
            hs.features = [...(this.options.features ?? FULL_PROFILE_FEATURES)];
          }
          link.send(JSON.stringify(hs));
        } catch (e) {
          fail(e instanceof Error ? e : new Error(String(e)));
        }
      })();
    });
  }

  private onLinkClosed(code: number, reason: string): void {
    if (Date.now() - this.connectedAt >= (this.options.stableAfterMs ?? 60_000)) {
      // The connection had been stable: this loss starts a new series.
      this.cuts = 0;
      this.reconnectAttempt = 0;
    }
    this.link = undefined;
    this.sessionId = undefined;
    this.failAll("TRANSPORT_CLOSED", `the connection closed (${code}${reason ? `: ${reason}` : ""})`);
    if (this.closedByUs) {
      this.setState("closed");
      return;
    }
    if (code === 4001) {
      // Token refused or expired: refresh before the next connection when we can; never loop on a dead token.
      if (!this.options.refreshToken) {
        this.authRefused = true;
        this.setState("idle");
        this.emitError(new FlowError("", "AUTH_FAILED", "the engine closed the session: the token is refused or expired"));
        return;
      }
      this.needsRefresh = true;
    } else if (code === 1000) {
      // A normal close is not a failure: reconnect lazily at the next flow.
      this.setState("idle");
      return;
    } else {
      this.cuts++;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.authRefused || this.closedByUs) return;
    const delay = backoffDelay(this.reconnectAttempt, this.options.reconnect);
    if (delay === null) {
      this.setState("idle");
      this.emitError(new Error("the connection was lost and the reconnect budget is spent"));
      this.onGiveUp();
      return;
    }
    this.reconnectAttempt++;
    this.setState("reconnecting");
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().catch(() => {
        if (!this.closedByUs && !this.authRefused) {
          this.cuts++;
          this.scheduleReconnect();
        }
      });
    }, delay);
  }

  /** A signer from handlers registered after construction (the web client's `onSignRequest`). */
  protected registeredSigner(): Signer | undefined {
    return undefined;
  }

  /** A matcher from handlers registered after construction (the web client's `onMatchRequest`). */
  protected registeredMatcher(): FlowCallbacks["onMatchRequest"] {
    return undefined;
  }

  /** Allows automatic reconnects again after the budget was spent (e.g. on `online` or `visibilitychange`). */
  resetReconnectAttempts(): void {
    this.reconnectAttempt = 0;
  }

  /** Called when reconnecting gives up (a hook for fallback wrappers). */
  protected onGiveUp(): void {
    // default: nothing more
  }

  private failAll(code: string, message: string): void {
    for (const f of this.flows.values()) {
      f.waiter?.reject(new FlowError(f.id, code, message));
      f.waiter = undefined;
    }
    this.flows.clear();
    for (const w of this.acks.values()) w.reject(new FlowError("", code, message));
    this.acks.clear();
  }

  /** Sends one client frame on the current link. */
  protected sendFrame(frame: ClientMessage): void {
    if (!this.link || this.state !== "connected") throw new FlowError(frameFlow(frame), "NOT_CONNECTED", "not connected");
    this.link.send(JSON.stringify(frame));
  }

  private emitProgress(e: FlowProgressEvent): void {
    for (const l of [...this.progressListeners]) {
      try {
        l(e);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  private onServerFrame(frame: ServerFrame): void {
    if (frame.type === "error") {
      const { code, message } = topLevelError(frame);
      this.emitError(new FlowError("", code, message));
      return;
    }
    if (frame.type === "handshake_complete") return;
    if (frame.type === "notification_ack") {
      const key = `${frame.flow_id}\u0000${frame.notification_id}`;
      this.acks.get(key)?.resolve(frame);
      this.acks.delete(key);
      return;
    }
    const flow = this.flows.get(frame.flow_id);
    if (!flow) return; // a frame for a flow we no longer run: nothing to do
    switch (frame.type) {
      case "flow_progress":
        this.emitProgress({ flowId: frame.flow_id, stage: frame.step, payload: frame.payload });
        void this.onProgressStep(flow, frame);
        return;
      case "sign_request":
        void this.answerSignRequest(flow, frame);
        return;
      case "match_request":
        void this.answerMatchRequest(flow, frame);
        return;
      case "flow_complete":
      case "flow_error":
        this.deliver(flow, frame);
        return;
    }
  }

  private deliver(flow: FlowState, frame: ServerFrame): void {
    if (flow.waiter) {
      const w = flow.waiter;
      flow.waiter = undefined;
      w.resolve(frame);
    } else {
      flow.queue.push(frame);
    }
    if (frame.type === "flow_complete" || frame.type === "flow_error") {
      // Ended: later frames with this id belong to a new flow.
      if (this.flows.get(flow.id) === flow && !flow.waiter) this.flows.delete(flow.id);
    }
  }

  private action(flow: FlowState, action: string, payload: Record<string, unknown>): void {
    try {
      this.sendFrame({ type: "flow_action", flow_id: flow.id, action, payload });
    } catch (e) {
      this.emitError(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private async onProgressStep(flow: FlowState, frame: ServerFrameOf<"flow_progress">): Promise<void> {
    const p = obj(frame.payload);
    const ctx = { flowId: flow.id, callbacks: { ...this.options.callbacks, ...flow.callbacks }, act: (action: string, payload: Record<string, unknown>) => this.action(flow, action, payload) };
    if ((frame.step === "evaluating_trust" || frame.step === "evaluating_verifier_trust") && p.trust_evaluation_required) {
      await answerTrust(ctx, p);
      return;
    }
    if (!isStop(frame.step, p)) return;
    if (flow.stepMode) {
      this.deliver(flow, frame);
      return;
    }
    try {
      if ((await answerInteraction(ctx, frame.step, p)) === "left") {
        // The caller leaves for an authorization redirect: the run resolves as authorization_pending.
        this.flows.delete(flow.id);
        flow.waiter?.resolve(frame);
        flow.waiter = undefined;
      }
    } catch (e) {
      const err = e instanceof FlowError ? e : new FlowError(flow.id, "CLIENT_ERROR", e instanceof Error ? e.message : String(e));
      this.action(flow, "cancel", {});
      flow.waiter?.reject(err);
      flow.waiter = undefined;
      this.flows.delete(flow.id);
    }
  }

  private async answerSignRequest(flow: FlowState, frame: ServerFrameOf<"sign_request">): Promise<void> {
    const signer = flow.callbacks?.signer ?? this.options.signer ?? this.registeredSigner();
    const base = { type: "sign_response" as const, flow_id: flow.id, message_id: frame.message_id };
    try {
      if (!signer) throw new Error("the client has no signer");
      if (frame.action === "generate_proof") {
        const proofs = await signer.generateProofs({ flowId: flow.id, messageId: frame.message_id, params: obj(frame.params) as GenerateProofParams });
        this.sendFrame({ ...base, proofs });
      } else if (frame.action === "client_attestation_pop") {
        if (!signer.clientAttestationPop) throw new Error("the client's signer makes no client attestation PoP");
        const pop = await signer.clientAttestationPop({ flowId: flow.id, messageId: frame.message_id, params: obj(frame.params) as ClientAttestationPopParams });
        this.sendFrame({ ...base, proof_jwt: pop });
      } else if (frame.action === "sign_presentation") {
        const vp = await signer.signPresentation({
          flowId: flow.id,
          messageId: frame.message_id,
          params: obj(frame.params) as SignPresentationParams,
          rawCredentials: flow.rawCredentials,
        });
        this.sendFrame({ ...base, vp_token: vp });
      } else {
        throw new Error("unknown sign_request action");
      }
    } catch (e) {
      try {
        this.sendFrame({ ...base, error: e instanceof Error ? e.message : "signing failed" });
      } catch {
        // the connection is gone; the flow fails with it
      }
    }
  }

  private async answerMatchRequest(flow: FlowState, frame: ServerFrameOf<"match_request">): Promise<void> {
    const handler = flow.callbacks?.onMatchRequest ?? this.options.callbacks?.onMatchRequest ?? this.registeredMatcher();
    const base = { type: "match_response" as const, flow_id: flow.id, message_id: frame.message_id };
    try {
      if (!handler) throw new Error("the client has no matcher");
      const answer = await handler(frame);
      this.sendFrame({ ...base, matches: answer.matches, ...(answer.no_match_reason ? { no_match_reason: answer.no_match_reason } : {}) });
    } catch (e) {
      try {
        this.sendFrame({ ...base, matches: [], error: e instanceof Error ? e.message : "matching failed" });
      } catch {
        // the connection is gone
      }
    }
  }

  /**
   * Starts a flow and returns its id. `stepMode` flows stop at interaction points (see {@link nextStop});
   * others are answered by `callbacks`.
   */
  protected async beginFlow(start: Omit<FlowStart, "flow_id"> & { flow_id?: string }, callbacks: FlowCallbacks | undefined, stepMode: boolean, raw?: Map<string, string>): Promise<FlowState> {
    await this.connect();
    const id = start.flow_id ?? crypto.randomUUID();
    const old = this.flows.get(id);
    if (old) {
      // The engine cancels a running flow silently when its id is reused: fail our side of it.
      old.waiter?.reject(new FlowError(id, "CANCELLED", "the flow was restarted with the same id"));
    }
    const flow: FlowState = { id, callbacks, stepMode, queue: [], waiter: undefined, rawCredentials: raw ?? new Map<string, string>() };
    this.flows.set(id, flow);
    try {
      this.sendFrame({ ...start, type: "flow_start", flow_id: id });
    } catch (e) {
      this.flows.delete(id);
      throw e;
    }
    return flow;
  }

  /** The flow state of a running flow (step API continuations). */
  protected runningFlow(id: string): FlowState | undefined {
    return this.flows.get(id);
  }

  /** Sends a `flow_action` for a running flow (re-registering it when the step API had let it go). */
  protected continueFlow(id: string, action: string, payload: Record<string, unknown>): FlowState {
    let flow = this.flows.get(id);
    if (!flow) {
      flow = { id, callbacks: undefined, stepMode: true, queue: [], waiter: undefined, rawCredentials: new Map() };
      this.flows.set(id, flow);
    }
    this.sendFrame({ type: "flow_action", flow_id: id, action, payload });
    return flow;
  }

  /** Resolves with the next stop frame of `flow` (interaction point or terminal), within `timeoutMs`. */
  protected nextStop(flow: FlowState, timeoutMs: number): Promise<ServerFrame> {
    const queued = flow.queue.shift();
    if (queued) {
      if (queued.type === "flow_complete" || queued.type === "flow_error") this.flows.delete(flow.id);
      return Promise.resolve(queued);
    }
    return new Promise<ServerFrame>((resolve, reject) => {
      const timer = this.timers.setTimeout(() => {
        flow.waiter = undefined;
        this.flows.delete(flow.id);
        reject(new FlowError(flow.id, "STEP_TIMEOUT", "the engine did not answer in time"));
      }, timeoutMs);
      flow.waiter = {
        resolve: (f) => {
          this.timers.clearTimeout(timer);
          if (f.type === "flow_complete" || f.type === "flow_error") this.flows.delete(flow.id);
          resolve(f);
        },
        reject: (e) => {
          this.timers.clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /**
   * Runs a flow to its end with callbacks: resolves with the outcome, rejects with {@link FlowError} on
   * `flow_error`, a lost connection or the client-side flow timeout.
   */
  async runFlow(start: Omit<FlowStart, "flow_id"> & { flow_id?: string }, callbacks?: FlowCallbacks): Promise<FlowOutcome> {
    const flow = await this.beginFlow(start, callbacks, false);
    const frame = await this.nextStop(flow, this.options.flowTimeoutMs ?? 660_000);
    if (frame.type === "flow_complete") return { status: "complete", flowId: flow.id, frame };
    if (frame.type === "flow_error") {
      throw new FlowError(flow.id, frame.error.code, frame.error.message, frame.error.details, frame.step ?? undefined);
    }
    if (frame.type === "flow_progress" && frame.step === "authorization_required") {
      return { status: "authorization_pending", flowId: flow.id, authorization: authorizationPrompt(flow.id, obj(frame.payload)) };
    }
    throw new FlowError(flow.id, "INVALID_MESSAGE", `unexpected frame ${frame.type}`);
  }

  /**
   * Sends an OID4VCI `credential_notification` for a completed issuance and resolves with the engine's
   * `notification_ack` (`forwarded` or `rejected`).
   */
  async sendCredentialNotification(
    flowId: string,
    notificationId: string,
    event: "credential_accepted" | "credential_failure" | "credential_deleted",
    description?: string,
  ): Promise<ServerFrameOf<"notification_ack">> {
    await this.connect();
    const key = `${flowId}\u0000${notificationId}`;
    const ack = new Promise<ServerFrame>((resolve, reject) => this.acks.set(key, { resolve, reject }));
    this.sendFrame({
      type: "credential_notification",
      flow_id: flowId,
      notification_id: notificationId,
      event,
      ...(description ? { event_description: description } : {}),
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.timers.setTimeout(() => {
        this.acks.delete(key);
        reject(new FlowError(flowId, "STEP_TIMEOUT", "no notification_ack in time"));
      }, this.options.stepTimeoutMs ?? 60_000);
    });
    try {
      return (await Promise.race([ack, timeout])) as ServerFrameOf<"notification_ack">;
    } finally {
      this.timers.clearTimeout(timer);
    }
  }
}

function frameFlow(frame: ClientMessage): string {
  return "flow_id" in frame ? frame.flow_id : "";
}
