/**
 * A client for walletd's storage role: client-encrypted blobs (`/storage/credentials/{id}`) with atomic
 * versions, the multi-device change feed (`/storage/sync`), and the web client's private data
 * (`/user/session/private-data`). Writes use compare-and-swap (`If-Match: "<version>"`); on 412 the client
 * re-reads the current blob, merges through the caller's function and retries, a bounded number of times.
 * With a `cipher` (e.g. a {@link Keystore}) every blob is encrypted before it leaves the client.
 */
import { b64uDecode, b64uEncode } from "./b64.js";

/** Encrypts/decrypts blobs by id (a {@link Keystore} fits). */
export interface BlobCipher {
  encrypt(plaintext: Uint8Array, id: string): Promise<Uint8Array>;
  decrypt(blob: Uint8Array, id: string): Promise<Uint8Array>;
}

/** Options of {@link StorageSyncClient}. */
export interface StorageSyncOptions {
  /** The storage role's base URL (`https://wallet.example.org`). */
  storageUrl: string;
  /** The access token, or a function returning the current one. */
  token: string | (() => string | Promise<string>);
  /** Encrypts blobs before upload and decrypts after download. Without it, bytes go as they are. */
  cipher?: BlobCipher;
  /** `fetch` to use (default the global one). */
  fetch?: typeof fetch;
  /** Tenant header for unauthenticated routes (not needed with a token). */
  tenantId?: string;
  /** Retries of a conflicting write (412) before {@link SyncConflictError}. Default 3. */
  maxConflictRetries?: number;
  /** Most pages one {@link StorageSyncClient.pull} reads. Default 100. */
  maxPages?: number;
  /**
   * Ids whose bytes bypass the cipher: walletd's reserved `keystore` blob (the web client's private data, which
   * the keystore encrypts itself) shows up in the change feed. Default `["keystore"]`.
   */
  rawIds?: readonly string[];
}

/** A storage error answer: `status` and the `{error, message}` body. */
export class StorageError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The blob's current version, on 412. */
    readonly currentVersion?: number,
  ) {
    super(message);
    this.name = "StorageError";
  }
}

/** A write kept conflicting after every retry. */
export class SyncConflictError extends StorageError {
  constructor(id: string, attempts: number) {
    super(412, "precondition_failed", `blob ${id} kept changing: gave up after ${attempts} attempts`);
    this.name = "SyncConflictError";
  }
}

/** One blob (decrypted when a cipher is set). */
export interface StoredBlob {
  id: string;
  version: number;
  data: Uint8Array;
  content_type?: string | null;
  updated_at?: string;
}

/** One change of the feed (`data` decrypted when present and a cipher is set). */
export interface BlobChange {
  id: string;
  version: number;
  deleted: boolean;
  updated_at?: string;
  data?: Uint8Array;
}

/** A page of the change feed. */
export interface SyncPage {
  changes: BlobChange[];
  cursor: string | null;
  has_more: boolean;
  /** The cursor is too old: re-read everything (`list`) and start over from `cursor`. */
  reset_required?: boolean;
}

/** Merges the server's current plaintext (`null` when deleted/absent) with ours into what to write. */
export type MergeFn = (remote: Uint8Array | null, local: Uint8Array, remoteVersion: number | null) => Uint8Array | Promise<Uint8Array>;

/** See the module docs. */
export class StorageSyncClient {
  private readonly base: string;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly options: StorageSyncOptions) {
    this.base = options.storageUrl.replace(/\/+$/, "");
    // Never call a supplied fetch as a method of this object (window.fetch refuses another `this`).
    const f = options.fetch ?? fetch;
    this.fetchFn = (...a: Parameters<typeof fetch>) => f(...a);
  }

  private async headers(extra: Record<string, string> = {}): Promise<Record<string, string>> {
    const t = this.options.token;
    const token = typeof t === "function" ? await t() : t;
    return {
      authorization: `Bearer ${token}`,
      ...(this.options.tenantId ? { "x-tenant-id": this.options.tenantId } : {}),
      ...extra,
    };
  }

  private async call(method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
    const res = await this.fetchFn(this.base + path, { method, headers: await this.headers(init.headers), ...(init.body === undefined ? {} : { body: init.body }) });
    if (res.ok || res.status === 304) return res;
    let code = "http_error";
    let message = `${method} ${path.split("?")[0] ?? path} answered ${res.status}`;
    let current: number | undefined;
    try {
      const body = (await res.json()) as { error?: string; message?: string; current_version?: number };
      code = body.error ?? code;
      message = body.message ?? message;
      current = typeof body.current_version === "number" ? body.current_version : undefined;
    } catch {
      // a body that is not JSON: keep the generic message
    }
    throw new StorageError(res.status, code, message, current);
  }

  private cipherFor(id: string): BlobCipher | undefined {
    return (this.options.rawIds ?? ["keystore"]).includes(id) ? undefined : this.options.cipher;
  }

  private seal(id: string, data: Uint8Array): Promise<Uint8Array> {
    const c = this.cipherFor(id);
    return c ? c.encrypt(data, id) : Promise.resolve(data);
  }

  private open(id: string, data: Uint8Array): Promise<Uint8Array> {
    const c = this.cipherFor(id);
    return c ? c.decrypt(data, id) : Promise.resolve(data);
  }

  /** One blob, or `null` when it does not exist. */
  async get(id: string): Promise<StoredBlob | null> {
    try {
      const res = await this.call("GET", `/storage/credentials/${encodeURIComponent(id)}`);
      const b = (await res.json()) as { id: string; version: number; data: string; content_type?: string | null; updated_at?: string };
      return { ...b, data: await this.open(id, b64uDecode(b.data)) };
    } catch (e) {
      if (e instanceof StorageError && e.status === 404) return null;
      throw e;
    }
  }

  /**
   * Writes a blob. `ifMatch`: the version the change is based on (412 when the server has another);
   * `ifMatch: null` creates only (`If-None-Match: *`); `undefined` overwrites unconditionally.
   * @returns the new version
   */
  async put(id: string, data: Uint8Array, ifMatch?: number | null, contentType?: string): Promise<number> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (ifMatch === null) headers["if-none-match"] = "*";
    else if (ifMatch !== undefined) headers["if-match"] = `"${ifMatch}"`;
    const body = JSON.stringify({ data: b64uEncode(await this.seal(id, data)), ...(contentType ? { content_type: contentType } : {}) });
    const res = await this.call("PUT", `/storage/credentials/${encodeURIComponent(id)}`, { headers, body });
    return ((await res.json()) as { version: number }).version;
  }

  /** Deletes a blob (a tombstone stays for sync); `ifMatch` makes it conditional. */
  async delete(id: string, ifMatch?: number): Promise<void> {
    await this.call("DELETE", `/storage/credentials/${encodeURIComponent(id)}`, ifMatch === undefined ? {} : { headers: { "if-match": `"${ifMatch}"` } });
  }

  /**
   * Writes `local` based on `baseVersion` (`null`: the blob is new to us). On 412 it reads the current blob,
   * calls `merge(remote, local, remoteVersion)` and retries against the version it read, at most
   * `maxConflictRetries` times, then throws {@link SyncConflictError}.
   * @returns the version written
   */
  async putMerged(id: string, local: Uint8Array, baseVersion: number | null, merge: MergeFn): Promise<number> {
    const max = this.options.maxConflictRetries ?? 3;
    let data = local;
    let base = baseVersion;
    for (let attempt = 0; attempt <= max; attempt++) {
      try {
        return await this.put(id, data, base);
      } catch (e) {
        // 412: the version moved (or, create-only, the blob exists now); 404: it was deleted meanwhile.
        const conflict = e instanceof StorageError && (e.status === 412 || (e.status === 404 && base !== null));
        if (!conflict) throw e;
      }
      const current = await this.get(id);
      data = await merge(current ? current.data : null, local, current ? current.version : null);
      base = current ? current.version : null;
    }
    throw new SyncConflictError(id, max + 1);
  }

  /** One page of the change feed after `since` (`undefined`: from the start). */
  async changes(since?: string | null, limit?: number): Promise<SyncPage> {
    const q = new URLSearchParams();
    if (since) q.set("since", since);
    if (limit !== undefined) q.set("limit", String(limit));
    const qs = q.toString();
    const res = await this.call("GET", `/storage/sync${qs ? `?${qs}` : ""}`);
    const page = (await res.json()) as { changes: { id: string; version: number; deleted: boolean; updated_at?: string; data?: string }[]; cursor: string | null; has_more: boolean; reset_required?: boolean };
    const changes: BlobChange[] = [];
    for (const c of page.changes) {
      const change: BlobChange = { id: c.id, version: c.version, deleted: c.deleted };
      if (c.updated_at) change.updated_at = c.updated_at;
      if (typeof c.data === "string") change.data = await this.open(c.id, b64uDecode(c.data));
      changes.push(change);
    }
    return { changes, cursor: page.cursor, has_more: page.has_more, ...(page.reset_required ? { reset_required: true } : {}) };
  }

  /**
   * Reads the feed from `since` until `has_more` is false (at most `maxPages` pages) and returns every change
   * with the cursor to keep for next time.
   */
  async pull(since?: string | null, limit?: number): Promise<{ changes: BlobChange[]; cursor: string | null; reset_required: boolean }> {
    const all: BlobChange[] = [];
    let cursor = since ?? null;
    for (let i = 0; i < (this.options.maxPages ?? 100); i++) {
      const page = await this.changes(cursor, limit);
      if (page.reset_required) return { changes: all, cursor: page.cursor, reset_required: true };
      all.push(...page.changes);
      cursor = page.cursor ?? cursor;
      if (!page.has_more) break;
    }
    return { changes: all, cursor, reset_required: false };
  }

  /** The blob list (metadata only). */
  async list(cursor?: string, limit?: number): Promise<{ items: { id: string; version: number; updated_at?: string; size?: number }[]; next_cursor: string | null }> {
    const q = new URLSearchParams();
    if (cursor) q.set("cursor", cursor);
    if (limit !== undefined) q.set("limit", String(limit));
    const qs = q.toString();
    const res = await this.call("GET", `/storage/credentials${qs ? `?${qs}` : ""}`);
    return (await res.json()) as { items: { id: string; version: number }[]; next_cursor: string | null };
  }

  /** The web client's private data (the keystore) and its ETag; empty bytes when none is stored yet. */
  async getPrivateData(): Promise<{ data: Uint8Array; etag: string | null }> {
    const res = await this.call("GET", "/user/session/private-data");
    const body = (await res.json()) as { privateData?: { $b64u?: string } | string };
    const pd = body.privateData;
    const text = typeof pd === "string" ? pd : (pd?.$b64u ?? "");
    return { data: b64uDecode(text), etag: res.headers.get("x-private-data-etag") };
  }

  /**
   * Replaces the private data when the server still has `etag` (`null`: unconditional). Throws
   * {@link StorageError} 412 when it changed meanwhile. @returns the new ETag
   */
  async putPrivateData(data: Uint8Array, etag: string | null): Promise<string | null> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (etag) headers["x-private-data-if-match"] = etag;
    const res = await this.call("POST", "/user/session/private-data", { headers, body: JSON.stringify({ $b64u: b64uEncode(data) }) });
    return res.headers.get("x-private-data-etag");
  }
}
