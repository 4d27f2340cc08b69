// The demo web wallet (clients/typescript/examples/demo) in headless Debian Chromium against a real
// `walletd --mode=all` on SQLite and the independent interop issuer and verifier (tests/interop), all on loopback.
// Passkeys are Chromium's virtual authenticator with PRF (CDP WebAuthn domain). Needs: `cargo build -p walletd`,
// `npm ci` in tests/interop, in this directory and in the demo (built with `npm run build` there), and chromium.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openWallet, statusMatching } from './browser.mjs';
import { findSecrets } from './dbscan.mjs';
import { newOffer, newRequest, requestResult, startStack } from './stack.mjs';

let stack;
let browser;

before(async () => {
  stack = await startStack();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

/// Records what the page exchanged with walletd over WebSockets: the credentials the engine delivered
/// (`flow_complete`) and the holder public keys of the proofs the page signed (keystore content).
function recordFrames(page, seen) {
  page.on('websocket', (ws) => {
    if (!ws.url().includes('/api/v2/wallet')) return;
    seen.sockets += 1;
    ws.on('framereceived', ({ payload }) => {
      const f = parse(payload);
      if (f?.type === 'flow_complete') for (const c of f.credentials ?? []) seen.credentials.push(c.credential);
    });
    ws.on('framesent', ({ payload }) => {
      const f = parse(payload);
      for (const p of f?.type === 'sign_response' ? (f.proofs ?? []) : []) {
        const header = parse(Buffer.from(String(p.jwt ?? '').split('.')[0], 'base64url').toString());
        if (header?.jwk?.x) seen.holderKeys.push(header.jwk.x);
      }
    });
  });
}

function parse(text) {
  try {
    return JSON.parse(typeof text === 'string' ? text : text.toString());
  } catch {
    return null;
  }
}

async function signUp(page, name) {
  await page.fill('#display-name', name);
  await page.click('#sign-up');
  await statusMatching(page, /Account created/);
  assert.equal(await page.textContent('#keystore-state'), 'unlocked');
}

async function logIn(page) {
  await page.click('#log-in');
  await statusMatching(page, /Logged in as/);
  assert.equal(await page.textContent('#keystore-state'), 'unlocked');
}

async function postRequest(opts) {
  const r = await fetch(`${stack.verifierUrl}/test/request`, { method: 'POST', body: JSON.stringify(opts) });
  return r.json();
}

async function credentialCount(page) {
  return Number(await page.textContent('#credential-count'));
}

/// Pastes a fresh offer of the interop issuer and waits for the credential.
async function receive(page) {
  const before = await credentialCount(page);
  const { offer } = await newOffer(stack.issuerUrl);
  await page.fill('#offer', offer);
  await page.click('#accept-offer');
  await statusMatching(page, /Received/);
  assert.equal(await credentialCount(page), before + 1);
  assert.match(await page.textContent('#credentials'), /given_name: Erika/);
}

/// Pastes a fresh request of the interop verifier, consents, and checks the verifier's verdict.
async function present(page) {
  const req = await newRequest(stack.verifierUrl, stack.issuerUrl);
  await page.fill('#request', req.url);
  await page.click('#present');
  await page.locator('#consent').waitFor({ state: 'visible' });
  assert.match(await page.textContent('#consent-claims'), /given_name/);
  await page.click('#consent-share');
  await statusMatching(page, /Presented/);
  const result = await requestResult(stack.verifierUrl, req.id);
  assert.equal(result.verified, true, JSON.stringify(result));
  assert.deepEqual(result.disclosed, ['given_name']);
}

test('the demo wallet against walletd --mode=all in Chromium', { timeout: 540_000 }, async (t) => {
  const context = await browser.newContext();
  const seen = { sockets: 0, credentials: [], holderKeys: [] };
  const a = await openWallet(context, stack.demoOrigin);
  recordFrames(a.page, seen);

  await t.test('sign-up with a passkey (PRF) creates the account and its encrypted keystore', async () => {
    await signUp(a.page, 'Demo Holder');
  });

  await t.test('issuance and presentation over WebSocket', async () => {
    await receive(a.page);
    assert.equal(await a.page.textContent('#transport'), 'websocket');
    await present(a.page);
    assert.ok(seen.sockets >= 1 && seen.credentials.length === 1, JSON.stringify(seen));
  });

  await t.test('an offer with a transaction code asks the user for it', async () => {
    const { offer, tx_code_value: code } = await newOffer(stack.issuerUrl, { tx_code: true });
    assert.ok(code, 'the issuer made a transaction code');
    const asked = [];
    a.page.once('dialog', async (d) => {
      asked.push(d.message());
      await d.accept(code);
    });
    await a.page.fill('#offer', offer);
    await a.page.click('#accept-offer');
    await statusMatching(a.page, /Received/);
    assert.match(asked[0] ?? '', /Code sent by mail/);
    assert.equal(await credentialCount(a.page), 2);
  });

  await t.test('a broken offer, a declined request and an unsatisfiable request share nothing and say why', async () => {
    await a.page.fill('#offer', 'openid-credential-offer://?credential_offer=%7Bnot-json');
    await a.page.click('#accept-offer');
    await a.page.locator('#status.error').waitFor();
    assert.match(await a.page.textContent('#status'), /offer/i);
    const req = await newRequest(stack.verifierUrl, stack.issuerUrl);
    await a.page.fill('#request', req.url);
    await a.page.click('#present');
    await a.page.locator('#consent').waitFor({ state: 'visible' });
    await a.page.click('#consent-decline');
    await statusMatching(a.page, /Declined/);
    const result = await requestResult(stack.verifierUrl, req.id);
    assert.equal(result.verified, false, JSON.stringify(result));
    assert.deepEqual(result.disclosed ?? [], []);
    assert.equal(await credentialCount(a.page), 2);
    // A request no credential of the wallet satisfies: a clear message, nothing reaches the verifier.
    const other = await postRequest({ vct: 'https://other.example/vct/none', claims: ['given_name'] });
    await a.page.fill('#request', other.url);
    await a.page.click('#present');
    await a.page.locator('#status.error').waitFor();
    assert.match(await a.page.textContent('#status'), /no credential in this wallet/);
    assert.equal((await requestResult(stack.verifierUrl, other.id)).verified, false);
  });

  await t.test('login in a fresh browser context with a copy of the passkey', async () => {
    const fresh = await browser.newContext();
    try {
      const [credential] = await a.passkeys();
      const b = await openWallet(fresh, stack.demoOrigin, { credential });
      await b.page.click('#log-in');
      // walletd accepts the passkey; Chromium's CDP copy carries no PRF key, so the keystore stays locked.
      await b.page.locator('#status', { hasText: 'Logged in' }).waitFor();
      assert.equal(await b.page.textContent('#user-name'), 'Demo Holder');
      assert.equal(await b.page.textContent('#keystore-state'), 'locked');
      assert.match(await b.page.textContent('#status'), /no PRF output/);
      assert.deepEqual(b.errors, []);
    } finally {
      await fresh.close();
    }
  });

  await t.test('a fresh page state with the same passkey unlocks the keystore and restores the credentials', async () => {
    await a.reloadFresh();
    await logIn(a.page);
    assert.equal(await credentialCount(a.page), 2);
    assert.match(await a.page.textContent('#credentials'), /family_name: Mustermann/);
  });

  await t.test('a second tab (its own passkey and account) runs flows at the same time as the first', async () => {
    const b = await openWallet(context, stack.demoOrigin);
    const registered = b.page.waitForResponse((r) => r.url().endsWith('/user/register-webauthn-finish'));
    await signUp(b.page, 'Second Tab');
    const { appToken } = await (await registered).json();
    await Promise.all([receive(a.page), receive(b.page)]);
    await Promise.all([present(a.page), present(b.page)]);
    assert.equal(await credentialCount(b.page), 1);
    assert.equal(await credentialCount(a.page), 3);
    // Logging out revokes the session at walletd: the tab's access token is refused from then on.
    const info = () => fetch(`${stack.walletdUrl}/user/session/account-info`, { headers: { authorization: `Bearer ${appToken}` } });
    assert.equal((await info()).status, 200);
    await b.page.click('#log-out');
    await statusMatching(b.page, /Logged out/);
    assert.equal((await info()).status, 401);
    assert.deepEqual(b.errors, []);
  });

  await t.test('with WebSockets blocked the SSE transport takes over', async () => {
    const sse = [];
    a.page.on('request', (r) => {
      if (r.url().includes('/api/v2/wallet/sse')) sse.push(new URL(r.url()).pathname);
    });
    await a.blockWebSocket();
    await a.reloadFresh();
    await logIn(a.page);
    await receive(a.page);
    assert.equal(await a.page.textContent('#transport'), 'sse');
    // The demo tried the WebSocket first and switched (createTransport's fallback, shown in the activity log).
    assert.match(await a.page.textContent('#log'), /transport none -> sse \(websocket could not connect\)/);
    await present(a.page);
    for (const p of ['/api/v2/wallet/sse/session', '/api/v2/wallet/sse', '/api/v2/wallet/sse/message']) {
      assert.ok(sse.includes(p), `the page called ${p}: ${JSON.stringify([...new Set(sse)])}`);
    }
  });

  await t.test('the database holds no plaintext credential or keystore content', async () => {
    assert.deepEqual(a.errors, [], 'no uncaught exception in the first tab');
    await context.close();
    await stack.stopWalletd();
    // Control: plaintext the server does store is found, so the scan reads the right files.
    assert.ok(findSecrets(stack.dbPath, { name: 'Demo Holder' }).length > 0, 'the display name is in the database');
    const secrets = { given_name: 'Erika', family_name: 'Mustermann' };
    seen.credentials.forEach((sdjwt, i) => {
      secrets[`sd-jwt ${i}`] = sdjwt;
      sdjwt.split('~').filter((p) => p.length >= 16).forEach((part, j) => (secrets[`sd-jwt ${i} part ${j}`] = part));
    });
    seen.holderKeys.forEach((x, i) => (secrets[`holder key ${i}`] = x));
    assert.ok(seen.credentials.length > 0 && seen.holderKeys.length > 0, 'frames were recorded');
    assert.deepEqual(findSecrets(stack.dbPath, secrets), []);
  });
});
