-- A lease belongs to a client key: the MAC (default, and always for reservations), or
-- `id:<hex>` of the client identifier (option 61) on a LAN with `leaseIdentity: client-id`,
-- where two clients behind one MAC hold separate leases. Existing leases keep their MAC.
ALTER TABLE leases ADD COLUMN client_key TEXT NOT NULL DEFAULT '';
UPDATE leases SET client_key = mac;
DROP INDEX leases_active_mac;
-- A row without a key (written by hand) counts as keyed by its MAC, as LeaseStore reads it.
CREATE UNIQUE INDEX leases_active_client ON leases (lan, coalesce(nullif(client_key, ''), mac)) WHERE state IN ('offered', 'bound');
