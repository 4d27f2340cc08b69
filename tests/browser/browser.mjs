// Headless Debian Chromium through playwright-core (never a browser download) and the demo wallet in it, each tab
// with Chromium's own virtual authenticator (CDP WebAuthn domain: CTAP 2.1, resident keys, user verification, PRF).
import fs from 'node:fs';
import { chromium } from 'playwright-core';

/// The Chromium binary: $CHROMIUM_PATH, else Debian's /usr/bin/chromium.
export function chromiumPath() {
  const p = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!fs.existsSync(p)) throw new Error(`no Chromium at ${p}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  return p;
}

export function launch() {
  return chromium.launch({ executablePath: chromiumPath(), headless: true, timeout: 30_000 });
}

/// A tab of the demo in `context` with its own virtual authenticator. `credential` (from `passkeys()` of another
/// tab) is put on the authenticator first: a copy of a passkey (Chromium's CDP export does not carry its PRF key,
/// so a copied passkey logs in without PRF output). `blockWebSocket` makes every WebSocket to walletd's API v2
/// fail at once (closed by the network before the handshake), so the demo must fall back to SSE.
export async function openWallet(context, origin, { credential, blockWebSocket = false } = {}) {
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  // Uncaught exceptions of the page (a failed WebSocket in the SSE case is a console message, not one of these).
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  if (blockWebSocket) await blockWs(page);
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      ctap2Version: 'ctap2_1',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      hasPrf: true,
      automaticPresenceSimulation: true,
    },
  });
  if (credential) await cdp.send('WebAuthn.addCredential', { authenticatorId, credential });
  await page.goto(origin);
  await page.locator('#status', { hasText: 'Ready' }).waitFor();
  return {
    page,
    errors,
    passkeys: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
    /// Drops the origin's storage and reloads: a fresh page state, the same authenticator.
    reloadFresh: async () => {
      await cdp.send('Storage.clearDataForOrigin', { origin, storageTypes: 'all' });
      await page.reload();
      await page.locator('#status', { hasText: 'Ready' }).waitFor();
    },
    blockWebSocket: () => blockWs(page),
  };
}

/// Every WebSocket to /api/v2/wallet is closed before it reaches walletd.
async function blockWs(page) {
  await page.routeWebSocket(/\/api\/v2\/wallet/, (ws) => ws.close({ code: 1011, reason: 'blocked by the test' }));
}

/// The status line once it matches `re` (the demo writes every outcome there); fails at once when the demo shows
/// an error instead.
export async function statusMatching(page, re, timeout = 60_000) {
  const handle = await page.waitForFunction(
    ([source, flags]) => {
      const s = document.getElementById('status');
      if (s.classList.contains('error')) return { error: s.textContent };
      return new RegExp(source, flags).test(s.textContent) ? { text: s.textContent } : null;
    },
    [re.source, re.flags],
    { timeout, polling: 100 },
  );
  const v = await handle.jsonValue();
  if (v.error) throw new Error(`the demo reported: ${v.error}`);
  return v.text;
}
