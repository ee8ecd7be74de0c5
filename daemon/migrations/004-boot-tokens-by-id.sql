-- Boot tokens keyed by a sequential id that the token itself carries (its first 6 bytes),
-- instead of by the SHA-256 of the token. Keyed by hash, every token minted in a boot storm
-- landed on a random page of two B-trees (the table and its machine index): each group commit
-- wrote one page per token to the WAL, a third of the iPXE script endpoint's time. Now inserts
-- append to the last page. The machine index and the foreign key are gone with it: a token is
-- only honoured while its machine exists and is older than the token (BootTokenStore.check),
-- and expired tokens are pruned by the daemon.
-- Tokens minted before this migration stop working: a machine that was mid-boot during the
-- upgrade gets 403 at phone-home and stays `provisioning` until it is reprovisioned.
DROP TABLE boot_tokens;
CREATE TABLE boot_tokens (
  id          INTEGER PRIMARY KEY,
  hash        BLOB    NOT NULL,
  machine_id  INTEGER NOT NULL,
  image       TEXT    NOT NULL,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  used_at     INTEGER
);
