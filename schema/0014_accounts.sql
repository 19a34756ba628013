-- Operator accounts and roles (issue 13): people sign in with their own identity (magic link or
-- passkey) into cookie sessions, every role may do what domain/roles.ts says, and every operator
-- action is written to an audit log naming who took it.

-- Operator API tokens carry a role too. Existing tokens (and the one POST /admin/tenants
-- returns) keep owner rights, so clients and scripts go on working. Ingest keys ignore it.
ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'owner';

-- One row per person per tenant; an e-mail may belong to several tenants.
CREATE TABLE members (
  id              TEXT PRIMARY KEY,
  tenant_id       TEXT NOT NULL REFERENCES tenants(id),
  email           TEXT NOT NULL,            -- lower case
  name            TEXT,
  role            TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('invited', 'active', 'removed')),
  invited_by      TEXT,                     -- the actor that invited them
  created_at      INTEGER NOT NULL,
  last_sign_in_at INTEGER,
  removed_at      INTEGER
);
CREATE UNIQUE INDEX members_by_tenant_email ON members (tenant_id, email);
CREATE INDEX members_by_email ON members (email);

-- Cookie sessions. The cookie holds `<id>.<secret>`; only SHA-256(secret) is stored.
CREATE TABLE sessions (
  id           TEXT PRIMARY KEY,
  secret_hash  TEXT NOT NULL,
  tenant_id    TEXT NOT NULL,
  member_id    TEXT NOT NULL REFERENCES members(id),
  method       TEXT NOT NULL CHECK (method IN ('magic_link', 'passkey')),
  user_agent   TEXT,
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  revoked_at   INTEGER
);
CREATE INDEX sessions_by_member ON sessions (member_id, revoked_at);

-- Single-use sign-in links (magic links and invitations); only SHA-256(token) is stored.
CREATE TABLE sign_in_links (
  token_hash  TEXT PRIMARY KEY,
  tenant_id   TEXT NOT NULL,
  member_id   TEXT NOT NULL REFERENCES members(id),
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  used_at     INTEGER
);
CREATE INDEX sign_in_links_by_member ON sign_in_links (member_id, created_at);

-- WebAuthn credentials (passkeys) of a member.
CREATE TABLE passkeys (
  id           TEXT PRIMARY KEY,            -- the credential id, base64url
  tenant_id    TEXT NOT NULL,
  member_id    TEXT NOT NULL REFERENCES members(id),
  public_key   TEXT NOT NULL,               -- COSE public key, base64url
  counter      INTEGER NOT NULL,
  transports   TEXT NOT NULL DEFAULT '[]',
  name         TEXT,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER
);
CREATE INDEX passkeys_by_member ON passkeys (member_id);

-- Outstanding WebAuthn challenges (registration: bound to a member; sign-in: to no one yet).
CREATE TABLE auth_challenges (
  id          TEXT PRIMARY KEY,
  challenge   TEXT NOT NULL,
  purpose     TEXT NOT NULL CHECK (purpose IN ('register', 'sign_in')),
  member_id   TEXT,
  expires_at  INTEGER NOT NULL
);

-- Who did what: every state-changing operator request that succeeded, and sign-ins and -outs.
CREATE TABLE audit_log (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id    TEXT NOT NULL,
  at           INTEGER NOT NULL,
  actor        TEXT NOT NULL,               -- member:<email> or token:<key id>
  actor_name   TEXT,                        -- the member's name or the token's name
  actor_role   TEXT NOT NULL,
  action       TEXT NOT NULL,               -- e.g. invoice.pay, policy.update, session.sign_in
  target_type  TEXT,
  target_id    TEXT,
  detail       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_by_tenant ON audit_log (tenant_id, seq DESC);
CREATE INDEX audit_by_tenant_time ON audit_log (tenant_id, at);
CREATE INDEX audit_by_target ON audit_log (tenant_id, target_type, target_id, at DESC);
