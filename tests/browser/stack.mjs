// The stack the demo web wallet runs against, on loopback only: a real `walletd --mode=all` (SQLite in a temp dir,
// free ports), the independent Node issuer and verifier of tests/interop, and the demo's static server on
// http://localhost:<port> (a WebAuthn-capable secure origin with rp id `localhost`). Used by the browser test
// (demo.test.mjs) and by `npm run demo` (run-demo.mjs).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { serveDemo } from '../../clients/typescript/examples/demo/serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../..');
export const demoDist = path.join(repoRoot, 'clients/typescript/examples/demo/dist');

/// The walletd binary: $WALLETD_BIN, else target/debug/walletd of this checkout.
export function walletdBin() {
  const bin = process.env.WALLETD_BIN || path.join(repoRoot, 'target/debug/walletd');
  if (!fs.existsSync(bin)) throw new Error(`no walletd binary at ${bin}: run \`cargo build -p walletd\` or set WALLETD_BIN`);
  return bin;
}

/// Starts `cmd args`, resolves with the child and the first stdout JSON line `pick` accepts (its result), or rejects
/// with the output after `timeoutMs` or when the process exits first. Every line is kept in `logs`.
function startProcess(cmd, args, { env = process.env, cwd, pick, timeoutMs, name }) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const logs = [];
    let done = false;
    const finish = (err, value) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        child.kill('SIGKILL');
        reject(new Error(`${name}: ${err}\n${logs.slice(-40).join('\n')}`));
      } else resolve({ child, logs, value });
    };
    const timer = setTimeout(() => finish(`did not start within ${timeoutMs} ms`), timeoutMs);
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      logs.push(line);
      try {
        const v = pick(JSON.parse(line));
        if (v !== undefined) finish(null, v);
      } catch {
        // not JSON: a plain log line
      }
    });
    readline.createInterface({ input: child.stderr }).on('line', (line) => logs.push(line));
    child.on('error', (e) => finish(e.message));
    child.on('exit', (code, signal) => finish(`exited (${code ?? signal}) before it started`));
  });
}

/// A Node peer of tests/interop (`node issuer.mjs 0` / `node verifier.mjs 0`): its base URL.
async function startPeer(script, env = {}) {
  const dir = path.join(repoRoot, 'tests/interop');
  if (!fs.existsSync(path.join(dir, 'node_modules'))) throw new Error('run `npm ci` in tests/interop first');
  return startProcess('node', [script, '0'], { cwd: dir, env: { ...process.env, ...env }, pick: (v) => v.url, timeoutMs: 30_000, name: script });
}

/// walletd's configuration for the stack: every role on SQLite, the demo's origin allowed for CORS, the WebSocket
/// upgrade and WebAuthn (rp id `localhost`), plain http to the loopback peers (development only).
export function walletdConfig({ dataDir, demoOrigin, httpPort = 0, extra = '' }) {
  const origins = JSON.stringify([demoOrigin]);
  return [
    `data_dir: ${JSON.stringify(dataDir)}`,
    'database:',
    `  url: ${JSON.stringify(`sqlite://${path.join(dataDir, 'walletd.db')}`)}`,
    'server:',
    `  http_port: ${httpPort}`,
    '  ws_port: ~',
    '  admin_port: ~',
    '  listen: 127.0.0.1',
    `  cors_origins: ${origins}`,
    'webauthn:',
    '  rp_id: localhost',
    `  rp_origins: ${origins}`,
    'egress:',
    '  allow_http: true',
    '  allowed_cidrs: ["127.0.0.1/32", "::1/128"]',
    'engine:',
    '  outbound_timeout: 5s',
    'logging:',
    '  format: json',
    extra,
  ].join('\n');
}

/// Starts the whole stack. `demoPort` 0 picks a free port. Returns the URLs, the SQLite path and `stop()`.
export async function startStack({ demoPort = 0, walletdPort = 0, extraConfig = '' } = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'walletd-browser-'));
  const stoppers = [];
  const stop = async () => {
    for (const s of stoppers.reverse()) {
      try {
        await s();
      } catch {
        // best effort
      }
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const demo = await serveDemo({ dir: demoDist, port: demoPort });
    stoppers.push(() => demo.close());
    const demoOrigin = `http://localhost:${demo.port}`;
    const configPath = path.join(dataDir, 'walletd.yaml');
    fs.writeFileSync(configPath, walletdConfig({ dataDir, demoOrigin, httpPort: walletdPort, extra: extraConfig }));
    // Only the file configures walletd: no inherited WALLET_* overrides, no RUST_LOG filter.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WALLET_') && k !== 'RUST_LOG'));
    const w = await startProcess(walletdBin(), ['--mode=all', '--config', configPath], {
      cwd: dataDir,
      env,
      pick: (v) => (v.message === 'started' ? v.http : undefined),
      timeoutMs: 60_000,
      name: 'walletd',
    });
    stoppers.push(() => killAndWait(w.child));
    const walletdUrl = `http://${w.value}`;
    const [issuer, verifier] = await Promise.all([startPeer('issuer.mjs'), startPeer('verifier.mjs')]);
    stoppers.push(() => killAndWait(issuer.child), () => killAndWait(verifier.child));
    demo.setConfig({ walletdUrl });
    return {
      demoOrigin,
      walletdUrl,
      issuerUrl: issuer.value,
      verifierUrl: verifier.value,
      dbPath: path.join(dataDir, 'walletd.db'),
      dataDir,
      walletdLogs: w.logs,
      /// Stops walletd (SIGTERM, then SIGKILL after 5 s) so its SQLite files are complete on disk.
      stopWalletd: () => killAndWait(w.child),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

function killAndWait(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, 5000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function postJson(url, body) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return r.json();
}

/// A fresh pre-authorized offer of the interop issuer: `{offer (openid-credential-offer:// URI), ...}`.
export const newOffer = (issuerUrl, opts = {}) => postJson(`${issuerUrl}/test/offer`, { grant: 'pre', ...opts });
/// A fresh DCQL request of the interop verifier for the interop PID: `{id, url (openid4vp:// URI), ...}`.
export const newRequest = (verifierUrl, issuerUrl, claims = ['given_name']) =>
  postJson(`${verifierUrl}/test/request`, { vct: `${issuerUrl}/vct/pid`, claims });
/// The verifier's verdict for a request id: `{verified, disclosed, ...}`.
export const requestResult = async (verifierUrl, id) => (await fetch(`${verifierUrl}/result/${id}`)).json();
