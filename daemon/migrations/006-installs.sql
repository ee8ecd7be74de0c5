-- rackboot: foreign_keys=off
-- Disk installs (issue 13). A machine whose image is a disk image goes
-- provisioning → installed (the installer wrote and verified its disk) → provisioned (the
-- installed OS phoned home); `state_reason` says why a machine is `failed` (cleared by the next
-- state change); `install_disk` is the disk the installer writes (a /dev/disk/by-… path or a
-- device name; NULL: the first large-enough non-removable disk); `network` is how the installed
-- OS configures its NIC (NULL: the image's choice).
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt (SQLite's documented
-- procedure, with foreign keys off so that dropping the old table does not cascade into
-- machine_macs and leases; the runner checks foreign keys before it commits).
CREATE TABLE machines_new (
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
               CHECK (state IN ('discovered', 'ready', 'provisioning', 'installed', 'provisioned', 'failed')),
  netboot      INTEGER NOT NULL DEFAULT 1 CHECK (netboot IN (0, 1)),
  arch         TEXT,
  uuid         TEXT,
  first_seen   INTEGER,
  last_seen    INTEGER,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  state_reason TEXT,
  install_disk TEXT,
  network      TEXT    CHECK (network IS NULL OR network IN ('static', 'dhcp')),
  UNIQUE (lan, ipv4)
);
INSERT INTO machines_new (id, hostname, lan, ipv4, image, role, labels, bmc_address, bmc_mac, state, netboot, arch, uuid, first_seen, last_seen, created_at, updated_at)
  SELECT id, hostname, lan, ipv4, image, role, labels, bmc_address, bmc_mac, state, netboot, arch, uuid, first_seen, last_seen, created_at, updated_at FROM machines;
DROP TABLE machines;
ALTER TABLE machines_new RENAME TO machines;
CREATE INDEX machines_lan_state ON machines (lan, state);
CREATE INDEX machines_state ON machines (state);

-- What a boot token opens: `netboot` (a netbooted OS's seed and phone-home), `install` (the
-- installer's reports, its disk image and per-machine files), `seed` (the installed OS's seed
-- and phone-home, minted into the files the installer puts on the disk).
ALTER TABLE boot_tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'netboot' CHECK (kind IN ('netboot', 'install', 'seed'));
