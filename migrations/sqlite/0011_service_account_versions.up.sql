-- A client's service-account user is part of the client, as the token
-- endpoint caches it: writing such a row moves its realm's config counter
-- (package store/cache), so a client_credentials grant reads no user row
-- and still sees a disabled or edited service account at once. Other
-- users' writes move nothing (WHEN), so logins and imports never flush the
-- realm's caches.
CREATE TRIGGER users_sa_cache_ins AFTER INSERT ON users WHEN NEW.service_account <> '' BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER users_sa_cache_upd AFTER UPDATE ON users
    WHEN NEW.service_account <> '' OR OLD.service_account <> '' BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id IN (NEW.realm_id, OLD.realm_id);
END;
CREATE TRIGGER users_sa_cache_del AFTER DELETE ON users WHEN OLD.service_account <> '' BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = OLD.realm_id;
END;
