-- A client's service-account user is part of the client, as the token
-- endpoint caches it: writing such a row moves its realm's config counter
-- (package store/cache), so a client_credentials grant reads no user row
-- and still sees a disabled or edited service account at once. Other
-- users' writes move nothing (the filter below), so logins and imports
-- never flush the realm's caches. Statement-level, as in 0009: an import
-- batch moves a realm's counter once.
CREATE FUNCTION realm_versions_service_accounts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE realm_versions SET config = config + 1
        WHERE realm_id IN (SELECT realm_id FROM changed WHERE service_account <> '');
    RETURN NULL;
END $$;
CREATE FUNCTION realm_versions_service_accounts_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE realm_versions SET config = config + 1
        WHERE realm_id IN (SELECT realm_id FROM changed WHERE service_account <> ''
            UNION SELECT realm_id FROM was WHERE service_account <> '');
    RETURN NULL;
END $$;
CREATE TRIGGER users_sa_cache_ins AFTER INSERT ON users REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION realm_versions_service_accounts();
CREATE TRIGGER users_sa_cache_upd AFTER UPDATE ON users REFERENCING OLD TABLE AS was NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION realm_versions_service_accounts_upd();
CREATE TRIGGER users_sa_cache_del AFTER DELETE ON users REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION realm_versions_service_accounts();
