import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Keystore, StorageError, StorageSyncClient, SyncConflictError, b64uDecode } from "../src/index.js";
import { startFakeStorage, type FakeStorage } from "./helpers/fake-storage.js";

const te = (s: string) => new TextEncoder().encode(s);
const td = (b: Uint8Array | null | undefined) => (b ? new TextDecoder().decode(b) : null);
const b64 = (s: string) => Buffer.from(s).toString("base64url");

describe("storage sync client", () => {
  let store: FakeStorage;
  before(async () => {
    store = await startFakeStorage();
  });
  after(async () => store.close());

  it("encrypts before upload: the server only sees ciphertext, the client reads plaintext", async () => {
    const ks = await Keystore.create(new Uint8Array(32).fill(3));
    const c = new StorageSyncClient({ storageUrl: store.url, token: "tok", cipher: ks });
    const v = await c.put("cred-1", te("an SD-JWT credential"), null);
    assert.equal(v, 1);
    const raw = b64uDecode(store.blobs.get("cred-1")?.data ?? "");
    assert.ok(!Buffer.from(raw).includes(Buffer.from("SD-JWT")), "no plaintext on the server");
    assert.equal(td((await c.get("cred-1"))?.data), "an SD-JWT credential");
    assert.equal(await c.get("nope"), null);
    // The ciphertext is bound to its id: moved to another id it does not decrypt.
    store.writeDirect("moved", store.blobs.get("cred-1")?.data ?? "");
    await assert.rejects(c.get("moved"));
  });

  it("a conflicting write (412) re-reads, merges with the caller's function and retries", async () => {
    const c = new StorageSyncClient({ storageUrl: store.url, token: "tok" });
    const v1 = await c.put("list", te("a"), null);
    store.writeDirect("list", b64("a,b")); // another device wrote meanwhile
    const seen: { remote: string | null; local: string; version: number | null }[] = [];
    const v = await c.putMerged("list", te("a,c"), v1, (remote, local, version) => {
      seen.push({ remote: td(remote), local: td(local) ?? "", version });
      return te(`${td(remote) ?? ""}+${td(local) ?? ""}`);
    });
    assert.equal(v, 3);
    assert.deepEqual(seen, [{ remote: "a,b", local: "a,c", version: 2 }]);
    assert.equal(td((await c.get("list"))?.data), "a,b+a,c");
    await assert.rejects(c.put("list", te("x"), 1), (e: unknown) => e instanceof StorageError && e.status === 412 && e.currentVersion === 3);
  });

  it("a create-only write that finds the blob merges too; a deleted blob merges with null", async () => {
    const c = new StorageSyncClient({ storageUrl: store.url, token: "tok" });
    store.writeDirect("fresh", b64("theirs"));
    assert.equal(await c.putMerged("fresh", te("mine"), null, (r, l) => te(`${td(r) ?? "-"}|${td(l) ?? ""}`)), 2);
    const v = await c.put("gone", te("x"), null);
    await c.delete("gone", v);
    const merged = await c.putMerged("gone", te("y"), v, (r, l) => te(`${td(r) ?? "null"}|${td(l) ?? ""}`));
    assert.ok(merged > v);
    assert.equal(td((await c.get("gone"))?.data), "null|y");
  });

  it("gives up after the bounded number of retries when the blob keeps changing", async () => {
    const c = new StorageSyncClient({ storageUrl: store.url, token: "tok", maxConflictRetries: 2 });
    const v = await c.put("hot", te("0"), null);
    let puts = 0;
    store.beforePut = (id) => {
      if (id === "hot") {
        puts++;
        store.writeDirect("hot", b64(`other-${puts}`));
      }
    };
    let merges = 0;
    await assert.rejects(
      c.putMerged("hot", te("mine"), v, (r) => {
        merges++;
        return r ?? te("");
      }),
      SyncConflictError,
    );
    store.beforePut = undefined;
    assert.equal(puts, 3, "one try plus two retries");
    assert.equal(merges, 3);
  });

  it("pulls the change feed page by page, tombstones included, and resumes from the cursor", async () => {
    const c = new StorageSyncClient({ storageUrl: store.url, token: "tok" });
    const start = await c.pull();
    for (let i = 0; i < 5; i++) await c.put(`feed-${i}`, te(`v${i}`), null);
    await c.delete("feed-0");
    const page = await c.pull(start.cursor, 2);
    assert.deepEqual(page.changes.map((ch) => `${ch.id}:${ch.deleted ? "deleted" : td(ch.data) ?? ""}`), ["feed-1:v1", "feed-2:v2", "feed-3:v3", "feed-4:v4", "feed-0:deleted"]);
    const again = await c.pull(page.cursor);
    assert.equal(again.changes.length, 0);
  });

  it("the reserved keystore blob in the feed bypasses the cipher", async () => {
    const ks = await Keystore.create(new Uint8Array(32).fill(4));
    const c = new StorageSyncClient({ storageUrl: store.url, token: "tok", cipher: ks });
    const start = await new StorageSyncClient({ storageUrl: store.url, token: "tok" }).pull();
    store.writeDirect("keystore", b64("{\"walletd_keystore\":1}"));
    await c.put("enc", te("secret"), null);
    const page = await c.pull(start.cursor);
    assert.deepEqual(page.changes.map((ch) => [ch.id, td(ch.data)]), [["keystore", '{"walletd_keystore":1}'], ["enc", "secret"]]);
  });

  it("surfaces auth errors as StorageError", async () => {
    const c = new StorageSyncClient({ storageUrl: store.url, token: "wrong" });
    await assert.rejects(c.get("x"), (e: unknown) => e instanceof StorageError && e.status === 401 && e.code === "unauthorized");
  });
});
