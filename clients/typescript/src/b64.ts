/** base64url (no padding) helpers over `Uint8Array`, with no dependency on Node's `Buffer`. */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const LOOKUP = new Map<string, number>();
for (let i = 0; i < ALPHABET.length; i++) LOOKUP.set(ALPHABET.charAt(i), i);

/** Encodes bytes as base64url without padding. */
export function b64uEncode(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const b0 = bytes[i] ?? 0;
    const b1 = bytes[i + 1] ?? 0;
    const b2 = bytes[i + 2] ?? 0;
    const n = (b0 << 16) | (b1 << 8) | b2;
    out += ALPHABET.charAt((n >> 18) & 63) + ALPHABET.charAt((n >> 12) & 63);
    if (i + 1 < bytes.length) out += ALPHABET.charAt((n >> 6) & 63);
    if (i + 2 < bytes.length) out += ALPHABET.charAt(n & 63);
  }
  return out;
}

/**
 * Decodes base64url (also accepts the standard alphabet and padding).
 * @throws Error on characters outside the alphabet or an impossible length.
 */
export function b64uDecode(text: string): Uint8Array {
  const s = text.replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  if (s.length % 4 === 1) throw new Error("invalid base64url length");
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    let n = 0;
    const chunk = s.slice(i, i + 4);
    for (let j = 0; j < 4; j++) {
      const c = chunk.charAt(j);
      const v = c === "" ? 0 : LOOKUP.get(c);
      if (v === undefined) throw new Error("invalid base64url character");
      n = (n << 6) | v;
    }
    out[o++] = (n >> 16) & 255;
    if (chunk.length > 2) out[o++] = (n >> 8) & 255;
    if (chunk.length > 3) out[o++] = n & 255;
  }
  return out.slice(0, o);
}

/** UTF-8 text to base64url. */
export function b64uEncodeText(text: string): string {
  return b64uEncode(new TextEncoder().encode(text));
}

/** base64url to UTF-8 text (fatal on invalid UTF-8). */
export function b64uDecodeText(text: string): string {
  return new TextDecoder("utf-8", { fatal: true }).decode(b64uDecode(text));
}
