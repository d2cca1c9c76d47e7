-- Rows as keygate 0009 wrote them. Never edit it; add NNNN.sql for later steps.
-- realm_versions is filled by the migration (realm "seed" from 0001) and
-- its triggers; a write to a cached table moves the seed realm's counter.
UPDATE roles SET description = description WHERE realm_id = 'seed';
