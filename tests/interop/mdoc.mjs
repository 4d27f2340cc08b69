// mdoc (ISO/IEC 18013-5) pieces of the interop peers, on the public @owf/mdoc library: the crypto context it asks
// for (node:crypto), a test PKI made with the openssl CLI (an IACA and a document signer it certifies, plus an
// unrelated IACA + signer for negative tests), issuance of IssuerSigned and full DeviceResponse verification.
// Shares no code with walletd.
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoseKey, DeviceKey, Issuer, SessionTranscript, SignatureAlgorithm, Verifier, DeviceResponse } from '@owf/mdoc';

const HASHES = { 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };
const COSE_HASH = { ES256: 'sha256', ES384: 'sha384', ES512: 'sha512', [-7]: 'sha256', [-35]: 'sha384', [-36]: 'sha512' };

function nodeKey(coseKey) {
  const jwk = coseKey.jwk;
  const isPrivate = Boolean(jwk.d);
  const clean = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, ...(isPrivate ? { d: jwk.d } : {}) };
  return isPrivate ? crypto.createPrivateKey({ key: clean, format: 'jwk' }) : crypto.createPublicKey({ key: clean, format: 'jwk' });
}

function nameFields(name, field) {
  return name.split('\n').map((l) => l.split('=')).filter(([k]) => k === field).map(([, ...v]) => v.join('='));
}

export const mdocContext = {
  crypto: {
    random: (n) => new Uint8Array(crypto.randomBytes(n)),
    digest: ({ digestAlgorithm, bytes }) => new Uint8Array(crypto.createHash(HASHES[digestAlgorithm]).update(bytes).digest()),
    calculateEphemeralMacKey: () => {
      throw new Error('MAC device authentication is not used');
    },
  },
  cose: {
    sign1: {
      sign: ({ toBeSigned, key, algorithm }) =>
        new Uint8Array(crypto.sign(COSE_HASH[algorithm ?? 'ES256'] ?? 'sha256', toBeSigned, { key: nodeKey(key), dsaEncoding: 'ieee-p1363' })),
      verify: ({ key, sign1 }) => {
        const alg = sign1.signatureAlgorithmName;
        return crypto.verify(COSE_HASH[alg] ?? 'sha256', sign1.toBeSigned, { key: nodeKey(key), dsaEncoding: 'ieee-p1363' }, sign1.signature);
      },
    },
    mac0: {
      sign: () => {
        throw new Error('MAC is not used');
      },
      verify: () => false,
    },
  },
  x509: {
    getIssuerNameField: ({ certificate, field }) => nameFields(new crypto.X509Certificate(certificate).issuer, field),
    getPublicKey: ({ certificate }) => CoseKey.fromJwk(new crypto.X509Certificate(certificate).publicKey.export({ format: 'jwk' })),
    verifyCertificateChain: ({ trustedCertificates, x5chain, now }) => {
      const at = now ?? new Date();
      const chain = x5chain.map((c) => new crypto.X509Certificate(c));
      const anchors = trustedCertificates.map((c) => new crypto.X509Certificate(c));
      for (const c of chain) {
        if (new Date(c.validFrom) > at || new Date(c.validTo) < at) throw new Error(`certificate ${c.subject} is not valid now`);
      }
      for (let i = 0; i + 1 < chain.length; i++) {
        if (!chain[i].checkIssued(chain[i + 1]) || !chain[i].verify(chain[i + 1].publicKey)) throw new Error('broken chain');
      }
      const last = chain[chain.length - 1];
      const ok = anchors.some((a) => a.raw.equals(last.raw) || (last.checkIssued(a) && last.verify(a.publicKey)));
      if (!ok) throw new Error('the chain does not lead to a trusted IACA');
    },
    getCertificateData: ({ certificate }) => {
      const c = new crypto.X509Certificate(certificate);
      return {
        issuerName: c.issuer,
        subjectName: c.subject,
        serialNumber: c.serialNumber,
        thumbprint: c.fingerprint256.replaceAll(':', '').toLowerCase(),
        notBefore: new Date(c.validFrom),
        notAfter: new Date(c.validTo),
        pem: c.toString(),
      };
    },
  },
};

function openssl(args, dir) {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

// An IACA (self-signed CA) and a document signer certified by it, P-256. Returns DER certificates and the
// signer's private JWK.
function makeChain(dir, name) {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', `${name}-iaca.key`, '-out', `${name}-iaca.pem`, '-days', '30',
    '-subj', `/C=SE/CN=walletd interop ${name} IACA`, '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  openssl(['req', '-new', ...ec, '-keyout', `${name}-ds.key`, '-out', `${name}-ds.csr`, '-subj', `/C=SE/CN=walletd interop ${name} DS`], dir);
  fs.writeFileSync(path.join(dir, 'ds.ext'), 'keyUsage=critical,digitalSignature\nextendedKeyUsage=1.0.18013.5.1.2\n');
  openssl(['x509', '-req', '-in', `${name}-ds.csr`, '-CA', `${name}-iaca.pem`, '-CAkey', `${name}-iaca.key`, '-CAcreateserial',
    '-out', `${name}-ds.pem`, '-days', '30', '-extfile', 'ds.ext'], dir);
  const der = (f) => new Uint8Array(new crypto.X509Certificate(fs.readFileSync(path.join(dir, f))).raw);
  const dsJwk = crypto.createPrivateKey(fs.readFileSync(path.join(dir, `${name}-ds.key`))).export({ format: 'jwk' });
  return { iaca: der(`${name}-iaca.pem`), ds: der(`${name}-ds.pem`), dsJwk };
}

export function makePki() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mdoc-pki-'));
  try {
    return { trusted: makeChain(dir, 'trusted'), rogue: makeChain(dir, 'rogue') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export const DOCTYPES = {
  pid: { docType: 'eu.europa.ec.eudi.pid.1', namespace: 'eu.europa.ec.eudi.pid.1' },
  mdl: { docType: 'org.iso.18013.5.1.mDL', namespace: 'org.iso.18013.5.1' },
};

const ELEMENTS = {
  pid: { family_name: 'Mustermann', given_name: 'Erika', birth_date: '1964-08-12', age_over_18: true, nationality: 'DE' },
  mdl: { family_name: 'Mustermann', given_name: 'Erika', document_number: 'X1234567', issuing_country: 'SE', age_over_18: true,
    driving_privileges: [{ vehicle_category_code: 'B', issue_date: '2020-01-01' }] },
};

// An IssuerSigned for `kind` ("pid" | "mdl") bound to holderJwk, base64url. `variant` makes broken ones for negative
// tests: "expired" (validUntil in the past), "wrong_doctype", "rogue" (signed by a signer of another IACA),
// "tampered" (an element value changed after signing), "oversized" (a 64 KiB portrait element), "deep" (an element
// nested 200 arrays deep).
export async function issueMdoc(pki, kind, holderJwk, variant) {
  const { docType, namespace } = DOCTYPES[kind];
  const chain = variant === 'rogue' ? pki.rogue : pki.trusted;
  const now = Date.now();
  const validity = variant === 'expired'
    ? { signed: new Date(now - 3 * 86400e3), validFrom: new Date(now - 3 * 86400e3), validUntil: new Date(now - 86400e3) }
    // Signed now: verifiers require the signing time inside the document signer certificate's validity, which
    // starts when the PKI is made (just before the first issuance).
    : { signed: new Date(now), validFrom: new Date(now), validUntil: new Date(now + 365 * 86400e3) };
  const issuer = new Issuer(variant === 'wrong_doctype' ? 'org.example.other.1' : docType, mdocContext);
  const elements = { ...ELEMENTS[kind] };
  if (variant === 'oversized') elements.portrait = new Uint8Array(64 * 1024);
  if (variant === 'deep') {
    let v = 'bottom';
    for (let i = 0; i < 200; i++) v = [v];
    elements.nested = v;
  }
  issuer.addIssuerNamespace(namespace, elements);
  const issuerSigned = await issuer.sign({
    signingKey: CoseKey.fromJwk(chain.dsJwk),
    algorithm: SignatureAlgorithm.ES256,
    digestAlgorithm: 'SHA-256',
    validityInfo: validity,
    deviceKeyInfo: { deviceKey: DeviceKey.fromJwk(holderJwk) },
    certificates: [chain.ds],
  });
  let bytes = issuerSigned.encode();
  if (variant === 'tampered') bytes = tamper(bytes, 'Erika', 'Erikb');
  return Buffer.from(bytes).toString('base64url');
}

// Replaces the first occurrence of a text in CBOR bytes (same length: the structure stays valid, the digest breaks).
export function tamper(bytes, from, to) {
  const buf = Buffer.from(bytes);
  const i = buf.indexOf(Buffer.from(from));
  if (i < 0) throw new Error('nothing to tamper with');
  Buffer.from(to).copy(buf, i);
  return new Uint8Array(buf);
}

// Verifies a base64url DeviceResponse for an OpenID4VP 1.0 redirect-flow presentation (handover from client_id,
// nonce, response_uri and, when encrypted, the JWK thumbprint of the verifier's encryption key). Returns
// {docType, elements: {namespace: {id: value}}} per document, or throws.
export async function verifyDeviceResponse(encoded, { clientId, nonce, responseUri, jwkThumbprint, trusted }) {
  const sessionTranscript = await SessionTranscript.forOid4Vp({ clientId, nonce, responseUri, jwkThumbprint }, mdocContext);
  const deviceResponse = DeviceResponse.fromEncodedForOid4Vp(encoded);
  const failures = [];
  await Verifier.verifyDeviceResponse({
    deviceResponse,
    sessionTranscript,
    trustedCertificates: trusted,
    onCheck: (c) => {
      if (c.status === 'FAILED') failures.push(`${c.category}: ${c.check}`);
    },
  }, mdocContext);
  if (failures.length) throw new Error(failures.join('; '));
  return (deviceResponse.documents ?? []).map((d) => {
    const elements = {};
    for (const [ns, items] of d.issuerSigned.issuerNamespaces?.issuerNamespaces ?? new Map()) {
      elements[ns] = Object.fromEntries(items.map((i) => [i.elementIdentifier, i.elementValue]));
    }
    return { docType: d.docType, elements };
  });
}
