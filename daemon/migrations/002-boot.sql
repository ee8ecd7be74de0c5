-- Netboot: one-time boot tokens. Each rendered netboot script mints one for the machine and
-- that boot attempt; phone-home consumes it. Only a SHA-256 of the token is stored.
CREATE TABLE boot_tokens (
  hash        TEXT    PRIMARY KEY,
  machine_id  INTEGER NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
  image       TEXT    NOT NULL,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  used_at     INTEGER
) WITHOUT ROWID;
CREATE INDEX boot_tokens_machine ON boot_tokens (machine_id, created_at);
