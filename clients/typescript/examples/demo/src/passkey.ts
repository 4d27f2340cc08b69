// Passkey sign-up and login against walletd's auth role (the web client's compat routes `/user/*-webauthn-*`,
// docs/api-v1.md "Auth role"), with the WebAuthn PRF extension. The PRF output never leaves the page: it is not sent
// to walletd (only `prf.enabled` is), it only derives the keystore key.

/** What walletd answers after a sign-up or login (the compat session body, binaries decoded). */
export interface Session {
  uuid: string;
  appToken: string;
  refreshToken?: string;
  displayName: string;
  tenantId: string;
  /** The keystore blob exactly as stored (encrypted by the client). Empty for an account without one. */
  privateData: Uint8Array;
  /** `X-Private-Data-ETag` of that blob (for a later conditional write). */
  privateDataEtag: string | null;
}

/** A passkey ceremony's result: the session and the PRF output of the passkey (`null`: the passkey has no PRF). */
export interface PasskeyResult {
  session: Session;
  prf: Uint8Array | null;
  /** The passkey's credential id (the keystore tries its wrapper first). */
  credentialId: Uint8Array;
}

/**
 * The PRF input of the demo. One fixed value per application is enough: the PRF output is a secret of the passkey;
 * the keystore derives its key from it with HKDF and a random salt it stores beside the ciphertext.
 */
const PRF_INPUT = new TextEncoder().encode('walletd demo keystore v1');

export class AuthError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

const b64u = (bytes: ArrayBuffer | Uint8Array): string => {
  const u = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let s = '';
  for (const b of u) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};

const fromB64u = (s: string): Uint8Array<ArrayBuffer> => {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
};

/** A binary of the compat API: `{"$b64u": "..."}` or a plain base64url string. */
const binary = (v: unknown): Uint8Array<ArrayBuffer> => {
  if (typeof v === 'string') return fromB64u(v);
  if (v && typeof v === 'object' && typeof (v as { $b64u?: unknown }).$b64u === 'string') {
    return fromB64u((v as { $b64u: string }).$b64u);
  }
  throw new AuthError('walletd sent a binary value in an unknown form', 0);
};

async function post(base: string, route: string, body: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(`${base}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    // not JSON: the status says enough
  }
  if (!r.ok) {
    const code = typeof json.error === 'string' ? json.error : undefined;
    const message = typeof json.message === 'string' ? json.message : `HTTP ${r.status}`;
    throw new AuthError(`${route}: ${message}`, r.status, code);
  }
  return { json, headers: r.headers };
}

function sessionOf(json: Record<string, unknown>, headers: Headers): Session {
  return {
    uuid: String(json.uuid),
    appToken: String(json.appToken),
    refreshToken: typeof json.refreshToken === 'string' ? json.refreshToken : undefined,
    displayName: String(json.displayName ?? ''),
    tenantId: String(json.tenantId ?? 'default'),
    privateData: json.privateData ? binary(json.privateData) : new Uint8Array(),
    privateDataEtag: headers.get('x-private-data-etag'),
  };
}

function prfOf(cred: PublicKeyCredential): Uint8Array | null {
  const first = (cred.getClientExtensionResults() as { prf?: { results?: { first?: BufferSource } } }).prf?.results
    ?.first;
  if (!first) return null;
  return first instanceof ArrayBuffer ? new Uint8Array(first) : new Uint8Array((first as ArrayBufferView).buffer);
}

/**
 * Creates a passkey and an account. `keystoreFor(prf)` builds the encrypted keystore blob from the PRF output; it is
 * sent as the account's private data in the same request, so an account never exists without its keystore.
 */
export async function signUp(
  walletdUrl: string,
  displayName: string,
  keystoreFor: (prf: Uint8Array, credentialId: Uint8Array) => Promise<Uint8Array>,
): Promise<PasskeyResult> {
  const begin = await post(walletdUrl, '/user/register-webauthn-begin', { displayName });
  const pk = (begin.json.createOptions as { publicKey: Record<string, unknown> }).publicKey;
  const user = pk.user as Record<string, unknown>;
  const options = {
    ...(pk as object),
    challenge: binary(pk.challenge),
    user: { ...(user as object), id: binary(user.id) } as unknown as PublicKeyCredentialUserEntity,
    excludeCredentials: ((pk.excludeCredentials as Record<string, unknown>[] | undefined) ?? []).map((c) => ({
      type: 'public-key' as const,
      id: binary(c.id),
    })),
    extensions: { credProps: true, prf: { eval: { first: PRF_INPUT } } } as AuthenticationExtensionsClientInputs,
  } as unknown as PublicKeyCredentialCreationOptions;
  const cred = (await navigator.credentials.create({ publicKey: options })) as PublicKeyCredential | null;
  if (!cred) throw new AuthError('the passkey was not created', 0);
  let prf = prfOf(cred);
  const rpId = (pk.rp as { id?: string } | undefined)?.id ?? location.hostname;
  if (!prf) {
    // Some authenticators give PRF output only on an assertion: ask once, locally (walletd does not see it).
    const a = (await navigator.credentials.get({
      publicKey: {
        challenge: crypto.getRandomValues(new Uint8Array(32)),
        rpId,
        allowCredentials: [{ type: 'public-key', id: cred.rawId }],
        userVerification: 'required',
        extensions: { prf: { eval: { first: PRF_INPUT } } } as AuthenticationExtensionsClientInputs,
      },
    })) as PublicKeyCredential | null;
    prf = a ? prfOf(a) : null;
  }
  if (!prf) throw new AuthError('this passkey has no PRF support: the keystore cannot be protected with it', 0, 'no_prf');
  const blob = await keystoreFor(prf, new Uint8Array(cred.rawId));
  const att = cred.response as AuthenticatorAttestationResponse;
  const ext = cred.getClientExtensionResults() as { credProps?: unknown };
  const credential = {
    id: cred.id,
    rawId: b64u(cred.rawId),
    type: cred.type,
    response: {
      attestationObject: b64u(att.attestationObject),
      clientDataJSON: b64u(att.clientDataJSON),
      transports: att.getTransports?.() ?? [],
    },
    // Only that PRF works, never its output.
    clientExtensionResults: { credProps: ext.credProps ?? {}, prf: { enabled: true } },
  };
  const finish = await post(walletdUrl, '/user/register-webauthn-finish', {
    challengeId: begin.json.challengeId,
    credential,
    displayName,
    privateData: { $b64u: b64u(blob) },
  });
  return { session: sessionOf(finish.json, finish.headers), prf, credentialId: new Uint8Array(cred.rawId) };
}

/** Logs in with a discoverable passkey; `prf` is `null` when the passkey gave no PRF output. */
export async function logIn(walletdUrl: string): Promise<PasskeyResult> {
  const begin = await post(walletdUrl, '/user/login-webauthn-begin', {});
  const pk = (begin.json.getOptions as { publicKey: Record<string, unknown> }).publicKey;
  const options = {
    ...(pk as object),
    challenge: binary(pk.challenge),
    allowCredentials: ((pk.allowCredentials as Record<string, unknown>[] | undefined) ?? []).map((c) => ({
      type: 'public-key' as const,
      id: binary(c.id),
    })),
    extensions: { prf: { eval: { first: PRF_INPUT } } } as AuthenticationExtensionsClientInputs,
  } as PublicKeyCredentialRequestOptions;
  const cred = (await navigator.credentials.get({ publicKey: options })) as PublicKeyCredential | null;
  if (!cred) throw new AuthError('no passkey was used', 0);
  const r = cred.response as AuthenticatorAssertionResponse;
  const credential = {
    id: cred.id,
    rawId: b64u(cred.rawId),
    type: cred.type,
    response: {
      authenticatorData: b64u(r.authenticatorData),
      clientDataJSON: b64u(r.clientDataJSON),
      signature: b64u(r.signature),
      userHandle: r.userHandle ? b64u(r.userHandle) : null,
    },
    clientExtensionResults: {},
  };
  const finish = await post(walletdUrl, '/user/login-webauthn-finish', { challengeId: begin.json.challengeId, credential });
  return { session: sessionOf(finish.json, finish.headers), prf: prfOf(cred), credentialId: new Uint8Array(cred.rawId) };
}
