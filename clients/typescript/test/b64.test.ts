import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { b64uDecode, b64uDecodeText, b64uEncode, b64uEncodeText } from "../src/index.js";

describe("base64url", () => {
  it("round-trips every length and matches Node's encoder", () => {
    for (let len = 0; len < 70; len++) {
      const bytes = new Uint8Array(len).map((_, i) => (i * 37 + len * 11) & 255);
      const enc = b64uEncode(bytes);
      assert.equal(enc, Buffer.from(bytes).toString("base64url"));
      assert.deepEqual(b64uDecode(enc), bytes);
    }
    assert.equal(b64uDecodeText(b64uEncodeText("äö€ 🙂")), "äö€ 🙂");
  });
  it("accepts padding and the standard alphabet, refuses garbage", () => {
    assert.deepEqual(b64uDecode("+/8="), new Uint8Array([0xfb, 0xff]));
    assert.throws(() => b64uDecode("a"), /length/);
    assert.throws(() => b64uDecode("ab$d"), /character/);
    assert.throws(() => b64uDecodeText(b64uEncode(new Uint8Array([0xff, 0xfe]))));
  });
});
