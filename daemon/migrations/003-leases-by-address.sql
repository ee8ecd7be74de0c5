-- TFTP transfers and image downloads are tied to machines by the client's address alone
-- (LeaseStore.holderOf): without this index each lookup scanned every lease.
CREATE INDEX leases_ipv4 ON leases (ipv4, state);
