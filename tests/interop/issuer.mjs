// Independent OID4VCI issuer for walletd's interop tests. Built on the public @openid4vc/* libraries, @sd-jwt/*
// and jose; it shares no code with walletd. Listens on 127.0.0.1 only.
//
//   node issuer.mjs [port]        (or ISSUER_PORT=...; 0 or nothing picks a free port)
//
// Prints one JSON line {"url": "http://127.0.0.1:<port>"} when listening. Test hooks (not part of OID4VCI):
//   POST /test/offer {grant: "pre"|"auth", tx_code: bool, config_id, by_reference: bool}
//        -> {offer (openid-credential-offer:// URL), offer_json, tx_code_value?}
//   GET  /test/notifications -> every notification the issuer received
//   GET  /.well-known/jwt-vc-issuer -> {issuer, jwks} (SD-JWT VC issuer key, for the holder's verification)
//   GET  /test/token_requests -> how each token/PAR request authenticated the client (never the secrets themselves)
//   GET  /test/encryptions -> the `enc` of every encrypted response sent
//   POST /test/revoke_refresh_tokens -> forgets every refresh token issued so far
//   GET  /test/request_log -> with the option request_log: true, [{method, path, arrived_ms, answered_ms}] of every
//        non-test request in arrival order (milliseconds on this process's monotonic clock); else []
//
// Options (ISSUER_OPTIONS, a JSON object):
//   encryption: true advertises and requires credential_response_encryption (ECDH-ES with A128GCM/A256GCM, or the
//     list in encryption_enc) and encrypts credential and deferred responses with jose;
//   client_auth: {client_id, public_jwk} requires private_key_jwt (RFC 7523) at the token and PAR endpoints and
//     verifies the assertion with public_jwk (iss = sub = client_id, aud = this AS's issuer identifier, exp, jti once);
//   client_attestation: {provider_jwk} requires OAuth-Client-Attestation(-PoP) headers, verified by @openid4vc/oauth2
//     (the attestation must be signed with provider_jwk, carried in its header); {wallet_provider: true} instead
//     trusts the wallet_provider below: the attestation names a key of its JWKS by kid and its status list entry
//     must not be revoked. Either way the AS metadata lists attest_jwt_client_auth;
//   refresh_tokens: true issues refresh tokens (bound to the DPoP key, single use) and accepts the refresh_token grant;
//   jwks_uri: true publishes the issuer's signing key at the metadata's jwks_uri;
//   wrong_as_issuer: true makes the AS metadata name another issuer (RFC 8414 §3.3 violation);
//   authorization_server_path: "/as" makes the issuer metadata name the authorization server `{base}/as`, whose
//     metadata is at /.well-known/oauth-authorization-server/as (same endpoints; `{base}`'s own stays served too);
//   signed_metadata: true serves the issuer metadata as a JWT (typ openidvci-issuer-metadata+jwt) signed by a fresh
//     self-signed P-256 certificate (x5c, made with the openssl CLI); "kid" signs it with the issuer key named by
//     kid only (pair it with jwks_uri: true); bad_metadata_signature: true signs it with another key;
//   wallet_provider: {issuer, jwks_uri, status_list_uri, status_list_url?} trusts that wallet provider: the
//     `pid-attested` configuration then requires `attestation` proofs, whose key attestation must be signed by the
//     provider's key (kid in its JWKS), name its issuer, be unexpired, carry our nonce and an unrevoked status list
//     entry (wallet-provider-trust.mjs);
//   delays_ms: {path: N} handles each request for path N ms after it arrived (e.g. {"/token": 300});
//   mdoc_variant: "expired" | "wrong_doctype" | "rogue" | "tampered" | "oversized" | "deep" makes the mso_mdoc
//     configurations issue broken mdocs (mdoc.mjs); mdoc_iacas_uri: a URL to advertise instead of /mdoc/iacas.
// mso_mdoc: configurations `pid-mdoc` (eu.europa.ec.eudi.pid.1) and `mdl` (org.iso.18013.5.1.mDL) issue IssuerSigned
// signed by a document signer certified by a test IACA (@owf/mdoc); GET /mdoc/iacas lists that IACA
// ({"iacas":[{"certificate": base64 DER}]}); GET /test/mdoc_pki -> {iaca, rogue_iaca} (base64 DER).
import http from 'node:http';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Oauth2AuthorizationServer } from '@openid4vc/oauth2';
import { Openid4vciIssuer } from '@openid4vc/openid4vci';
import { setGlobalConfig } from '@openid4vc/utils';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { digest, generateSalt, ES256 } from '@sd-jwt/crypto-nodejs';
import * as jose from 'jose';
import { walletProviderTrust } from './wallet-provider-trust.mjs';
import { DOCTYPES, issueMdoc, makePki } from './mdoc.mjs';

setGlobalConfig({ allowInsecureUrls: true });
const options = JSON.parse(process.env.ISSUER_OPTIONS || '{}');
const providerTrust = walletProviderTrust(options.wallet_provider);

const port = Number(process.argv[2] ?? process.env.ISSUER_PORT ?? 0);
const { publicKey, privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
const issuerJwk = { ...(await jose.exportJWK(publicKey)), kid: 'issuer-key-1', alg: 'ES256', use: 'sig' };
const issuerPrivJwk = await jose.exportJWK(privateKey);

const callbacks = {
  hash: (data, alg) => crypto.createHash(alg.replace('-', '').toLowerCase()).update(data).digest(),
  generateRandom: (n) => crypto.randomBytes(n),
  signJwt: async (signer, { header, payload }) => {
    const jwt = await new jose.SignJWT(payload).setProtectedHeader(header).sign(privateKey);
    return { jwt, signerJwk: issuerJwk };
  },
  verifyJwt: async (signer, { compact, header }) => {
    const jwk = signer.publicJwk;
    // A key attestation or client attestation naming the trusted wallet provider's key by kid.
    if (!jwk && providerTrust && ['key-attestation+jwt', 'oauth-client-attestation+jwt'].includes(header?.typ)) {
      try {
        return { verified: true, signerJwk: await providerTrust.verifyAttestation(compact, header.typ) };
      } catch {
        return { verified: false };
      }
    }
    if (!jwk) return { verified: false };
    try {
      await jose.compactVerify(compact, await jose.importJWK(jwk, signer.alg ?? 'ES256'));
      return { verified: true, signerJwk: jwk };
    } catch {
      return { verified: false, signerJwk: jwk };
    }
  },
  clientAuthentication: () => {},
};
const as = new Oauth2AuthorizationServer({ callbacks });
const vci = new Openid4vciIssuer({ callbacks });
const sdjwt = new SDJwtVcInstance({
  signer: await ES256.getSigner(issuerPrivJwk),
  signAlg: 'ES256',
  hasher: digest,
  hashAlg: 'sha-256',
  saltGenerator: generateSalt,
});

const state = {
  preAuth: new Map(), // code -> {txCode, configId}
  authCodes: new Map(), // code -> {configId, codeChallenge, redirectUri}
  par: new Map(), // request_uri -> params
  tokens: new Map(), // access token -> {configId, dpopJkt}
  nonces: new Set(),
  dpopNonces: new Set(),
  deferred: new Map(), // transaction_id -> {polls, credentials}
  notifications: [],
  tokenRequests: [], // {endpoint, grant_type, client_id, client_auth}
  requestLog: [], // {method, path, arrived_ms, answered_ms}
  refreshTokens: new Map(), // refresh token -> {configId, dpopJkt}
  assertionJtis: new Set(),
  encryptions: [], // the `enc` of every encrypted response
};
let base = '';
let credentialIssuerMetadata;
let asMetadata;

function configs() {
  const common = {
    format: 'dc+sd-jwt',
    cryptographic_binding_methods_supported: ['jwk'],
    credential_signing_alg_values_supported: ['ES256'],
    proof_types_supported: { jwt: { proof_signing_alg_values_supported: ['ES256'] } },
  };
  return {
    pid: { ...common, vct: `${base}/vct/pid`, scope: 'pid', credential_metadata: { display: [{ name: 'Interop PID' }] } },
    'pid-deferred': { ...common, vct: `${base}/vct/pid`, credential_metadata: { display: [{ name: 'Deferred PID' }] } },
    // Accepts key attestations as proofs (proof_type "attestation", OpenID4VCI 1.0 Appendix D).
    'pid-attested': {
      ...common,
      vct: `${base}/vct/pid`,
      // With a trusted wallet provider only attestation proofs are accepted.
      proof_types_supported: {
        ...(providerTrust ? {} : { jwt: { proof_signing_alg_values_supported: ['ES256'] } }),
        attestation: { proof_signing_alg_values_supported: ['ES256'], key_attestations_required: {} },
      },
      credential_metadata: { display: [{ name: 'Attested PID' }] },
    },
    'pid-mdoc': mdocConfig('pid', 'Interop PID (mdoc)'),
    mdl: mdocConfig('mdl', 'Interop mDL'),
  };
}

// The mdoc PKI, made on first use (openssl CLI).
let pkiCache;
const mdocPki = () => (pkiCache ??= makePki());
const MDOC_CONFIGS = { 'pid-mdoc': 'pid', mdl: 'mdl' };

function mdocConfig(kind, name) {
  const { docType, namespace } = DOCTYPES[kind];
  return {
    format: 'mso_mdoc',
    doctype: docType,
    scope: kind === 'pid' ? 'pid-mdoc' : 'mdl',
    cryptographic_binding_methods_supported: ['cose_key'],
    credential_signing_alg_values_supported: [-7],
    proof_types_supported: { jwt: { proof_signing_alg_values_supported: ['ES256'] } },
    credential_metadata: {
      display: [{ name }],
      claims: [
        { path: [namespace, 'family_name'], display: [{ name: 'Family name' }] },
        { path: [namespace, 'given_name'], display: [{ name: 'Given name' }] },
        { path: [namespace, 'age_over_18'], display: [{ name: 'Over 18' }] },
      ],
    },
  };
}

function issuerMetadataResult() {
  return {
    originalDraftVersion: 'v1',
    credentialIssuer: credentialIssuerMetadata,
    authorizationServers: [asMetadata],
    knownCredentialConfigurations: credentialIssuerMetadata.credential_configurations_supported,
  };
}

const rand = () => crypto.randomBytes(16).toString('base64url');

async function issue(holderJwk, configId) {
  if (MDOC_CONFIGS[configId]) return issueMdoc(mdocPki(), MDOC_CONFIGS[configId], holderJwk, options.mdoc_variant);
  const now = Math.floor(Date.now() / 1000);
  return sdjwt.issue(
    { iss: base, iat: now, vct: configs()[configId].vct, cnf: { jwk: holderJwk }, given_name: 'Erika', family_name: 'Mustermann' },
    { _sd: ['given_name', 'family_name'] },
    { header: { typ: 'dc+sd-jwt', kid: issuerJwk.kid } },
  );
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 1 << 20) throw new Error('body too large');
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function requestLike(req, url) {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) headers.set(k, Array.isArray(v) ? v.join(',') : v);
  return { method: req.method, url: `${base}${url.pathname}`, headers };
}

function dpopNonceOf(jwt) {
  try {
    return jose.decodeJwt(jwt).nonce;
  } catch {
    return undefined;
  }
}

// private_key_jwt (RFC 7523 §2.2 / §3): @openid4vc/oauth2 0.4.6 has no verifier for it, so it is checked here with
// jose against the registered public key. Returns an error response body, or undefined when the client is fine.
async function checkClientAssertion(body) {
  const cfg = options.client_auth;
  if (!cfg) return undefined;
  if (body.client_assertion_type !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' || !body.client_assertion) {
    return { error: 'invalid_client', error_description: 'private_key_jwt client authentication required' };
  }
  try {
    const key = await jose.importJWK(cfg.public_jwk, 'ES256');
    const { payload } = await jose.jwtVerify(body.client_assertion, key, {
      issuer: cfg.client_id,
      subject: cfg.client_id,
      audience: base,
      algorithms: ['ES256'],
      requiredClaims: ['jti', 'exp', 'iat'],
      maxTokenAge: '5 minutes',
    });
    if (body.client_id && body.client_id !== cfg.client_id) return { error: 'invalid_client', error_description: 'client_id mismatch' };
    if (state.assertionJtis.has(payload.jti)) return { error: 'invalid_client', error_description: 'assertion replayed' };
    state.assertionJtis.add(payload.jti);
    return undefined;
  } catch (e) {
    return { error: 'invalid_client', error_description: `client assertion rejected: ${String(e.code ?? e.message ?? e).slice(0, 80)}` };
  }
}

function recordAuth(endpoint, req, body) {
  let clientAuth = 'none';
  if (req.headers['oauth-client-attestation'] && req.headers['oauth-client-attestation-pop']) clientAuth = 'attestation';
  else if (body.client_assertion) clientAuth = 'private_key_jwt';
  else if (body.client_id) clientAuth = 'client_id';
  state.tokenRequests.push({ endpoint, grant_type: body.grant_type ?? null, client_id: body.client_id ?? null, client_auth: clientAuth });
}

async function token(req, url, raw, res) {
  const body = Object.fromEntries(new URLSearchParams(raw));
  const request = requestLike(req, url);
  const parsed = as.parseAccessTokenRequest({ request, accessTokenRequest: body });
  recordAuth('token', req, body);
  const clientError = await checkClientAssertion(body);
  if (clientError) return send(res, 401, clientError);
  const clientAttestation = options.client_attestation
    ? { ...(parsed.clientAttestation ?? {}), required: true }
    : undefined;
  if (clientAttestation?.clientAttestationJwt && options.client_attestation.provider_jwk) {
    // The library verifies the attestation with the key in its header; only the wallet provider's key is accepted.
    const { jwk } = jose.decodeProtectedHeader(clientAttestation.clientAttestationJwt);
    const want = options.client_attestation.provider_jwk;
    if (!jwk || jwk.x !== want.x || jwk.y !== want.y) return send(res, 401, { error: 'invalid_client', error_description: 'unknown wallet provider' });
  } else if (clientAttestation?.clientAttestationJwt && providerTrust) {
    // The library verifies the signature through verifyJwt (the provider's JWKS); the instance must not be revoked.
    try {
      await providerTrust.checkStatus(jose.decodeJwt(clientAttestation.clientAttestationJwt));
    } catch (e) {
      return send(res, 401, { error: 'invalid_client', error_description: String(e.message ?? e).slice(0, 200) });
    }
  }
  // DPoP nonce (RFC 9449 §8): the first DPoP proof without our nonce is answered with use_dpop_nonce.
  if (parsed.dpop?.jwt && !state.dpopNonces.has(dpopNonceOf(parsed.dpop.jwt))) {
    const nonce = rand();
    state.dpopNonces.add(nonce);
    return send(res, 400, { error: 'use_dpop_nonce' }, { 'DPoP-Nonce': nonce });
  }
  let configId;
  let verified;
  if (parsed.grant.grantType === 'urn:ietf:params:oauth:grant-type:pre-authorized_code') {
    const entry = state.preAuth.get(parsed.grant.preAuthorizedCode);
    if (!entry) return send(res, 400, { error: 'invalid_grant' });
    try {
      verified = await as.verifyPreAuthorizedCodeAccessTokenRequest({
        authorizationServerMetadata: asMetadata,
        grant: parsed.grant,
        accessTokenRequest: parsed.accessTokenRequest,
        request,
        expectedPreAuthorizedCode: parsed.grant.preAuthorizedCode,
        expectedTxCode: entry.txCode,
        dpop: { jwt: parsed.dpop?.jwt, allowedSigningAlgs: ['ES256'] },
        clientAttestation,
      });
    } catch (e) {
      return send(res, 400, { error: 'invalid_grant', error_description: String(e.message ?? e).slice(0, 200) });
    }
    state.preAuth.delete(parsed.grant.preAuthorizedCode);
    configId = entry.configId;
  } else if (parsed.grant.grantType === 'authorization_code') {
    const entry = state.authCodes.get(parsed.grant.code);
    if (!entry) return send(res, 400, { error: 'invalid_grant' });
    try {
      verified = await as.verifyAuthorizationCodeAccessTokenRequest({
        authorizationServerMetadata: asMetadata,
        grant: parsed.grant,
        accessTokenRequest: parsed.accessTokenRequest,
        request,
        expectedCode: parsed.grant.code,
        dpop: { jwt: parsed.dpop?.jwt, allowedSigningAlgs: ['ES256'] },
        pkce: { codeVerifier: parsed.pkceCodeVerifier, codeChallenge: entry.codeChallenge, codeChallengeMethod: 'S256' },
        clientAttestation,
      });
    } catch (e) {
      return send(res, 400, { error: 'invalid_grant', error_description: String(e.message ?? e).slice(0, 200) });
    }
    state.authCodes.delete(parsed.grant.code);
    configId = entry.configId;
  } else if (parsed.grant.grantType === 'refresh_token' && options.refresh_tokens) {
    const entry = state.refreshTokens.get(parsed.grant.refreshToken);
    if (!entry) return send(res, 400, { error: 'invalid_grant', error_description: 'unknown refresh token' });
    try {
      verified = await as.verifyRefreshTokenAccessTokenRequest({
        authorizationServerMetadata: asMetadata,
        grant: parsed.grant,
        accessTokenRequest: parsed.accessTokenRequest,
        request,
        expectedRefreshToken: parsed.grant.refreshToken,
        dpop: { jwt: parsed.dpop?.jwt, allowedSigningAlgs: ['ES256'], required: Boolean(entry.dpopJkt) },
        clientAttestation,
      });
    } catch (e) {
      return send(res, 400, { error: 'invalid_grant', error_description: String(e.message ?? e).slice(0, 200) });
    }
    // RFC 9449 §5: a refresh token issued to a public client is bound to its DPoP key.
    if (entry.dpopJkt && verified?.dpop?.jwkThumbprint !== entry.dpopJkt) {
      return send(res, 400, { error: 'invalid_grant', error_description: 'refresh token bound to another DPoP key' });
    }
    state.refreshTokens.delete(parsed.grant.refreshToken); // rotation: single use
    configId = entry.configId;
  } else {
    return send(res, 400, { error: 'unsupported_grant_type' });
  }
  const response = await as.createAccessTokenResponse({
    authorizationServer: base,
    audience: base,
    expiresInSeconds: 600,
    signer: { method: 'jwk', alg: 'ES256', publicJwk: issuerJwk },
    dpop: verified?.dpop ? { jwk: verified.dpop.jwk } : undefined,
    subject: 'holder',
    refreshToken: Boolean(options.refresh_tokens),
  });
  state.tokens.set(response.access_token, { configId });
  if (response.refresh_token) state.refreshTokens.set(response.refresh_token, { configId, dpopJkt: verified?.dpop?.jwkThumbprint });
  return send(res, 200, response);
}

async function credential(req, url, raw, res) {
  const auth = req.headers.authorization ?? '';
  const tokenValue = auth.replace(/^(DPoP|Bearer) /i, '');
  const session = state.tokens.get(tokenValue);
  if (!session) return send(res, 401, { error: 'invalid_token' });
  const parsed = vci.parseCredentialRequest({ issuerMetadata: issuerMetadataResult(), credentialRequest: JSON.parse(raw) });
  const jwts = parsed.proofs?.jwt ?? [];
  const attestations = parsed.proofs?.attestation ?? [];
  const holderKeys = [];
  if (attestations.length > 0) {
    // One key attestation (signed by the wallet provider, its key in the header) attests every key to issue to.
    if (attestations.length !== 1 || jwts.length > 0) return send(res, 400, { error: 'invalid_proof', error_description: 'exactly one attestation proof' });
    const nonce = jose.decodeJwt(attestations[0]).nonce;
    if (!state.nonces.has(nonce)) return send(res, 400, { error: 'invalid_nonce' });
    if (providerTrust && jose.decodeProtectedHeader(attestations[0]).jwk) {
      return send(res, 400, { error: 'invalid_proof', error_description: 'the key attestation is not from the trusted wallet provider' });
    }
    try {
      const v = await vci.verifyCredentialRequestAttestationProof({ issuerMetadata: issuerMetadataResult(), keyAttestationJwt: attestations[0], expectedNonce: nonce, nonceExpiresAt: new Date(Date.now() + 60000) });
      if (providerTrust) await providerTrust.checkStatus(v.payload);
      holderKeys.push(...v.payload.attested_keys);
    } catch (e) {
      return send(res, 400, { error: 'invalid_proof', error_description: String(e.message ?? e).slice(0, 200) });
    }
    state.nonces.delete(nonce);
  } else if (jwts.length === 0) return send(res, 400, { error: 'invalid_proof', error_description: 'jwt proofs required' });
  for (const jwt of jwts) {
    const nonce = jose.decodeJwt(jwt).nonce;
    if (!state.nonces.has(nonce)) return send(res, 400, { error: 'invalid_nonce' });
    try {
      const v = await vci.verifyCredentialRequestJwtProof({ issuerMetadata: issuerMetadataResult(), jwt, expectedNonce: nonce, nonceExpiresAt: new Date(Date.now() + 60000) });
      holderKeys.push(v.signer.publicJwk);
    } catch (e) {
      return send(res, 400, { error: 'invalid_proof', error_description: String(e.message ?? e).slice(0, 200) });
    }
  }
  for (const jwt of jwts) state.nonces.delete(jose.decodeJwt(jwt).nonce);
  const configId = parsed.credentialConfigurationId ?? session.configId;
  const credentials = [];
  for (const k of holderKeys) credentials.push({ credential: await issue(k, configId) });
  if (configId === 'pid-deferred') {
    const transactionId = rand();
    state.deferred.set(transactionId, { polls: 0, credentials });
    const pending = vci.createCredentialResponse({ credentialRequest: parsed, transactionId, interval: 1 });
    return sendMaybeEncrypted(res, JSON.parse(raw).credential_response_encryption, pending, 202);
  }
  const response = vci.createCredentialResponse({ credentialRequest: parsed, credentials, notificationId: rand() });
  return sendMaybeEncrypted(res, JSON.parse(raw).credential_response_encryption, response);
}

const encValues = () => options.encryption_enc ?? ['A128GCM', 'A256GCM'];

// Successful credential (and deferred credential) responses: a compact JWE to the wallet's key when encryption is on.
async function sendMaybeEncrypted(res, encryption, response, status = 200) {
  if (!options.encryption) return send(res, status, response);
  if (!encryption?.jwk || !encryption?.enc || !encValues().includes(encryption.enc)) {
    return send(res, 400, { error: 'invalid_encryption_parameters' });
  }
  state.encryptions.push(encryption.enc);
  const key = await jose.importJWK(encryption.jwk, 'ECDH-ES');
  const jwe = await new jose.CompactEncrypt(new TextEncoder().encode(JSON.stringify(response)))
    .setProtectedHeader({ alg: 'ECDH-ES', enc: encryption.enc })
    .encrypt(key);
  res.writeHead(status, { 'content-type': 'application/jwt', 'cache-control': 'no-store' });
  return res.end(jwe);
}

// A self-signed P-256 certificate for signed metadata (openssl CLI; Node has no certificate builder).
function selfSignedCertificate() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'issuer-cert-'));
  const keyPath = path.join(dir, 'key.pem');
  const certPath = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath,
    '-out', certPath, '-days', '1', '-subj', '/CN=walletd interop issuer'], { stdio: 'ignore' });
  const key = crypto.createPrivateKey(fs.readFileSync(keyPath));
  const der = new crypto.X509Certificate(fs.readFileSync(certPath)).raw.toString('base64');
  fs.rmSync(dir, { recursive: true, force: true });
  return { key, der };
}

let signedMetadataJwt;
async function signedMetadata() {
  if (!signedMetadataJwt) {
    const { key, der } = selfSignedCertificate();
    const signer = options.bad_metadata_signature ? privateKey : key;
    // signed_metadata: 'kid' signs with the issuer key named by kid (no x5c); the key is at jwks_uri.
    const byKid = options.signed_metadata === 'kid';
    signedMetadataJwt = await new jose.SignJWT({ ...credentialIssuerMetadata, sub: base, iss: base })
      .setProtectedHeader(byKid
        ? { alg: 'ES256', typ: 'openidvci-issuer-metadata+jwt', kid: issuerJwk.kid }
        : { alg: 'ES256', typ: 'openidvci-issuer-metadata+jwt', x5c: [der] })
      .setIssuedAt()
      .sign(byKid ? (options.bad_metadata_signature ? key : privateKey) : signer);
  }
  return signedMetadataJwt;
}

async function route(req, res) {
  const url = new URL(req.url, base);
  const raw = req.method === 'POST' ? await readBody(req) : '';
  const p = url.pathname;
  if (req.method === 'GET' && p === '/.well-known/openid-credential-issuer') {
    if (options.signed_metadata && (req.headers.accept ?? '').includes('application/jwt')) {
      res.writeHead(200, { 'content-type': 'application/jwt', 'cache-control': 'no-store' });
      return res.end(await signedMetadata());
    }
    return send(res, 200, credentialIssuerMetadata);
  }
  if (req.method === 'GET' && (p === '/.well-known/oauth-authorization-server' || p === '/.well-known/openid-configuration')) return send(res, 200, asMetadata);
  if (req.method === 'GET' && options.authorization_server_path && p === `/.well-known/oauth-authorization-server${options.authorization_server_path}`) {
    return send(res, 200, { ...asMetadata, issuer: `${base}${options.authorization_server_path}` });
  }
  if (req.method === 'GET' && p === '/.well-known/jwt-vc-issuer') return send(res, 200, { issuer: base, jwks: { keys: [issuerJwk] } });
  if (req.method === 'POST' && p === '/token') return token(req, url, raw, res);
  if (req.method === 'POST' && p === '/nonce') {
    const cNonce = rand();
    state.nonces.add(cNonce);
    return send(res, 200, vci.createNonceResponse({ cNonce, cNonceExpiresIn: 60 }));
  }
  if (req.method === 'POST' && p === '/credential') return credential(req, url, raw, res);
  if (req.method === 'POST' && p === '/deferred') {
    const { transaction_id, credential_response_encryption } = JSON.parse(raw);
    const entry = state.deferred.get(transaction_id);
    if (!entry) return send(res, 400, { error: 'invalid_transaction_id' });
    entry.polls += 1;
    if (entry.polls < 2) return send(res, 400, { error: 'issuance_pending', interval: 1 });
    state.deferred.delete(transaction_id);
    return sendMaybeEncrypted(res, credential_response_encryption, { credentials: entry.credentials, notification_id: rand() });
  }
  if (req.method === 'POST' && p === '/notification') {
    state.notifications.push({ body: JSON.parse(raw), authorization: req.headers.authorization ?? null });
    res.writeHead(204);
    return res.end();
  }
  if (req.method === 'POST' && p === '/par') {
    const params = Object.fromEntries(new URLSearchParams(raw));
    recordAuth('par', req, params);
    const clientError = await checkClientAssertion(params);
    if (clientError) return send(res, 401, clientError);
    delete params.client_assertion;
    delete params.client_assertion_type;
    const requestUri = `urn:ietf:params:oauth:request_uri:${rand()}`;
    state.par.set(requestUri, params);
    return send(res, 201, { request_uri: requestUri, expires_in: 60 });
  }
  if (req.method === 'GET' && p === '/authorize') {
    // Auto-consent: redirects straight back with a code (no login UI in a test issuer).
    let params = Object.fromEntries(url.searchParams);
    if (params.request_uri) params = { ...state.par.get(params.request_uri), ...params };
    const code = rand();
    const configId = params.authorization_details ? JSON.parse(params.authorization_details)[0]?.credential_configuration_id : 'pid';
    state.authCodes.set(code, { configId: configId ?? 'pid', codeChallenge: params.code_challenge });
    const target = new URL(params.redirect_uri);
    target.searchParams.set('code', code);
    if (params.state) target.searchParams.set('state', params.state);
    res.writeHead(302, { location: target.toString() });
    return res.end();
  }
  if (req.method === 'POST' && p === '/test/offer') {
    const opts = raw ? JSON.parse(raw) : {};
    const configId = opts.config_id ?? 'pid';
    const grants = {};
    let txCodeValue;
    if ((opts.grant ?? 'pre') === 'pre') {
      const code = rand();
      const grant = { 'pre-authorized_code': code };
      if (opts.tx_code) {
        txCodeValue = String(crypto.randomInt(100000, 999999));
        grant.tx_code = { input_mode: 'numeric', length: 6, description: 'Code sent by mail' };
      }
      state.preAuth.set(code, { txCode: txCodeValue, configId });
      grants['urn:ietf:params:oauth:grant-type:pre-authorized_code'] = grant;
    } else {
      grants.authorization_code = { issuer_state: rand() };
    }
    const { credentialOffer, credentialOfferObject } = await vci.createCredentialOffer({
      issuerMetadata: issuerMetadataResult(),
      credentialConfigurationIds: opts.config_ids ?? [configId],
      grants,
    });
    return send(res, 200, { offer: credentialOffer, offer_json: credentialOfferObject, tx_code_value: txCodeValue });
  }
  if (req.method === 'GET' && p === '/mdoc/iacas') {
    return send(res, 200, { iacas: [{ certificate: Buffer.from(mdocPki().trusted.iaca).toString('base64') }] });
  }
  if (req.method === 'GET' && p === '/test/mdoc_pki') {
    const b = (d) => Buffer.from(d).toString('base64');
    return send(res, 200, { iaca: b(mdocPki().trusted.iaca), rogue_iaca: b(mdocPki().rogue.iaca) });
  }
  if (req.method === 'GET' && p === '/test/notifications') return send(res, 200, state.notifications);
  if (req.method === 'GET' && p === '/test/encryptions') return send(res, 200, state.encryptions);
  if (req.method === 'GET' && p === '/test/token_requests') return send(res, 200, state.tokenRequests);
  if (req.method === 'GET' && p === '/test/request_log') return send(res, 200, state.requestLog);
  if (req.method === 'POST' && p === '/test/revoke_refresh_tokens') {
    state.refreshTokens.clear();
    return send(res, 200, {});
  }
  if (req.method === 'GET' && p === '/jwks') return send(res, 200, { keys: [issuerJwk] });
  return send(res, 404, { error: 'not_found' });
}

const server = http.createServer((req, res) => {
  if (options.request_log && !req.url.startsWith('/test/')) {
    const entry = { method: req.method, path: req.url.split('?')[0], arrived_ms: performance.now(), answered_ms: null };
    state.requestLog.push(entry);
    res.on('finish', () => { entry.answered_ms = performance.now(); });
  }
  const handle = () => route(req, res).catch((e) => {
    if (!res.headersSent) send(res, 500, { error: 'server_error', error_description: String(e.message ?? e).slice(0, 300) });
  });
  const delay = options.delays_ms && options.delays_ms[req.url.split('?')[0]];
  if (delay) setTimeout(handle, delay);
  else handle();
});
server.listen(port, '127.0.0.1', () => {
  base = `http://127.0.0.1:${server.address().port}`;
  credentialIssuerMetadata = vci.createCredentialIssuerMetadata({
    credential_issuer: base,
    credential_endpoint: `${base}/credential`,
    nonce_endpoint: `${base}/nonce`,
    deferred_credential_endpoint: `${base}/deferred`,
    notification_endpoint: `${base}/notification`,
    batch_credential_issuance: { batch_size: 5 },
    ...(options.encryption
      ? { credential_response_encryption: { alg_values_supported: ['ECDH-ES'], enc_values_supported: encValues(), encryption_required: true } }
      : {}),
    ...(options.jwks_uri ? { jwks_uri: `${base}/jwks` } : {}),
    ...(options.authorization_server_path ? { authorization_servers: [`${base}${options.authorization_server_path}`] } : {}),
    display: [{ name: 'walletd interop issuer' }],
    mdoc_iacas_uri: options.mdoc_iacas_uri ?? `${base}/mdoc/iacas`,
    credential_configurations_supported: configs(),
  });
  asMetadata = as.createAuthorizationServerMetadata({
    issuer: base,
    token_endpoint: `${base}/token`,
    authorization_endpoint: `${base}/authorize`,
    pushed_authorization_request_endpoint: `${base}/par`,
    code_challenge_methods_supported: ['S256'],
    dpop_signing_alg_values_supported: ['ES256'],
    'pre-authorized_grant_anonymous_access_supported': true,
    ...(options.client_attestation ? { token_endpoint_auth_methods_supported: ['attest_jwt_client_auth'] } : {}),
  });
  // wrong_as_issuer: true makes the AS metadata name another issuer than the one it is served for (RFC 8414 §3.3).
  if (options.wrong_as_issuer) asMetadata = { ...asMetadata, issuer: 'https://other-as.example' };
  console.log(JSON.stringify({ url: base }));
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
