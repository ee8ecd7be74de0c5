-- BMC settings per machine (issue 15): the driver and how to log in. The password is sealed
-- (AES-256-GCM under the secrets key, store/secrets.ts) and never returned by the API.
-- `power_state` is the last state a BMC reported, and when.
ALTER TABLE machines ADD COLUMN bmc_driver TEXT CHECK (bmc_driver IS NULL OR bmc_driver IN ('ipmi', 'redfish'));
ALTER TABLE machines ADD COLUMN bmc_port INTEGER CHECK (bmc_port IS NULL OR (bmc_port BETWEEN 1 AND 65535));
ALTER TABLE machines ADD COLUMN bmc_username TEXT;
ALTER TABLE machines ADD COLUMN bmc_password TEXT;
ALTER TABLE machines ADD COLUMN bmc_cipher_suite INTEGER;
-- Redfish: verify the BMC's TLS certificate (default on), against a CA file or a pinned
-- SHA-256 fingerprint; the system's Id when the service has several.
ALTER TABLE machines ADD COLUMN bmc_tls_verify INTEGER CHECK (bmc_tls_verify IS NULL OR bmc_tls_verify IN (0, 1));
ALTER TABLE machines ADD COLUMN bmc_ca_file TEXT;
ALTER TABLE machines ADD COLUMN bmc_fingerprint TEXT;
ALTER TABLE machines ADD COLUMN bmc_system_id TEXT;
ALTER TABLE machines ADD COLUMN power_state TEXT CHECK (power_state IS NULL OR power_state IN ('on', 'off'));
ALTER TABLE machines ADD COLUMN power_checked_at INTEGER;
-- DHCP on a management LAN finds a machine by its BMC's MAC, and keeps BMC addresses out of pools.
CREATE INDEX machines_bmc_mac ON machines (bmc_mac);
CREATE INDEX machines_bmc_address ON machines (bmc_address);
