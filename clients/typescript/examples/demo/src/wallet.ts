// TEMPORARY (until @walletd/client's keystore, transports and sync land): the wallet state of the demo.
import type { Session } from './passkey.js';

/** /config.json of the demo server. */
export interface DemoConfig {
  walletdUrl: string;
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

const enc = new TextEncoder();

async function keyFrom(prf: Uint8Array, salt: Uint8Array): Promise<CryptoKey> {
  const ikm = await crypto.subtle.importKey('raw', prf as BufferSource, 'HKDF', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: salt as BufferSource, info: enc.encode('walletd demo keystore') },
    ikm,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

export class Wallet {
  private constructor(
    readonly config: DemoConfig,
    readonly session: Session,
    readonly unlocked: boolean,
  ) {}

  static async create(config: DemoConfig, prf: Uint8Array) {
    const salt = crypto.getRandomValues(new Uint8Array(32));
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const key = await keyFrom(prf, salt);
    const body = new Uint8Array(
      await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, enc.encode(JSON.stringify({ v: 1, created: Date.now() }))),
    );
    const keystoreBlob = new Uint8Array([...salt, ...iv, ...body]);
    return { keystoreBlob, open: async (session: Session) => new Wallet(config, session, true) };
  }

  static async unlock(config: DemoConfig, session: Session, prf: Uint8Array): Promise<Wallet> {
    const blob = session.privateData;
    const key = await keyFrom(prf, blob.slice(0, 32));
    await crypto.subtle.decrypt({ name: 'AES-GCM', iv: blob.slice(12 + 32 - 12, 44) }, key, blob.slice(44));
    return new Wallet(config, session, true);
  }

  static locked(config: DemoConfig, session: Session): Wallet {
    return new Wallet(config, session, false);
  }

  transportName(): string {
    return 'none';
  }

  credentials(): StoredCredentialView[] {
    return [];
  }

  async refresh(): Promise<void> {}

  async acceptOffer(_offer: string, _onStep: (step: string) => void): Promise<StoredCredentialView> {
    throw new Error('not available yet');
  }

  async present(
    _request: string,
    _onStep: (step: string) => void,
    _ask: (verifier: string, claims: string[]) => Promise<boolean>,
  ): Promise<boolean> {
    throw new Error('not available yet');
  }

  async close(): Promise<void> {}
}
