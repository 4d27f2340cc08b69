// The demo web wallet: plain DOM, one page. Everything protocol-related goes through @walletd/client (wallet.ts);
// this file only wires the buttons, shows state and asks the user for consent.
import { AuthError, logIn, signUp } from './passkey.js';
import { type DemoConfig, Wallet, type StoredCredentialView } from './wallet.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

function log(text: string, error = false): void {
  const li = document.createElement('li');
  li.textContent = `${new Date().toISOString().slice(11, 19)} ${text}`;
  if (error) li.className = 'error';
  $('log').append(li);
  li.scrollIntoView({ block: 'nearest' });
}

/** Shows the outcome of an action; the page is brought up to date first, so what the status says is on screen. */
function status(text: string, error = false): void {
  render();
  const s = $('status');
  s.textContent = text;
  s.classList.toggle('error', error);
  if (error) log(text, true);
}

let wallet: Wallet | null = null;

function render(): void {
  $('signed-out').hidden = wallet !== null;
  $('signed-in').hidden = wallet === null;
  if (!wallet) return;
  $('user-name').textContent = wallet.session.displayName;
  $('keystore-state').textContent = wallet.unlocked ? 'unlocked' : 'locked';
  $('transport').textContent = wallet.transportName();
  const list = $('credentials');
  list.replaceChildren();
  const creds = wallet.credentials();
  $('credential-count').textContent = String(creds.length);
  for (const c of creds) list.append(credentialItem(c));
}

function credentialItem(c: StoredCredentialView): HTMLLIElement {
  const li = document.createElement('li');
  li.dataset.credentialId = c.id;
  const title = document.createElement('strong');
  title.textContent = c.name;
  const meta = document.createElement('div');
  meta.textContent = `${c.issuer} · ${c.format} · received ${c.receivedAt}`;
  const claims = document.createElement('div');
  claims.className = 'claims';
  claims.textContent = Object.entries(c.claims)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
  li.append(title, meta, claims);
  return li;
}

/** Runs `task` with the button disabled; errors end up in the status line, never as an unhandled rejection. */
function action(button: string, task: () => Promise<void>): void {
  const b = $<HTMLButtonElement>(button);
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await task();
    } catch (e) {
      const message = e instanceof AuthError || e instanceof Error ? e.message : String(e);
      status(message, true);
    } finally {
      b.disabled = false;
      render();
    }
  });
}

/** Shows the consent box; resolves with true (share) or false (decline). */
function askConsent(verifier: string, claims: string[]): Promise<boolean> {
  $('consent-verifier').textContent = verifier;
  const ul = $('consent-claims');
  ul.replaceChildren(
    ...claims.map((c) => {
      const li = document.createElement('li');
      li.textContent = c;
      return li;
    }),
  );
  $('consent').hidden = false;
  return new Promise((resolve) => {
    const done = (answer: boolean) => {
      $('consent').hidden = true;
      $('consent-share').onclick = null;
      $('consent-decline').onclick = null;
      resolve(answer);
    };
    $('consent-share').onclick = () => done(true);
    $('consent-decline').onclick = () => done(false);
  });
}

async function main(): Promise<void> {
  const config = (await (await fetch('config.json')).json()) as DemoConfig;
  const url = config.walletdUrl;

  action('sign-up', async () => {
    status('Creating a passkey…');
    const name = $<HTMLInputElement>('display-name').value.trim() || 'Demo user';
    let created: Awaited<ReturnType<typeof Wallet.create>> | null = null;
    const r = await signUp(url, name, async (prf, credentialId) => {
      created = await Wallet.create(config, prf, credentialId);
      return created.keystoreBlob;
    });
    wallet = await created!.open(r.session);
    await wallet.refresh();
    log('signed up with a passkey (PRF)');
    status(`Account created for ${r.session.displayName}; keystore unlocked.`);
  });

  action('log-in', async () => {
    status('Waiting for your passkey…');
    const r = await logIn(url);
    if (!r.prf) {
      wallet = Wallet.locked(config, r.session);
      status('Logged in, but this passkey gave no PRF output: the keystore stays locked.', true);
      return;
    }
    wallet = await Wallet.unlock(config, r.session, r.prf, r.credentialId);
    await wallet.refresh();
    log('logged in with a passkey (PRF)');
    status(`Logged in as ${r.session.displayName}; keystore unlocked.`);
  });

  action('log-out', async () => {
    const w = wallet;
    wallet = null;
    await w?.close();
    status('Logged out; walletd revoked the session.');
  });

  action('accept-offer', async () => {
    if (!wallet) return;
    const offer = $<HTMLInputElement>('offer').value.trim();
    if (!offer) throw new Error('Paste a credential offer first.');
    status('Receiving the credential…');
    const c = await wallet.acceptOffer(offer, (step) => log(`issuance: ${step}`));
    $<HTMLInputElement>('offer').value = '';
    status(`Received ${c.name} from ${c.issuer}.`);
  });

  action('present', async () => {
    if (!wallet) return;
    const request = $<HTMLInputElement>('request').value.trim();
    if (!request) throw new Error('Paste a presentation request first.');
    status('Presenting…');
    const shared = await wallet.present(request, (step) => log(`presentation: ${step}`), askConsent);
    $<HTMLInputElement>('request').value = '';
    status(shared ? 'Presented to the verifier.' : 'Declined.');
  });

  status('Ready. Create an account or log in.');
  render();
}

main().catch((e) => status(`The demo could not start: ${e instanceof Error ? e.message : String(e)}`, true));
