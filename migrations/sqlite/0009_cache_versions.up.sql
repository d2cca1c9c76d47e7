-- Change counters for the caches (package store/cache): one row per realm,
-- moved by triggers in the transaction of every write to a cached table,
-- whichever process or code path makes it. A process compares the
-- counters it read with those its cached values were built under.
--   config:     the realm row, clients, client scopes, roles and their
--               composites, groups and their roles, keys, identity
--               providers and their mappers
--   grants:     users' role and group mappings
--   components: user federation components and mappers
-- A live realm's counters start at 1, so a deleted realm (no row) never
-- matches a value cached for it.
CREATE TABLE realm_versions (
    realm_id   TEXT PRIMARY KEY,
    config     BIGINT NOT NULL DEFAULT 1,
    grants     BIGINT NOT NULL DEFAULT 1,
    components BIGINT NOT NULL DEFAULT 1
);
INSERT INTO realm_versions (realm_id) SELECT id FROM realms;

CREATE TRIGGER realms_cache_ins AFTER INSERT ON realms BEGIN
    INSERT INTO realm_versions (realm_id) VALUES (NEW.id);
END;
CREATE TRIGGER realms_cache_upd AFTER UPDATE ON realms BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = NEW.id;
END;
CREATE TRIGGER realms_cache_del AFTER DELETE ON realms BEGIN
    DELETE FROM realm_versions WHERE realm_id = OLD.id;
END;
CREATE TRIGGER clients_cache_ins AFTER INSERT ON clients BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER clients_cache_upd AFTER UPDATE ON clients BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER clients_cache_del AFTER DELETE ON clients BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = OLD.realm_id;
END;
CREATE TRIGGER client_scopes_cache_ins AFTER INSERT ON client_scopes BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER client_scopes_cache_upd AFTER UPDATE ON client_scopes BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER client_scopes_cache_del AFTER DELETE ON client_scopes BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = OLD.realm_id;
END;
CREATE TRIGGER roles_cache_ins AFTER INSERT ON roles BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER roles_cache_upd AFTER UPDATE ON roles BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER roles_cache_del AFTER DELETE ON roles BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = OLD.realm_id;
END;
CREATE TRIGGER role_composites_cache_ins AFTER INSERT ON role_composites BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER role_composites_cache_upd AFTER UPDATE ON role_composites BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER role_composites_cache_del AFTER DELETE ON role_composites BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = OLD.realm_id;
END;
CREATE TRIGGER groups_cache_ins AFTER INSERT ON groups BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER groups_cache_upd AFTER UPDATE ON groups BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER groups_cache_del AFTER DELETE ON groups BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = OLD.realm_id;
END;
CREATE TRIGGER group_roles_cache_ins AFTER INSERT ON group_roles BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER group_roles_cache_upd AFTER UPDATE ON group_roles BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER group_roles_cache_del AFTER DELETE ON group_roles BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = OLD.realm_id;
END;
CREATE TRIGGER keys_cache_ins AFTER INSERT ON keys BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER keys_cache_upd AFTER UPDATE ON keys BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER keys_cache_del AFTER DELETE ON keys BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = OLD.realm_id;
END;
CREATE TRIGGER identity_providers_cache_ins AFTER INSERT ON identity_providers BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER identity_providers_cache_upd AFTER UPDATE ON identity_providers BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER identity_providers_cache_del AFTER DELETE ON identity_providers BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = OLD.realm_id;
END;
CREATE TRIGGER identity_provider_mappers_cache_ins AFTER INSERT ON identity_provider_mappers BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER identity_provider_mappers_cache_upd AFTER UPDATE ON identity_provider_mappers BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER identity_provider_mappers_cache_del AFTER DELETE ON identity_provider_mappers BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id = OLD.realm_id;
END;
CREATE TRIGGER user_roles_cache_ins AFTER INSERT ON user_roles BEGIN
    UPDATE realm_versions SET grants = grants + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER user_roles_cache_upd AFTER UPDATE ON user_roles BEGIN
    UPDATE realm_versions SET grants = grants + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER user_roles_cache_del AFTER DELETE ON user_roles BEGIN
    UPDATE realm_versions SET grants = grants + 1 WHERE realm_id = OLD.realm_id;
END;
CREATE TRIGGER user_groups_cache_ins AFTER INSERT ON user_groups BEGIN
    UPDATE realm_versions SET grants = grants + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER user_groups_cache_upd AFTER UPDATE ON user_groups BEGIN
    UPDATE realm_versions SET grants = grants + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER user_groups_cache_del AFTER DELETE ON user_groups BEGIN
    UPDATE realm_versions SET grants = grants + 1 WHERE realm_id = OLD.realm_id;
END;
CREATE TRIGGER components_cache_ins AFTER INSERT ON components BEGIN
    UPDATE realm_versions SET components = components + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER components_cache_upd AFTER UPDATE ON components BEGIN
    UPDATE realm_versions SET components = components + 1 WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER components_cache_del AFTER DELETE ON components BEGIN
    UPDATE realm_versions SET components = components + 1 WHERE realm_id = OLD.realm_id;
END;
