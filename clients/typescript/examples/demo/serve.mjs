// The demo's static server: serves dist/ (the esbuild bundle and index.html) and /config.json (where walletd is) on
// 127.0.0.1. Open it as http://localhost:<port>: browsers treat localhost as a secure context, so WebAuthn works
// with walletd's default relying party (rp id `localhost`), and walletd must list the origin in
// `webauthn.rp_origins` and `server.cors_origins` (its defaults list http://localhost:3000).
//
//   node serve.mjs [--port 3000] [--walletd http://localhost:8080]
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json' };

/// Serves `dir` on 127.0.0.1:`port` (0: a free one). `setConfig` changes what /config.json answers.
export function serveDemo({ dir, port = 0, config = {} }) {
  let current = { ...config };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const headers = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
    if (url.pathname === '/config.json') {
      res.writeHead(200, { ...headers, 'content-type': 'application/json' });
      return res.end(JSON.stringify(current));
    }
    const name = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
    const file = path.join(dir, path.normalize(name));
    if (req.method !== 'GET' || !file.startsWith(dir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { ...headers, 'content-type': 'text/plain' });
      return res.end('not found');
    }
    res.writeHead(200, { ...headers, 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () =>
      resolve({
        port: server.address().port,
        setConfig: (c) => {
          current = { ...current, ...c };
        },
        close: () => new Promise((r) => server.close(() => r())),
      }),
    );
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : fallback;
  };
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dist');
  const s = await serveDemo({ dir, port: Number(arg('--port', 3000)), config: { walletdUrl: arg('--walletd', 'http://localhost:8080') } });
  console.log(JSON.stringify({ url: `http://localhost:${s.port}` }));
}
