-- The change-feed index becomes partial (`seq > 0`; every stored seq is >= 1) so that only a query that says
-- `seq > 0` can use it. Without table statistics (a fresh or bulk-loaded table that has not been analysed yet)
-- PostgreSQL costs this index and the primary key the same for a lookup by (tenant_id, user_id, id) and picked this
-- one, filtering the user's every blob on id: a blob GET then cost O(blobs of the user). The change feed says
-- `seq > 0` and keeps its index; lookups and listings by id can only use the primary key.
DROP INDEX storage_blobs_by_seq;
CREATE INDEX storage_blobs_by_seq ON storage_blobs (tenant_id, user_id, seq) WHERE seq > 0;
