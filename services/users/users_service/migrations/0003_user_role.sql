-- The role a login token carries: 'user' for everyone who signs up, 'admin' only for the account that
-- users-migrate seeds from Vault (docs/adr/0005-api-tokens-and-roles.md).
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user';
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('user', 'admin'));
