// The wallet behind the demo page, on @walletd/client's public API only: the keystore (unlocked with the passkey's PRF
// output), the holder key inside it, credentials encrypted into walletd's storage role, and flows through the engine
// over WebSocket or SSE (createTransport falls back by itself).
import {
  type AutoTransport,
  type ConsentRequest,
  CredentialMatcher,
  Keystore,
  SdJwt,
  StorageSyncClient,
  createTransport,
  createWebCryptoSigner,
  generateHolderKey,
  importPrivateJwk,
} from '@walletd/client';
import type { Session } from './passkey.js';

/** /config.json of the demo server. */
export interface DemoConfig {
  /** walletd's base URL (auth, storage and engine roles: `walletd --mode=all`). */
  walletdUrl: string;
  /** Allowed transports in preference order (default: WebSocket, then SSE). */
  transports?: ('websocket' | 'sse')[];
}

/** A credential as the list shows it. */
export interface StoredCredentialView {
  id: string;
  name: string;
  issuer: string;
  format: string;
  receivedAt: string;
  claims: Record<string, unknown>;
}

/** What one storage blob holds (encrypted by the keystore before it leaves the page). */
interface StoredCredential {
  format: string;
  credential: string;
  issuer: string;
  configurationId: string;
  receivedAt: string;
}

const HOLDER_KEY = 'holder_key';
/** Storage ids of credentials (the feed also has the reserved `keystore` blob). */
const CREDENTIAL_PREFIX = 'cred-';
const ES256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** The holder key pair from its private JWK: the private key non-extractable, the public key rebuilt from x/y. */
async function holderKeyFrom(jwk: JsonWebKey): Promise<CryptoKeyPair> {
  const privateKey = await importPrivateJwk(jwk);
  const publicKey = await crypto.subtle.importKey(
    'jwk',
    { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
    ES256,
    true,
    ['verify'],
  );
  return { privateKey, publicKey };
}

function viewOf(id: string, c: StoredCredential): StoredCredentialView {
  let claims: Record<string, unknown> = {};
  try {
    const all = new SdJwt(c.credential).allClaims() as Record<string, unknown>;
    for (const [k, v] of Object.entries(all)) {
      if (!['iss', 'iat', 'exp', 'nbf', 'cnf', 'vct', 'status', '_sd', '_sd_alg'].includes(k)) claims[k] = v;
    }
  } catch {
    claims = {};
  }
  return { id, name: c.configurationId, issuer: c.issuer, format: c.format, receivedAt: c.receivedAt, claims };
}

export class Wallet {
  private readonly creds = new Map<string, StoredCredential>();
  private cursor: string | null = null;
  private transport: AutoTransport | null = null;
  private storage: StorageSyncClient | null = null;

  private constructor(
    readonly config: DemoConfig,
    public session: Session,
    private readonly keystore: Keystore | null,
    private readonly key: CryptoKeyPair | null,
  ) {
    if (keystore) {
      this.storage = new StorageSyncClient({
        storageUrl: config.walletdUrl,
        token: () => this.session.appToken,
        cipher: keystore,
      });
    }
  }

  /** A new keystore for a new account: a fresh holder key inside, wrapped for the passkey's PRF output. */
  static async create(config: DemoConfig, prf: Uint8Array, credentialId?: Uint8Array) {
    const keystore = await Keystore.create(prf, credentialId);
    const pair = await generateHolderKey(true);
    const jwk = await crypto.subtle.exportKey('jwk', pair.privateKey);
    keystore.setSecret(HOLDER_KEY, jwk);
    const keystoreBlob = await keystore.serialise();
    const key = await holderKeyFrom(jwk);
    return { keystoreBlob, open: async (session: Session) => new Wallet(config, session, keystore, key) };
  }

  /** Opens the account's keystore (its private data) with the passkey's PRF output. */
  static async unlock(config: DemoConfig, session: Session, prf: Uint8Array, credentialId?: Uint8Array): Promise<Wallet> {
    const keystore = await Keystore.open(session.privateData, prf, credentialId);
    const jwk = keystore.getSecret(HOLDER_KEY) as JsonWebKey | undefined;
    if (!jwk) throw new Error('the keystore has no holder key');
    return new Wallet(config, session, keystore, await holderKeyFrom(jwk));
  }

  /** A signed-in account whose keystore cannot be opened here. */
  static locked(config: DemoConfig, session: Session): Wallet {
    return new Wallet(config, session, null, null);
  }

  get unlocked(): boolean {
    return this.keystore !== null;
  }

  /** The transport in use (`websocket`, `sse`) or `none` before the first flow. */
  transportName(): string {
    return this.transport?.getActiveTransport() ?? 'none';
  }

  credentials(): StoredCredentialView[] {
    return [...this.creds.entries()].map(([id, c]) => viewOf(id, c)).sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
  }

  /** Reads new and changed credentials from the storage feed (decrypting them). */
  async refresh(): Promise<void> {
    if (!this.storage) return;
    const page = await this.storage.pull(this.cursor);
    if (page.reset_required) {
      this.creds.clear();
      this.cursor = null;
      return this.refresh();
    }
    for (const c of page.changes) {
      // The feed also carries the reserved `keystore` blob (the private data), which is not a credential.
      if (!c.id.startsWith(CREDENTIAL_PREFIX)) continue;
      if (c.deleted || !c.data) this.creds.delete(c.id);
      else this.creds.set(c.id, JSON.parse(dec.decode(c.data)) as StoredCredential);
    }
    this.cursor = page.cursor;
  }

  private async refreshToken(): Promise<string> {
    if (!this.session.refreshToken) throw new Error('no refresh token: log in again');
    const r = await fetch(`${this.config.walletdUrl}/user/token/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: this.session.refreshToken }),
    });
    if (!r.ok) throw new Error(`token refresh: HTTP ${r.status}`);
    const body = (await r.json()) as { appToken: string; refreshToken?: string };
    this.session = { ...this.session, appToken: body.appToken, refreshToken: body.refreshToken ?? this.session.refreshToken };
    return body.appToken;
  }

  private flows(onStep: (step: string) => void): AutoTransport {
    if (!this.key) throw new Error('the keystore is locked');
    if (!this.transport) {
      this.transport = createTransport(
        { engineUrl: this.config.walletdUrl, transports: this.config.transports ?? ['websocket', 'sse'] },
        {
          token: () => this.session.appToken,
          refreshToken: () => this.refreshToken(),
          signer: createWebCryptoSigner({ key: this.key, credential: (id) => this.creds.get(id)?.credential }),
          onSwitch: (from, to, reason) => onStep(`transport ${from ?? 'none'} -> ${to} (${reason})`),
        },
      );
      this.transport.onProgress((e) => this.progress?.(e.stage));
    }
    this.progress = onStep;
    return this.transport;
  }

  private progress: ((step: string) => void) | undefined;

  /** Runs an OID4VCI flow for `offer` and stores the credential(s) encrypted. Returns the first one. */
  async acceptOffer(offer: string, onStep: (step: string) => void): Promise<StoredCredentialView> {
    const out = await this.flows(onStep).runIssuance(offer, {
      // A pre-authorized offer with a transaction code: ask the user (the issuer sent it by another channel).
      onTxCode: async (p) => {
        const what = p.txCode.description ?? 'the transaction code from the issuer';
        const length = p.txCode.length ? ` (${p.txCode.length} characters)` : '';
        return window.prompt(`Enter ${what}${length}`)?.trim() || null;
      },
    });
    if (out.status !== 'complete') throw new Error('the issuer wants a browser authorization, which this demo does not do');
    const f = out.frame as unknown as {
      credentials?: { format: string; credential: string }[];
      credential_issuer?: string;
      selected_credential_configuration_id?: string;
    };
    const views: StoredCredentialView[] = [];
    for (const c of f.credentials ?? []) {
      const id = `${CREDENTIAL_PREFIX}${crypto.randomUUID()}`;
      const stored: StoredCredential = {
        format: c.format,
        credential: c.credential,
        issuer: f.credential_issuer ?? '',
        configurationId: f.selected_credential_configuration_id ?? c.format,
        receivedAt: new Date().toISOString(),
      };
      await this.storage!.put(id, enc.encode(JSON.stringify(stored)), null, 'application/octet-stream');
      this.creds.set(id, stored);
      views.push(viewOf(id, stored));
    }
    if (!views[0]) throw new Error('the issuer sent no credential');
    return views[0];
  }

  /**
   * Runs an OID4VP flow for `request`; the matcher picks what satisfies the query and `ask` shows the user what
   * would be disclosed. Returns false when the user declined.
   */
  async present(
    request: string,
    onStep: (step: string) => void,
    ask: (verifier: string, claims: string[]) => Promise<boolean>,
  ): Promise<boolean> {
    let declined = false;
    const onConsent = async (req: ConsentRequest) => {
      const matcher = new CredentialMatcher(
        [...this.creds.entries()].map(([id, c]) => ({ id, format: c.format, credential: c.credential })),
      );
      const found = matcher.match({ dcql_query: req.dcqlQuery, presentation_definition: req.presentationDefinition });
      if (!found) throw new Error('no credential in this wallet satisfies the request');
      const v = req.verifier ?? {};
      const verifier = String(v.name ?? v.client_id ?? v.id ?? 'the verifier');
      const claims = found.flatMap((m) => m.disclosed_claims.map((c) => `${c} (from ${this.creds.get(m.credential_id)?.configurationId ?? m.credential_id})`));
      if (!(await ask(verifier, claims))) {
        declined = true;
        return null;
      }
      return CredentialMatcher.toSelection(found);
    };
    try {
      await this.flows(onStep).runPresentation(request, { onConsent });
    } catch (e) {
      if (declined) return false;
      throw e;
    }
    return true;
  }

  /** Ends the session: closes the engine connection and revokes the session at walletd (`/auth/logout`). */
  async close(): Promise<void> {
    await this.transport?.disconnect();
    this.transport = null;
    if (!this.session.refreshToken) return;
    const r = await fetch(`${this.config.walletdUrl}/auth/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: this.session.refreshToken }),
    });
    if (!r.ok) throw new Error(`logout: HTTP ${r.status} ${await r.text()}`);
  }
}
