-- What a key ring signs: `tokens` (the auth role's access tokens, published in /.well-known/jwks.json) or
-- `wallet-provider` (the wallet provider's attestations, its own JWKS). Both live in `signing_keys`; the auth role
-- warns when the database holds token rings of other key files (replicas that would refuse each other's tokens),
-- and must not count the provider's ring among them. Rings that existed before are token rings until the provider
-- claims its own at its next start.
ALTER TABLE signing_keys ADD COLUMN purpose TEXT NOT NULL DEFAULT 'tokens';
