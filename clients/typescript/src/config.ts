/**
 * Client configuration: where the engine, auth and storage roles are, and which transports are allowed in
 * which order. {@link configFromEnv} maps an env-like object (Vite's `import.meta.env`, `process.env`) with the
 * seed's names (`VITE_ENGINE_WS_URL`, `VITE_AUTH_URL`, `VITE_STORAGE_URL`) or the web client's
 * (`WALLET_ENGINE_URL`, `WS_URL`, `WALLET_BACKEND_URL`, `ALLOWED_TRANSPORTS`, `TRANSPORT_PREFERENCE`).
 */

/** A transport this package implements. `http_proxy` is legacy. */
export type TransportName = "websocket" | "sse" | "http_proxy";

/** Every transport name, in the default preference order. */
export const TRANSPORT_NAMES: readonly TransportName[] = ["websocket", "sse", "http_proxy"];

/** Where things are and which transports to use. */
export interface ClientConfig {
  /** The engine's base URL (http(s)); the WebSocket and SSE endpoints hang off its origin. */
  engineUrl: string;
  /** An explicit WebSocket URL (`wss://host/api/v2/wallet`), when not derived from `engineUrl`. */
  wsUrl?: string;
  /** The auth role's base URL (token refresh, WebAuthn). Default: `engineUrl`. */
  authUrl: string;
  /** The storage role's base URL. Default: `engineUrl`. */
  storageUrl: string;
  /** Allowed transports in preference order (first = preferred). Default `["websocket", "sse"]`. */
  transports: TransportName[];
}

/** Env-like input: string values by name (missing or empty = unset). */
export type EnvLike = Record<string, string | boolean | undefined>;

function pick(env: EnvLike, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = env[n];
    if (typeof v === "string" && v.trim() !== "") return v.trim();
  }
  return undefined;
}

function list(v: string | undefined): string[] | undefined {
  return v?.split(",").map((s) => s.trim().toLowerCase()).filter((s) => s !== "");
}

/** `ws(s)://host/...` to `http(s)://host` (the engine origin of a WebSocket URL). */
export function httpOriginOf(url: string): string {
  const u = new URL(url);
  const scheme = u.protocol === "wss:" || u.protocol === "https:" ? "https:" : "http:";
  return `${scheme}//${u.host}`;
}

/**
 * Normalises a configuration: fills defaults, checks URLs, drops unknown transport names.
 * @throws Error when a URL is invalid or no transport is left
 */
export function resolveConfig(c: Partial<ClientConfig> & { engineUrl?: string }): ClientConfig {
  const engine = c.engineUrl ?? (c.wsUrl ? httpOriginOf(c.wsUrl) : undefined);
  if (!engine) throw new Error("configuration: the engine URL is missing");
  for (const [name, u] of [["engine", engine], ["ws", c.wsUrl], ["auth", c.authUrl], ["storage", c.storageUrl]] as const) {
    if (u === undefined) continue;
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new Error(`configuration: the ${name} URL is not a URL`);
    }
    const ok = name === "ws" ? ["ws:", "wss:"] : ["http:", "https:"];
    if (!ok.includes(parsed.protocol)) throw new Error(`configuration: the ${name} URL must use ${ok.join(" or ")}`);
  }
  const transports = (c.transports ?? ["websocket", "sse"]).filter((t, i, a): t is TransportName => TRANSPORT_NAMES.includes(t) && a.indexOf(t) === i);
  if (transports.length === 0) throw new Error("configuration: no known transport is allowed");
  return {
    engineUrl: engine.replace(/\/+$/, ""),
    ...(c.wsUrl ? { wsUrl: c.wsUrl } : {}),
    authUrl: (c.authUrl ?? engine).replace(/\/+$/, ""),
    storageUrl: (c.storageUrl ?? engine).replace(/\/+$/, ""),
    transports,
  };
}

/**
 * Builds a {@link ClientConfig} from environment-style settings:
 * - engine: `VITE_ENGINE_WS_URL` / `WS_URL` (a ws(s) URL) and/or `VITE_ENGINE_URL` / `WALLET_ENGINE_URL`;
 * - auth: `VITE_AUTH_URL` / `WALLET_BACKEND_URL`; storage: `VITE_STORAGE_URL` / `WALLET_BACKEND_URL`;
 * - transports: `VITE_ALLOWED_TRANSPORTS` / `ALLOWED_TRANSPORTS` (which) and `VITE_TRANSPORT_PREFERENCE` /
 *   `TRANSPORT_PREFERENCE` (order; allowed ones it does not name follow in their own order).
 */
export function configFromEnv(env: EnvLike): ClientConfig {
  const wsUrl = pick(env, "VITE_ENGINE_WS_URL", "WS_URL");
  const backend = pick(env, "WALLET_BACKEND_URL", "VITE_WALLET_BACKEND_URL");
  const engineUrl = pick(env, "VITE_ENGINE_URL", "WALLET_ENGINE_URL") ?? (wsUrl ? httpOriginOf(wsUrl) : backend);
  const allowed = list(pick(env, "VITE_ALLOWED_TRANSPORTS", "ALLOWED_TRANSPORTS")) ?? ["websocket", "sse"];
  const pref = list(pick(env, "VITE_TRANSPORT_PREFERENCE", "TRANSPORT_PREFERENCE")) ?? [];
  const ordered = [...pref.filter((p) => allowed.includes(p)), ...allowed.filter((a) => !pref.includes(a))];
  const authUrl = pick(env, "VITE_AUTH_URL") ?? backend;
  const storageUrl = pick(env, "VITE_STORAGE_URL") ?? backend;
  return resolveConfig({
    ...(engineUrl ? { engineUrl } : {}),
    ...(wsUrl ? { wsUrl } : {}),
    ...(authUrl ? { authUrl } : {}),
    ...(storageUrl ? { storageUrl } : {}),
    transports: ordered as TransportName[],
  });
}
