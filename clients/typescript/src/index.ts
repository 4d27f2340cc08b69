/**
 * walletd web client SDK. Entry points:
 * - transports: {@link WebSocketTransport}, {@link SseTransport}, {@link HttpProxyTransport} (legacy),
 *   {@link createTransport} (preference order with automatic fallback);
 * - {@link CredentialMatcher} (DCQL and Presentation Exchange over SD-JWT VC, DCQL over mdocs);
 * - keystore ({@link deriveKeystoreKey}, {@link encryptBlob}, {@link decryptBlob}) and {@link StorageSyncClient};
 * - {@link configFromEnv} for the seed's `VITE_*` settings;
 * - the generated API v2 frame types (`ClientMessage`, `ServerFrame`, ...).
 */
export * from "./protocol.js";
export * from "./flow-types.js";
export * from "./callbacks.js";
export * from "./signing-types.js";
// The signer-facing params type (signing-types.ts) wins over the generated schema type of the same name.
export type { SignPresentationParams } from "./signing-types.js";
export * from "./backoff.js";
export { FlowError, SessionTransport, defaultTimers, type Timers, type ConnectionState, type FlowOutcome, type FrameLink, type LinkEvents, type SessionOptions } from "./session.js";
export { FrameFlowTransport, mapIssuanceFrame, mapPresentationFrame, verifierInfo } from "./flow-transport.js";
export * from "./websocket.js";
export * from "./b64.js";
export * from "./matcher/index.js";
export * from "./signer.js";
export * from "./keystore.js";
export * from "./sync.js";
export * from "./config.js";
export * from "./sse.js";
export * from "./http-proxy.js";
export * from "./fallback.js";
export * from "./web-compat.js";
