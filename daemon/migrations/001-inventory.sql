-- rackboot inventory, version 1.
-- Times are integer milliseconds since the Unix epoch (UTC). MACs are lowercase
-- colon form, IPv4 addresses dotted quads: both normalised before they get here.

CREATE TABLE machines (
  id           INTEGER PRIMARY KEY,
  hostname     TEXT    NOT NULL UNIQUE,
  lan          TEXT    NOT NULL,
  ipv4         TEXT,
  image        TEXT,
  role         TEXT,
  labels       TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(labels) AND json_type(labels) = 'object'),
  bmc_address  TEXT,
  bmc_mac      TEXT,
  state        TEXT    NOT NULL DEFAULT 'ready'
               CHECK (state IN ('discovered', 'ready', 'provisioning', 'provisioned', 'failed')),
  netboot      INTEGER NOT NULL DEFAULT 1 CHECK (netboot IN (0, 1)),
  arch         TEXT,
  uuid         TEXT,
  first_seen   INTEGER,
  last_seen    INTEGER,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  UNIQUE (lan, ipv4)
);
CREATE INDEX machines_lan_state ON machines (lan, state);
CREATE INDEX machines_state ON machines (state);

-- A machine has one or more NICs; each MAC belongs to one machine only.
CREATE TABLE machine_macs (
  mac        TEXT    PRIMARY KEY,
  machine_id INTEGER NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
  position   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX machine_macs_machine ON machine_macs (machine_id, position);

-- One row per address per LAN; an address is never held by two MACs.
CREATE TABLE leases (
  lan         TEXT    NOT NULL,
  ipv4        TEXT    NOT NULL,
  mac         TEXT    NOT NULL,
  machine_id  INTEGER REFERENCES machines (id) ON DELETE SET NULL,
  state       TEXT    NOT NULL CHECK (state IN ('offered', 'bound', 'declined', 'released', 'expired')),
  client_id   TEXT,
  hostname    TEXT,
  starts_at   INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (lan, ipv4)
) WITHOUT ROWID;
CREATE INDEX leases_mac ON leases (mac);
CREATE UNIQUE INDEX leases_active_mac ON leases (lan, mac) WHERE state IN ('offered', 'bound');

-- Append-only history: who did what, when, to which machine, on which LAN.
CREATE TABLE events (
  id          INTEGER PRIMARY KEY,
  ts          INTEGER NOT NULL,
  actor       TEXT    NOT NULL,
  type        TEXT    NOT NULL,
  machine_id  INTEGER,
  lan         TEXT,
  mac         TEXT,
  detail      TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(detail))
);
CREATE INDEX events_machine ON events (machine_id, id);
CREATE INDEX events_type ON events (type, id);
CREATE TRIGGER events_append_only BEFORE UPDATE ON events
BEGIN
  SELECT RAISE(ABORT, 'events are append-only');
END;

-- API bearer tokens: only a SHA-256 of the token is stored.
CREATE TABLE api_tokens (
  id            INTEGER PRIMARY KEY,
  name          TEXT    NOT NULL UNIQUE,
  hash          TEXT    NOT NULL UNIQUE,
  read_only     INTEGER NOT NULL CHECK (read_only IN (0, 1)),
  created_at    INTEGER NOT NULL,
  last_used_at  INTEGER,
  revoked_at    INTEGER
);
