// Independent OID4VP verifier for walletd's interop tests. Built on @openid4vc/openid4vp (response parsing and
// validation, JARM decryption through a jose callback), dcql (query and result validation), @sd-jwt/sd-jwt-vc
// (SD-JWT VC and key-binding verification) and jose; it shares no code with walletd. Listens on 127.0.0.1 only.
//
//   node verifier.mjs [port]      (0 or nothing picks a free port)
//
// Prints one JSON line {"url": "http://127.0.0.1:<port>"} when listening. Test hooks (not part of OpenID4VP):
//   POST /test/request {query: "dcql"|"pe", mode: "direct_post"|"direct_post.jwt",
//        scheme: "x509_san_dns"|"x509_hash"|"redirect_uri"|"pre-registered"|"verifier_attestation"|"did_jwk"|"did_web",
//        client_id (pre-registered only), claims: ["given_name"], enc: "A128GCM"|"A256GCM",
//        request_uri_method: "post", transaction_data: bool,
//        claim_sets: bool (DCQL: claims nickname|given_name|family_name, claim_sets [[nickname], [given_name]]),
//        submission_requirements: bool (PE: descriptors pid_nick (nickname) and pid in group A, pick count 1),
//        mdoc: {doctype, namespace, claims: ["age_over_18"], iaca: <base64 DER>, only: bool} adds an mso_mdoc credential
//          query "mdoc" (with intent_to_retain false), verified with @owf/mdoc against that IACA (mdoc.mjs); only: the
//          mdoc query alone, else both (credential_sets [["pid", "mdoc"]]),
//        tamper: "bad_signature"|"san_mismatch"|"no_nonce"|"redirect_uri"|"expired"|"response_host"
//               |"attestation_sub"|"attestation_signature"|"attestation_cnf"|"did_key"}
//   GET  /test/did           {did, document} of the did:web verifier (a test serves it through its PDP)
//   GET  /test/attester      {iss, jwk} of the verifier attestation issuer
//        -> {id, state, client_id, request_uri_ref, url (openid4vp://...), nonce}
//   GET|POST /request/<id>   the request object (signed JWT for x509 schemes, alg none for redirect_uri)
//   POST /response/<id>      the authorization response (direct_post / direct_post.jwt)
//   GET  /result/<id>        {posts, error?, verified, reason?, disclosed: [claim names], presented_to_queries}
//
// Certificates: a fresh CA and leaves signed by it (openssl CLI), SAN DNS:localhost + IP:127.0.0.1 (and a leaf
// for DNS:other.example, for SAN mismatch tests). x509_san_dns requests use a response_uri on http://localhost:<port>
// (its host must be the dNSName); "response_host" keeps 127.0.0.1 there.
// Other client_id prefixes: pre-registered (plain client_id, unsigned request), verifier_attestation (a Verifier
// Attestation JWT by a local attester in the jwt header, its cnf key signs the request), decentralized_identifier
// with did:jwk (self-contained) or did:web:127.0.0.1%3A<port> (the document is NOT served over https: the test's
// PDP resolves it).
import http from 'node:http';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Openid4vpVerifier } from '@openid4vc/openid4vp';
import { setGlobalConfig } from '@openid4vc/utils';
import { DcqlQuery, DcqlPresentationResult } from 'dcql';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { digest, ES256 } from '@sd-jwt/crypto-nodejs';
import * as jose from 'jose';
import { verifyDeviceResponse } from './mdoc.mjs';

setGlobalConfig({ allowInsecureUrls: true });
const port = Number(process.argv[2] ?? 0);

// PKI: CA -> leaf (localhost / 127.0.0.1) and CA -> leaf (other.example).
function makePki() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verifier-pki-'));
  const p = (n) => path.join(dir, n);
  const run = (args) => execFileSync('openssl', args, { stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', '/CN=walletd interop verifier CA']);
  const leaf = (name, san) => {
    run(['req', '-new', ...ec, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${name}`]);
    fs.writeFileSync(p(`${name}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n`);
    run(['x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial',
      '-out', p(`${name}.pem`), '-days', '1', '-extfile', p(`${name}.ext`)]);
    return {
      key: crypto.createPrivateKey(fs.readFileSync(p(`${name}.key`))),
      der: new crypto.X509Certificate(fs.readFileSync(p(`${name}.pem`))).raw,
    };
  };
  const ca = new crypto.X509Certificate(fs.readFileSync(p('ca.pem'))).raw;
  const good = leaf('localhost', 'DNS:localhost,IP:127.0.0.1');
  const other = leaf('other', 'DNS:other.example');
  fs.rmSync(dir, { recursive: true, force: true });
  return { ca, good, other };
}
const pki = makePki();
const x5c = (leaf) => [leaf.der.toString('base64'), pki.ca.toString('base64')];
const x509Hash = (der) => crypto.createHash('sha256').update(der).digest('base64url');
const strayKey = (await jose.generateKeyPair('ES256')).privateKey;

// Verifier attestation: an attester key, and the verifier key its attestations bind (cnf).
const attester = await jose.generateKeyPair('ES256', { extractable: true });
const attesterJwk = await jose.exportJWK(attester.publicKey);
const ATTESTER_ISS = 'https://attester.interop.example';
const ATTESTED_ID = 'interop-verifier';
const attested = await jose.generateKeyPair('ES256', { extractable: true });
const attestedJwk = await jose.exportJWK(attested.publicKey);
// DID verifiers: one key, as did:jwk and as did:web (document built once the port is known).
const didKey = await jose.generateKeyPair('ES256', { extractable: true });
const didJwk = await jose.exportJWK(didKey.publicKey);
const DID_JWK = `did:jwk:${Buffer.from(JSON.stringify(didJwk)).toString('base64url')}`;
const didWeb = () => `did:web:${encodeURIComponent(new URL(base).host)}`;
const didDocument = () => ({
  '@context': ['https://www.w3.org/ns/did/v1'],
  id: didWeb(),
  verificationMethod: [{ id: `${didWeb()}#key-1`, type: 'JsonWebKey2020', controller: didWeb(), publicKeyJwk: didJwk }],
  assertionMethod: [`${didWeb()}#key-1`],
});

// Response encryption key (direct_post.jwt).
const enc = await jose.generateKeyPair('ECDH-ES', { crv: 'P-256', extractable: true });
const encJwk = { ...(await jose.exportJWK(enc.publicKey)), kid: 'enc-1', use: 'enc', alg: 'ECDH-ES' };

const issuerKeys = new Map(); // iss -> jwks
async function issuerJwks(iss) {
  if (!issuerKeys.has(iss)) {
    const r = await fetch(`${iss}/.well-known/jwt-vc-issuer`);
    issuerKeys.set(iss, (await r.json()).jwks);
  }
  return issuerKeys.get(iss);
}

const requests = new Map(); // id -> {payload, opts, jwt?, result}
let base = '';
const callbacks = {
    hash: (data, alg) => crypto.createHash(alg.replace('-', '').toLowerCase()).update(data).digest(),
    generateRandom: (n) => crypto.randomBytes(n),
    decryptJwe: async (jwe) => {
      try {
        const { plaintext } = await jose.compactDecrypt(jwe, enc.privateKey);
        return { decrypted: true, decryptionJwk: encJwk, payload: new TextDecoder().decode(plaintext) };
      } catch {
        return { decrypted: false };
      }
    },
    verifyJwt: async () => ({ verified: false }),
};
const verifier = new Openid4vpVerifier({ callbacks });

const VCT_PATH = '$.vct';
function buildRequest(id, opts) {
  const claims = opts.claims ?? ['given_name'];
  const mode = opts.mode ?? 'direct_post';
  const scheme = opts.scheme ?? 'x509_san_dns';
  const onLocalhost = scheme === 'x509_san_dns' && opts.tamper !== 'response_host';
  const responseUri = `${onLocalhost ? base.replace('127.0.0.1', 'localhost') : base}/response/${id}`;
  const leaf = opts.tamper === 'san_mismatch' ? pki.other : pki.good;
  const clientId = {
    x509_san_dns: 'x509_san_dns:localhost',
    x509_hash: `x509_hash:${x509Hash(leaf.der)}`,
    redirect_uri: `redirect_uri:${responseUri}`,
    'pre-registered': opts.client_id ?? 'interop-verifier',
    verifier_attestation: `verifier_attestation:${ATTESTED_ID}`,
    did_jwk: `decentralized_identifier:${DID_JWK}`,
    did_web: `decentralized_identifier:${didWeb()}`,
  }[scheme];
  const payload = {
    response_type: 'vp_token',
    client_id: clientId,
    response_mode: mode,
    response_uri: responseUri,
    nonce: crypto.randomBytes(16).toString('base64url'),
    state: crypto.randomBytes(12).toString('base64url'),
    client_metadata: {
      client_name: 'walletd interop verifier',
      logo_uri: `${base}/logo.png`,
      vp_formats_supported: { 'dc+sd-jwt': { 'sd-jwt_alg_values': ['ES256'], 'kb-jwt_alg_values': ['ES256'] } },
      ...(mode === 'direct_post.jwt'
        ? { jwks: { keys: [encJwk] }, encrypted_response_enc_values_supported: [opts.enc ?? 'A128GCM'] }
        : {}),
    },
  };
  if ((opts.query ?? 'dcql') === 'dcql') {
    payload.dcql_query = {
      credentials: [{ id: 'pid', format: 'dc+sd-jwt', meta: { vct_values: [opts.vct].filter(Boolean) }, claims: claims.map((c) => ({ path: [c] })) }],
      credential_sets: [{ options: [['pid']], purpose: 'interop test' }],
    };
    if (opts.claim_sets) {
      payload.dcql_query.credentials[0].claims = [
        { id: 'nick', path: ['nickname'] }, { id: 'gn', path: ['given_name'] }, { id: 'fn', path: ['family_name'] }];
      payload.dcql_query.credentials[0].claim_sets = [['nick'], ['gn']];
    }
    if (!opts.vct) payload.dcql_query.credentials[0].meta = { vct_values: [] };
    if (opts.mdoc) {
      const m = opts.mdoc;
      const q = { id: 'mdoc', format: 'mso_mdoc', meta: { doctype_value: m.doctype },
        claims: (m.claims ?? ['age_over_18']).map((c) => ({ path: [m.namespace, c], intent_to_retain: false })) };
      payload.dcql_query.credentials = m.only ? [q] : [...payload.dcql_query.credentials, q];
      payload.dcql_query.credential_sets = [{ options: [m.only ? ['mdoc'] : ['pid', 'mdoc']], purpose: 'interop test' }];
      payload.client_metadata.vp_formats_supported.mso_mdoc = { issuerauth_alg_values: [-7], deviceauth_alg_values: [-7] };
    }
  } else {
    payload.presentation_definition = {
      id: `pd-${id}`,
      purpose: 'interop test',
      input_descriptors: [{
        id: 'pid',
        format: { 'dc+sd-jwt': { 'sd-jwt_alg_values': ['ES256'], 'kb-jwt_alg_values': ['ES256'] } },
        constraints: {
          limit_disclosure: 'required',
          fields: [...(opts.vct ? [{ path: [VCT_PATH], filter: { type: 'string', const: opts.vct } }] : []), ...claims.map((c) => ({ path: [`$.${c}`] }))],
        },
      }],
    };
    if (opts.submission_requirements) {
      const [pid] = payload.presentation_definition.input_descriptors;
      const nick = structuredClone(pid);
      nick.id = 'pid_nick';
      nick.constraints.fields = [...nick.constraints.fields.filter((f) => f.path[0] === VCT_PATH), { path: ['$.nickname'] }];
      pid.group = ['A'];
      nick.group = ['A'];
      payload.presentation_definition.input_descriptors = [nick, pid];
      payload.presentation_definition.submission_requirements = [{ name: 'one PID', rule: 'pick', count: 1, from: 'A' }];
    }
  }
  if (opts.transaction_data) {
    payload.transaction_data = [Buffer.from(JSON.stringify({ type: 'payment', credential_ids: ['pid'], amount: '1 EUR' })).toString('base64url')];
  }
  if (opts.tamper === 'no_nonce') delete payload.nonce;
  if (opts.tamper === 'redirect_uri') payload.redirect_uri = `${base}/elsewhere`;
  return { payload, leaf, scheme };
}

async function requestObject(entry, walletNonce) {
  const { payload, leaf, scheme } = entry;
  const now = Math.floor(Date.now() / 1000);
  const claims = { ...payload, iat: now, exp: entry.opts.tamper === 'expired' ? now - 3600 : now + 300, aud: 'https://self-issued.me/v2' };
  if (walletNonce) claims.wallet_nonce = walletNonce;
  if (scheme === 'redirect_uri' || scheme === 'pre-registered') {
    return new jose.UnsecuredJWT(claims).encode();
  }
  const t = entry.opts.tamper;
  if (scheme === 'verifier_attestation') {
    const attestation = await new jose.SignJWT({
      sub: t === 'attestation_sub' ? 'someone-else' : ATTESTED_ID,
      cnf: { jwk: attestedJwk },
      redirect_uris: [payload.response_uri],
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'verifier-attestation+jwt', jwk: attesterJwk })
      .setIssuer(ATTESTER_ISS).setIssuedAt(now).setExpirationTime(now + 600)
      .sign(t === 'attestation_signature' ? strayKey : attester.privateKey);
    return new jose.SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'oauth-authz-req+jwt', jwt: attestation })
      .sign(t === 'attestation_cnf' ? strayKey : attested.privateKey);
  }
  if (scheme === 'did_jwk' || scheme === 'did_web') {
    const kid = scheme === 'did_jwk' ? `${DID_JWK}#0` : `${didWeb()}#key-1`;
    return new jose.SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'oauth-authz-req+jwt', kid })
      .sign(t === 'did_key' ? strayKey : didKey.privateKey);
  }
  const signer = entry.opts.tamper === 'bad_signature' ? strayKey : leaf.key;
  return new jose.SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'oauth-authz-req+jwt', x5c: x5c(leaf) }).sign(signer);
}

function disclosedClaimNames(presentation) {
  return presentation.split('~').slice(1, -1).map((d) => {
    try {
      const arr = JSON.parse(Buffer.from(d, 'base64url').toString('utf8'));
      return arr.length === 3 ? arr[1] : null;
    } catch {
      return null;
    }
  }).filter(Boolean);
}

async function verifyPresentation(presentation, entry) {
  const iss = jose.decodeJwt(presentation.split('~')[0]).iss;
  const jwks = await issuerJwks(iss);
  const sdjwt = new SDJwtVcInstance({
    hasher: digest,
    verifier: async (data, sig) => {
      for (const k of jwks.keys) if (await (await ES256.getVerifier(k))(data, sig)) return true;
      return false;
    },
    kbVerifier: async (data, sig, payload) => (await ES256.getVerifier(payload.cnf.jwk))(data, sig),
  });
  const r = await sdjwt.verify(presentation, { keyBindingNonce: entry.payload.nonce, requireKeyBindings: true });
  const kb = r.kb?.payload;
  if (!kb) throw new Error('no key binding');
  if (kb.aud !== entry.payload.client_id) throw new Error(`KB-JWT aud ${kb.aud} is not the client_id`);
  if (kb.nonce !== entry.payload.nonce) throw new Error('KB-JWT nonce mismatch');
  if (entry.payload.transaction_data) {
    const want = entry.payload.transaction_data.map((t) => crypto.createHash('sha256').update(t).digest('base64url'));
    if (JSON.stringify(kb.transaction_data_hashes) !== JSON.stringify(want)) throw new Error('transaction_data_hashes mismatch');
  }
  return r.payload;
}

// An mso_mdoc presentation: a base64url DeviceResponse, verified fully (issuer signature and chain to the IACA
// the test named, device signature over the OpenID4VP SessionTranscript, digests, validity).
async function verifyMdoc(presentation, entry, parsed) {
  const jwkThumbprint = parsed.jarm ? new Uint8Array(Buffer.from(await jose.calculateJwkThumbprint(encJwk, 'sha256'), 'base64url')) : undefined;
  return verifyDeviceResponse(presentation, {
    clientId: entry.payload.client_id,
    nonce: entry.payload.nonce,
    responseUri: entry.payload.response_uri,
    jwkThumbprint,
    trusted: [new Uint8Array(Buffer.from(entry.opts.mdoc.iaca, 'base64'))],
  });
}

async function handleResponse(entry, raw) {
  entry.result.posts += 1;
  const body = Object.fromEntries(new URLSearchParams(raw));
  if (body.error) {
    entry.result.error = body.error;
    entry.result.error_state_ok = body.state === entry.payload.state;
    return { status: 200, body: { redirect_uri: `${base}/declined/${entry.id}` } };
  }
  try {
    const parsed = await verifier.parseOpenid4vpAuthorizationResponse({
      authorizationResponse: body,
      authorizationRequestPayload: entry.payload,
      callbacks,
    });
    if (parsed.authorizationResponsePayload.state !== entry.payload.state) throw new Error('state mismatch');
    entry.result.encrypted = Boolean(parsed.jarm);
    const disclosed = new Set();
    if (parsed.type === 'dcql') {
      const query = DcqlQuery.parse(entry.payload.dcql_query);
      DcqlQuery.validate(query);
      const forResult = {};
      for (const [qid, list] of Object.entries(parsed.dcql.presentations)) {
        forResult[qid] = [];
        for (const p of list) {
          if (qid === 'mdoc') {
            const docs = await verifyMdoc(p, entry, parsed);
            for (const d of docs) {
              for (const [ns, els] of Object.entries(d.elements)) Object.keys(els).forEach((e) => disclosed.add(`${ns}/${e}`));
              forResult[qid].push({ credential_format: 'mso_mdoc', doctype: d.docType, namespaces: d.elements, cryptographic_holder_binding: true });
            }
            continue;
          }
          const claims = await verifyPresentation(p, entry);
          disclosedClaimNames(p).forEach((c) => disclosed.add(c));
          forResult[qid].push({ credential_format: 'dc+sd-jwt', vct: claims.vct, claims, cryptographic_holder_binding: true });
        }
      }
      const result = DcqlPresentationResult.fromDcqlPresentation(forResult, { dcqlQuery: query });
      if (!result.can_be_satisfied) throw new Error('the presentations do not satisfy the DCQL query');
      entry.result.presented_to_queries = Object.keys(forResult);
    } else {
      const sub = parsed.pex.presentationSubmission;
      const ids = entry.payload.presentation_definition.input_descriptors.map((d) => d.id);
      if (sub.definition_id !== entry.payload.presentation_definition.id) throw new Error('definition_id mismatch');
      if (!sub.descriptor_map.every((d) => ids.includes(d.id))) throw new Error('unknown descriptor id');
      const submitted = new Set(sub.descriptor_map.map((d) => d.id));
      for (const r of entry.payload.presentation_definition.submission_requirements ?? []) {
        const group = entry.payload.presentation_definition.input_descriptors.filter((d) => d.group?.includes(r.from)).map((d) => d.id);
        const n = group.filter((id) => submitted.has(id)).length;
        if (r.rule === 'all' ? n !== group.length : (r.count !== undefined && n !== r.count)) throw new Error(`submission requirement ${r.name ?? r.from} not met`);
      }
      for (const p of parsed.pex.presentations) {
        const claims = await verifyPresentation(p, entry);
        disclosedClaimNames(p).forEach((c) => disclosed.add(c));
        for (const d of entry.payload.presentation_definition.input_descriptors.filter((x) => submitted.has(x.id))) {
          for (const f of d.constraints.fields) {
            const name = f.path[0].slice(2);
            if (claims[name] === undefined) throw new Error(`field ${name} missing`);
            if (f.filter?.const && claims[name] !== f.filter.const) throw new Error(`field ${name} filter`);
          }
        }
      }
      entry.result.presented_to_queries = sub.descriptor_map.map((d) => d.id);
    }
    entry.result.disclosed = [...disclosed].sort();
    entry.result.verified = true;
    return { status: 200, body: { redirect_uri: `${base}/done/${entry.id}` } };
  } catch (e) {
    entry.result.verified = false;
    entry.result.reason = String(e?.message ?? e).slice(0, 500);
    if (process.env.VERIFIER_DEBUG) console.error('verifier rejected:', e);
    return { status: 400, body: { error: 'invalid_request', error_description: entry.result.reason } };
  }
}

function send(res, status, body, type = 'application/json') {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 4 << 20) throw new Error('body too large');
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, base);
    const raw = await readBody(req);
    const [, section, id] = url.pathname.split('/');
    if (req.method === 'POST' && url.pathname === '/test/request') {
      const opts = JSON.parse(raw || '{}');
      const rid = crypto.randomBytes(8).toString('hex');
      const built = buildRequest(rid, opts);
      const entry = { id: rid, opts, ...built, result: { posts: 0, fetches: 0, verified: false } };
      requests.set(rid, entry);
      const requestUri = `${base}/request/${rid}`;
      const params = new URLSearchParams({ client_id: built.payload.client_id, request_uri: requestUri });
      if (opts.request_uri_method) params.set('request_uri_method', opts.request_uri_method);
      return send(res, 200, {
        id: rid, state: built.payload.state, nonce: built.payload.nonce, client_id: built.payload.client_id,
        request_uri_ref: requestUri, url: `openid4vp://?${params}`,
      });
    }
    if (req.method === 'GET' && url.pathname === '/test/did') return send(res, 200, { did: didWeb(), document: didDocument() });
    if (req.method === 'GET' && url.pathname === '/test/attester') return send(res, 200, { iss: ATTESTER_ISS, jwk: attesterJwk });
    const entry = requests.get(id);
    if (section === 'request' && entry) {
      entry.result.fetches += 1;
      let walletNonce;
      if (req.method === 'POST') {
        const form = new URLSearchParams(raw);
        walletNonce = form.get('wallet_nonce') ?? undefined;
        entry.result.wallet_metadata = JSON.parse(form.get('wallet_metadata') ?? 'null');
      }
      return send(res, 200, await requestObject(entry, walletNonce), 'application/oauth-authz-req+jwt');
    }
    if (section === 'response' && entry && req.method === 'POST') {
      const r = await handleResponse(entry, raw);
      return send(res, r.status, r.body);
    }
    if (section === 'result' && entry) return send(res, 200, entry.result);
    send(res, 404, { error: 'not_found' });
  } catch (e) {
    if (!res.headersSent) send(res, 500, { error: 'server_error', error_description: String(e?.message ?? e).slice(0, 300) });
  }
});
server.listen(port, '127.0.0.1', () => {
  base = `http://127.0.0.1:${server.address().port}`;
  console.log(JSON.stringify({ url: base }));
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
