-- PostgreSQL only (its 0013 takes active out of tokens_request so that a
-- refresh's spend is a heap-only update). SQLite has no such update: the
-- spent row's index entry sits on the leaf page the chain's new token is
-- written to anyway, so tokens_request keeps active and revoking a chain
-- still seeks to its active rows (TestTokenQueryPlans).
SELECT 1;
