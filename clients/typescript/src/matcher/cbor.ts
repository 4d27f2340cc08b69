/**
 * A bounded CBOR (RFC 8949) decoder for what mdocs hold: definite-length items of every major type, tags kept as
 * {@link CborTag}, floats of 16/32/64 bits. Indefinite lengths are refused (ISO 18013-5 uses deterministic CBOR).
 * Bounded like the Rust side (`walletd_protocol::mdoc::Limits`): input size and nesting depth; every length is
 * checked against the bytes left before anything is allocated. Zero dependencies.
 */

/** A decoded CBOR item. Integers beyond 2^53 are bigints; maps keep their keys as decoded. */
export type Cbor = number | bigint | string | boolean | null | undefined | Uint8Array | Cbor[] | Map<Cbor, Cbor> | CborTag;

/** A tagged item (`#6.24` embedded CBOR, `#6.1004` full-date, ...). */
export class CborTag {
  constructor(
    readonly tag: number | bigint,
    readonly value: Cbor,
  ) {}
}

/** Bounds of one decode. */
export interface CborLimits {
  /** Largest input in bytes (default 1 MiB). */
  maxBytes: number;
  /** Deepest nesting of arrays, maps and tags (default 32). */
  maxDepth: number;
}

/** The Rust holder's defaults. */
export const DEFAULT_CBOR_LIMITS: CborLimits = { maxBytes: 1024 * 1024, maxDepth: 32 };

/** Why a decode failed (never echoes the input). */
export class CborError extends Error {}

/** Decodes exactly one item filling `bytes`. */
export function decodeCbor(bytes: Uint8Array, limits: CborLimits = DEFAULT_CBOR_LIMITS): Cbor {
  if (bytes.length > limits.maxBytes) throw new CborError(`CBOR larger than ${limits.maxBytes} bytes`);
  const r = new Reader(bytes, limits.maxDepth);
  const v = r.item(0);
  if (r.pos !== bytes.length) throw new CborError("trailing bytes after the CBOR item");
  return v;
}

class Reader {
  pos = 0;
  private readonly view: DataView;

  constructor(
    private readonly b: Uint8Array,
    private readonly maxDepth: number,
  ) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  private need(n: number): void {
    if (n > this.b.length - this.pos) throw new CborError("truncated CBOR");
  }

  private u8(): number {
    this.need(1);
    return this.b[this.pos++] as number;
  }

  /** The argument of an initial byte (`info` = its low 5 bits). */
  private arg(info: number): number | bigint {
    if (info < 24) return info;
    switch (info) {
      case 24:
        return this.u8();
      case 25:
        this.need(2);
        this.pos += 2;
        return this.view.getUint16(this.pos - 2);
      case 26:
        this.need(4);
        this.pos += 4;
        return this.view.getUint32(this.pos - 4);
      case 27: {
        this.need(8);
        this.pos += 8;
        const big = this.view.getBigUint64(this.pos - 8);
        return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
      }
      default:
        throw new CborError("indefinite lengths and reserved values are not accepted");
    }
  }

  /** A length that must fit in what is left (each entry takes at least one byte). */
  private len(info: number, perEntry: number): number {
    const n = this.arg(info);
    if (typeof n === "bigint" || n * perEntry > this.b.length - this.pos) throw new CborError("a CBOR length exceeds the input");
    return n;
  }

  item(depth: number): Cbor {
    if (depth > this.maxDepth) throw new CborError(`CBOR nested deeper than ${this.maxDepth}`);
    const ib = this.u8();
    const major = ib >> 5;
    const info = ib & 31;
    switch (major) {
      case 0:
        return this.arg(info);
      case 1: {
        const n = this.arg(info);
        return typeof n === "bigint" || n >= Number.MAX_SAFE_INTEGER ? -1n - BigInt(n) : -1 - n;
      }
      case 2: {
        const n = this.len(info, 1);
        this.pos += n;
        return this.b.slice(this.pos - n, this.pos);
      }
      case 3: {
        const n = this.len(info, 1);
        this.pos += n;
        try {
          return new TextDecoder("utf-8", { fatal: true }).decode(this.b.subarray(this.pos - n, this.pos));
        } catch {
          throw new CborError("a CBOR text string is not UTF-8");
        }
      }
      case 4: {
        const n = this.len(info, 1);
        const out: Cbor[] = [];
        for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
        return out;
      }
      case 5: {
        const n = this.len(info, 2);
        const out = new Map<Cbor, Cbor>();
        for (let i = 0; i < n; i++) {
          const k = this.item(depth + 1);
          out.set(k, this.item(depth + 1));
        }
        return out;
      }
      case 6:
        return new CborTag(this.arg(info), this.item(depth + 1));
      default:
        return this.simple(info);
    }
  }

  private simple(info: number): Cbor {
    switch (info) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return undefined;
      case 25: {
        this.need(2);
        const h = this.view.getUint16(this.pos);
        this.pos += 2;
        return half(h);
      }
      case 26:
        this.need(4);
        this.pos += 4;
        return this.view.getFloat32(this.pos - 4);
      case 27:
        this.need(8);
        this.pos += 8;
        return this.view.getFloat64(this.pos - 8);
      default:
        if (info < 24) return undefined;
        throw new CborError("unsupported CBOR simple value");
    }
  }
}

function half(h: number): number {
  const exp = (h >> 10) & 31;
  const mant = h & 1023;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** A text-keyed member of a CBOR map. */
export function cborGet(m: Cbor, key: string): Cbor | undefined {
  return m instanceof Map ? m.get(key) : undefined;
}

/**
 * Encodes a CBOR item in the shortest form (definite lengths, map entries in insertion order), as the Rust side
 * (`ciborium`) does: integers as major types 0/1, other numbers as float64, `undefined` as simple 23.
 */
export function encodeCbor(v: Cbor): Uint8Array {
  const out: number[] = [];
  const head = (major: number, n: number | bigint): void => {
    const b = BigInt(n);
    const m = major << 5;
    if (b < 24n) out.push(m | Number(b));
    else if (b < 0x100n) out.push(m | 24, Number(b));
    else if (b < 0x10000n) out.push(m | 25, Number(b >> 8n), Number(b & 255n));
    else if (b < 0x100000000n) out.push(m | 26, ...[24n, 16n, 8n, 0n].map((s) => Number((b >> s) & 255n)));
    else out.push(m | 27, ...[56n, 48n, 40n, 32n, 24n, 16n, 8n, 0n].map((s) => Number((b >> s) & 255n)));
  };
  const bytes = (b: Uint8Array): void => {
    for (const x of b) out.push(x);
  };
  const item = (x: Cbor): void => {
    if (x === null) out.push(0xf6);
    else if (x === undefined) out.push(0xf7);
    else if (typeof x === "boolean") out.push(x ? 0xf5 : 0xf4);
    else if (typeof x === "bigint") {
      if (x >= 0n) head(0, x);
      else head(1, -1n - x);
    } else if (typeof x === "number") {
      if (Number.isSafeInteger(x)) {
        if (x >= 0) head(0, x);
        else head(1, -1 - x);
      } else {
        const f = new DataView(new ArrayBuffer(8));
        f.setFloat64(0, x);
        out.push(0xfb);
        bytes(new Uint8Array(f.buffer));
      }
    } else if (typeof x === "string") {
      const t = new TextEncoder().encode(x);
      head(3, t.length);
      bytes(t);
    } else if (x instanceof Uint8Array) {
      head(2, x.length);
      bytes(x);
    } else if (Array.isArray(x)) {
      head(4, x.length);
      x.forEach(item);
    } else if (x instanceof Map) {
      head(5, x.size);
      for (const [k, val] of x) {
        item(k);
        item(val);
      }
    } else {
      head(6, x.tag);
      item(x.value);
    }
  };
  item(v);
  return Uint8Array.from(out);
}
