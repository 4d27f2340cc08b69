// Searches walletd's SQLite files (the database and its WAL, as raw bytes) for secrets the client must never store
// in the clear: each secret as UTF-8, and inside base64 / base64url text at every byte alignment (a server that
// stored the client's plaintext base64-encoded would be caught too).
import fs from 'node:fs';

/// The encodings a plaintext `secret` can take in the files: itself, and the stable middle of its base64 and
/// base64url encodings after 0, 1 or 2 leading bytes.
export function needles(secret) {
  const bytes = Buffer.from(secret, 'utf8');
  const out = new Set([secret]);
  for (let shift = 0; shift < 3; shift++) {
    const padded = Buffer.concat([Buffer.alloc(shift), bytes]);
    for (const alphabet of ['base64', 'base64url']) {
      const text = padded.toString(alphabet).replace(/=+$/, '');
      // Characters fully determined by the secret: skip the ones touched by the prefix and the last partial group.
      const start = Math.ceil((shift * 8) / 6);
      const end = Math.floor(((shift + bytes.length) * 8) / 6);
      if (end - start >= 6) out.add(text.slice(start, end));
    }
  }
  return [...out];
}

/// The files of the database at `dbPath` that exist (`walletd.db`, `-wal`, `-shm`, `-journal`).
export function dbFiles(dbPath) {
  return [dbPath, `${dbPath}-wal`, `${dbPath}-shm`, `${dbPath}-journal`].filter((f) => fs.existsSync(f));
}

/// Every (secret label, file) pair where a form of the secret occurs. `secrets` maps a label to a string.
export function findSecrets(dbPath, secrets) {
  const files = dbFiles(dbPath).map((f) => [f, fs.readFileSync(f)]);
  const hits = [];
  for (const [label, secret] of Object.entries(secrets)) {
    if (!secret || secret.length < 5) throw new Error(`secret ${label} is too short to search for`);
    for (const n of needles(secret)) {
      for (const [file, data] of files) {
        if (data.includes(Buffer.from(n, 'utf8'))) hits.push({ label, file, form: n === secret ? 'plain' : 'base64' });
      }
    }
  }
  return hits;
}
