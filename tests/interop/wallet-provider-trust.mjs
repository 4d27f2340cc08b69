// The interop issuer's trust in one wallet provider (ISSUER_OPTIONS.wallet_provider): key attestations must be
// signed by a key of the provider's JWKS (named by kid), carry the provider's issuer identifier, and point into the
// provider's status list at an entry that is not revoked. Only public libraries: jose for JWS/JWKS, node:zlib for
// the status list (IETF OAuth Token Status List: bit i % 8 of byte i / 8, zlib, base64url).
//
//   wallet_provider: {
//     issuer,           the provider's issuer identifier (the attestation's iss)
//     jwks_uri,         where its JWKS is fetched
//     status_list_uri,  the status list URI the attestations must name
//     status_list_url?  where that list is fetched, when the named URI is not reachable from the test (default: it)
//   }
import zlib from 'node:zlib';
import * as jose from 'jose';

export function walletProviderTrust(opts) {
  if (!opts) return null;
  const fetchJson = async (url) => {
    const r = await fetch(url);
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    return r.json();
  };
  const keys = async () => jose.createLocalJWKSet(await fetchJson(opts.jwks_uri));
  return {
    // Verifies a key attestation's (or, with typ, a client attestation's) signature, typ, issuer and lifetime;
    // returns the provider's JWK that signed it.
    async verifyAttestation(compact, typ = 'key-attestation+jwt') {
      const jwks = await fetchJson(opts.jwks_uri);
      const { protectedHeader } = await jose.jwtVerify(compact, jose.createLocalJWKSet(jwks), {
        issuer: opts.issuer,
        typ,
        algorithms: ['ES256'],
      });
      return jwks.keys.find((k) => k.kid === protectedHeader.kid);
    },
    // Throws unless the attestation's status entry is in the provider's list and not revoked.
    async checkStatus(payload) {
      const ref = payload.status?.status_list;
      if (!ref || !Number.isInteger(ref.idx) || ref.idx < 0) throw new Error('the key attestation has no status entry');
      if (ref.uri !== opts.status_list_uri) throw new Error(`status list ${ref.uri} is not the wallet provider's`);
      const r = await fetch(opts.status_list_url ?? opts.status_list_uri);
      if (!r.ok) throw new Error(`status list: HTTP ${r.status}`);
      const { payload: list } = await jose.jwtVerify(await r.text(), await keys(), {
        typ: 'statuslist+jwt',
        algorithms: ['ES256'],
        subject: opts.status_list_uri,
      });
      if (list.status_list?.bits !== 1) throw new Error('unsupported status list bits');
      const bytes = zlib.inflateSync(Buffer.from(list.status_list.lst, 'base64url'));
      if (ref.idx >= bytes.length * 8) throw new Error('status index outside the list');
      if ((bytes[ref.idx >> 3] >> (ref.idx & 7)) & 1) throw new Error('the key attestation is revoked');
    },
  };
}
