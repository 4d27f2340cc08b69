import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { configFromEnv, engineWebSocketUrl, resolveConfig } from "../src/index.js";

describe("configuration", () => {
  it("maps the seed's VITE_* names", () => {
    const c = configFromEnv({
      VITE_ENGINE_WS_URL: "wss://engine.example.org/api/v2/wallet",
      VITE_AUTH_URL: "https://auth.example.org/",
      VITE_STORAGE_URL: "https://storage.example.org",
      VITE_ALLOWED_TRANSPORTS: "sse, websocket",
      VITE_TRANSPORT_PREFERENCE: "websocket",
    });
    assert.deepEqual(c, {
      engineUrl: "https://engine.example.org",
      wsUrl: "wss://engine.example.org/api/v2/wallet",
      authUrl: "https://auth.example.org",
      storageUrl: "https://storage.example.org",
      transports: ["websocket", "sse"],
    });
  });

  it("maps the web client's names; http_proxy only when allowed", () => {
    const c = configFromEnv({ WALLET_BACKEND_URL: "https://wallet.example.org", ALLOWED_TRANSPORTS: "websocket,http_proxy", TRANSPORT_PREFERENCE: "http_proxy,websocket" });
    assert.equal(c.engineUrl, "https://wallet.example.org");
    assert.equal(c.storageUrl, "https://wallet.example.org");
    assert.deepEqual(c.transports, ["http_proxy", "websocket"]);
    assert.deepEqual(configFromEnv({ WALLET_BACKEND_URL: "http://localhost:8080" }).transports, ["websocket", "sse"]);
  });

  it("rejects missing or malformed URLs and empty transport lists with clear errors", () => {
    assert.throws(() => configFromEnv({}), /engine URL is missing/);
    assert.throws(() => configFromEnv({ VITE_ENGINE_WS_URL: "https://x/api" }), /ws URL must use ws: or wss:/);
    assert.throws(() => configFromEnv({ WALLET_BACKEND_URL: "notaurl" }), /not a URL/);
    assert.throws(() => configFromEnv({ WALLET_BACKEND_URL: "https://x", ALLOWED_TRANSPORTS: "carrier-pigeon" }), /no known transport/);
    assert.throws(() => resolveConfig({ engineUrl: "ftp://x" }), /engine URL must use http: or https:/);
  });

  it("derives the WebSocket URL at the engine's root", () => {
    assert.equal(engineWebSocketUrl("https://wallet.example.org/id/default/"), "wss://wallet.example.org/api/v2/wallet");
    assert.equal(engineWebSocketUrl("http://127.0.0.1:8080"), "ws://127.0.0.1:8080/api/v2/wallet");
  });
});
