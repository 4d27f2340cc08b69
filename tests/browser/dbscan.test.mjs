import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findSecrets, needles } from './dbscan.mjs';

test('a secret is found plain and inside base64 / base64url text at any alignment', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbscan-'));
  const db = path.join(dir, 'x.db');
  const secret = 'Mustermann-Erika';
  for (const [prefix, alphabet] of [['', 'base64'], ['a', 'base64url'], ['ab', 'base64'], ['abc', 'base64url']]) {
    fs.writeFileSync(db, Buffer.concat([Buffer.from('junk'), Buffer.from(Buffer.from(`${prefix}${secret}!`).toString(alphabet))]));
    assert.equal(findSecrets(db, { s: secret }).length > 0, true, `prefix ${prefix.length} ${alphabet}`);
  }
  fs.writeFileSync(`${db}-wal`, secret);
  fs.writeFileSync(db, 'nothing here');
  assert.deepEqual(findSecrets(db, { s: secret }).map((h) => [h.file.endsWith('-wal'), h.form]), [[true, 'plain']]);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('unrelated bytes are not reported', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbscan-'));
  const db = path.join(dir, 'x.db');
  fs.writeFileSync(db, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
  assert.deepEqual(findSecrets(db, { s: 'Mustermann' }), []);
  assert.ok(needles('Mustermann').length >= 4);
  assert.throws(() => findSecrets(db, { s: 'abcd' }), /too short/);
  assert.ok(needles('Erika').length >= 2, 'a five-letter claim value is searched in base64 too');
  fs.rmSync(dir, { recursive: true, force: true });
});
