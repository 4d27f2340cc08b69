/**
 * {@link createTransport}: one {@link FlowTransport} over the configured transports in preference order. It
 * connects with the first that works and moves to the next when the active frame transport is cut repeatedly
 * or gives up reconnecting (WebSocket blocked by a proxy or middlebox: SSE takes over).
 */
import type { FlowCallbacks } from "./callbacks.js";
import { resolveConfig, type ClientConfig, type TransportName } from "./config.js";
import { FrameFlowTransport } from "./flow-transport.js";
import type {
  FlowProgressEvent,
  FlowRequest,
  FlowResponse,
  FlowTransport,
  FlowTransportType,
  OID4VCIFlowParams,
  OID4VCIFlowResult,
  OID4VPFlowParams,
  OID4VPFlowResult,
} from "./flow-types.js";
import { HttpProxyTransport } from "./http-proxy.js";
import { FlowError, type FlowOutcome, type SessionOptions } from "./session.js";
import { SseTransport, type EventSourceConstructor } from "./sse.js";
import { WebSocketTransport, type WebSocketConstructor } from "./websocket.js";

/** Options of {@link createTransport}: the session options plus platform hooks and the fallback policy. */
export interface CreateTransportOptions extends SessionOptions {
  /** WebSocket class (default global). */
  WebSocket?: WebSocketConstructor;
  /** EventSource class (default global, else a fetch reader). */
  EventSource?: EventSourceConstructor;
  /** fetch (default global). */
  fetch?: typeof fetch;
  /** Move to the next transport after this many cuts of the active one. Default 2. */
  fallbackAfterCuts?: number;
  /** Observes switches (for logs and UI). */
  onSwitch?: (from: TransportName | undefined, to: TransportName, reason: string) => void;
}

/** A {@link FlowTransport} that picks and switches between concrete transports. */
export class AutoTransport implements FlowTransport {
  private active: FlowTransport | undefined;
  private activeName: TransportName | undefined;
  private index = -1;
  private readonly progress = new Set<(e: FlowProgressEvent) => void>();
  private readonly errors = new Set<(e: Error) => void>();
  private unsubscribe: (() => void)[] = [];
  private connecting: Promise<void> | undefined;

  constructor(
    readonly config: ClientConfig,
    private readonly options: CreateTransportOptions,
  ) {}

  /** The active transport's type (`websocket` before anything connected). */
  get transportType(): FlowTransportType {
    return this.active?.transportType ?? this.config.transports[0] ?? "websocket";
  }

  /** The name of the transport in use, if any. */
  getActiveTransport(): TransportName | undefined {
    return this.activeName;
  }

  private build(name: TransportName): FlowTransport {
    const o = this.options;
    switch (name) {
      case "websocket":
        return new WebSocketTransport({
          ...o,
          engineUrl: this.config.engineUrl,
          ...(this.config.wsUrl ? { wsUrl: this.config.wsUrl } : {}),
          ...(o.WebSocket ? { WebSocket: o.WebSocket } : {}),
        });
      case "sse":
        return new SseTransport({ ...o, engineUrl: this.config.engineUrl, ...(o.EventSource ? { EventSource: o.EventSource } : {}), ...(o.fetch ? { fetch: o.fetch } : {}) });
      case "http_proxy":
        // eslint-disable-next-line @typescript-eslint/no-deprecated -- legacy transport, only when configured
        return new HttpProxyTransport({ backendUrl: this.config.engineUrl, token: o.token, ...(o.signer ? { signer: o.signer } : {}), ...(o.fetch ? { fetch: o.fetch } : {}) });
    }
  }

  private attach(t: FlowTransport): void {
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [
      t.onProgress((e) => {
        for (const l of [...this.progress]) l(e);
      }),
      t.onError((e) => {
        for (const l of [...this.errors]) l(e);
      }),
    ];
    if (t instanceof FrameFlowTransport) {
      const frame = t;
      const threshold = this.options.fallbackAfterCuts ?? 2;
      this.unsubscribe.push(
        frame.onStateChange((s) => {
          if (this.active !== t) return;
          const cuts = frame.getCutCount();
          if ((s === "reconnecting" && cuts >= threshold) || (s === "idle" && cuts > 0)) {
            void this.fallBack(`${this.activeName ?? "transport"} was cut ${cuts} times`);
          }
        }),
      );
    }
  }

  private async fallBack(reason: string): Promise<void> {
    const old = this.active;
    const from = this.activeName;
    this.active = undefined;
    this.activeName = undefined;
    await old?.disconnect();
    try {
      await this.connectFrom(this.index + 1, from, reason);
    } catch (e) {
      for (const l of [...this.errors]) l(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private async connectFrom(start: number, from: TransportName | undefined, reason: string): Promise<void> {
    let last: unknown;
    for (let i = start; i < this.config.transports.length; i++) {
      const name = this.config.transports[i];
      if (!name) continue;
      const t = this.build(name);
      try {
        await t.connect();
      } catch (e) {
        // A refused token is not a transport problem: do not try the next one with it.
        if (e instanceof FlowError && e.code === "AUTH_FAILED") throw e;
        last = e;
        reason = `${name} could not connect`;
        continue;
      }
      this.index = i;
      this.active = t;
      this.activeName = name;
      this.attach(t);
      this.options.onSwitch?.(from, name, reason);
      return;
    }
    throw last instanceof Error ? last : new Error("no configured transport could connect");
  }

  /** Connects with the first transport (in preference order) that works. */
  async connect(): Promise<void> {
    if (this.active?.isConnected()) return;
    if (this.connecting) return this.connecting;
    const start = this.active ? this.index : 0;
    this.connecting = (async () => {
      if (this.active) {
        try {
          await this.active.connect();
          return;
        } catch (e) {
          if (e instanceof FlowError && e.code === "AUTH_FAILED") throw e;
          await this.active.disconnect();
          this.active = undefined;
          await this.connectFrom(start + 1, this.activeName, "reconnect failed");
          return;
        }
      }
      await this.connectFrom(start, undefined, "first connection");
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  async disconnect(): Promise<void> {
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    await this.active?.disconnect();
    this.active = undefined;
    this.activeName = undefined;
  }

  isConnected(): boolean {
    return this.active?.isConnected() ?? false;
  }

  private async ready(): Promise<FlowTransport> {
    await this.connect();
    if (!this.active) throw new Error("no transport is connected");
    return this.active;
  }

  private async frame(): Promise<FrameFlowTransport> {
    const t = await this.ready();
    if (!(t instanceof FrameFlowTransport)) throw new Error(`the ${t.transportType} transport runs no callback flows`);
    return t;
  }

  async startOID4VCIFlow(params: OID4VCIFlowParams): Promise<OID4VCIFlowResult> {
    return (await this.ready()).startOID4VCIFlow(params);
  }

  async startOID4VPFlow(params: OID4VPFlowParams): Promise<OID4VPFlowResult> {
    return (await this.ready()).startOID4VPFlow(params);
  }

  async request<T>(flowRequest: FlowRequest): Promise<FlowResponse<T>> {
    return (await this.ready()).request<T>(flowRequest);
  }

  /** {@inheritDoc FrameFlowTransport.runIssuance} (frame transports only). */
  async runIssuance(offer: string, callbacks?: FlowCallbacks, extra?: Parameters<FrameFlowTransport["runIssuance"]>[2]): Promise<FlowOutcome> {
    return (await this.frame()).runIssuance(offer, callbacks, extra);
  }

  /** {@inheritDoc FrameFlowTransport.resumeIssuance} (frame transports only). */
  async resumeIssuance(resume: Parameters<FrameFlowTransport["resumeIssuance"]>[0], callbacks?: FlowCallbacks): Promise<FlowOutcome> {
    return (await this.frame()).resumeIssuance(resume, callbacks);
  }

  /** {@inheritDoc FrameFlowTransport.runPresentation} (frame transports only). */
  async runPresentation(request: Parameters<FrameFlowTransport["runPresentation"]>[0], callbacks?: FlowCallbacks): Promise<FlowOutcome> {
    return (await this.frame()).runPresentation(request, callbacks);
  }

  /** {@inheritDoc FrameFlowTransport.getTypeMetadata} (frame transports only). */
  async getTypeMetadata(vct: string): Promise<unknown> {
    return (await this.frame()).getTypeMetadata(vct);
  }

  /** {@inheritDoc SessionTransport.sendCredentialNotification} (frame transports only). */
  async sendCredentialNotification(...args: Parameters<FrameFlowTransport["sendCredentialNotification"]>): ReturnType<FrameFlowTransport["sendCredentialNotification"]> {
    return (await this.frame()).sendCredentialNotification(...args);
  }

  onProgress(callback: (event: FlowProgressEvent) => void): () => void {
    this.progress.add(callback);
    return () => this.progress.delete(callback);
  }

  onError(callback: (error: Error) => void): () => void {
    this.errors.add(callback);
    return () => this.errors.delete(callback);
  }
}

/**
 * A transport over the configured transports (`config.transports`, in preference order) with automatic
 * fallback; see {@link AutoTransport}. Nothing connects until the first call (or `connect()`).
 *
 * @example
 * const t = createTransport(configFromEnv(import.meta.env), { token: () => session.appToken, signer });
 * const out = await t.runPresentation(requestUrl, { onConsent });
 */
export function createTransport(config: Partial<ClientConfig> & { engineUrl?: string }, options: CreateTransportOptions): AutoTransport {
  return new AutoTransport(resolveConfig(config), options);
}
