-- Clusters, their PKI and bootstrap tokens, and IP pools for floating addresses (issue 14).
-- Secrets (CA and service-account private keys, bootstrap token secrets) are never stored in
-- clear: `sealed` columns hold AES-256-GCM boxes (store/secrets.ts) under a key that lives
-- outside the database.

-- Small facts about the database itself, e.g. a value sealed with the secrets key, so a daemon
-- started with another key file says so at start instead of failing on first use.
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE ip_pools (
  id          INTEGER PRIMARY KEY,
  name        TEXT    NOT NULL UNIQUE,
  -- What the operator wrote (a CIDR or ranges), and the ranges as [[first, last], ...] of uint32.
  cidr        TEXT,
  ranges      TEXT    NOT NULL CHECK (json_valid(ranges)),
  reserved    TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(reserved)),
  lan         TEXT,
  -- How addresses of this pool reach the nodes: l2 (MetalLB L2Advertisement), bgp, routed.
  delivery    TEXT    NOT NULL DEFAULT 'l2' CHECK (delivery IN ('l2', 'bgp', 'routed')),
  description TEXT,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

CREATE TABLE clusters (
  id               INTEGER PRIMARY KEY,
  name             TEXT    NOT NULL UNIQUE,
  version          TEXT    NOT NULL,
  endpoint_host    TEXT    NOT NULL,
  endpoint_port    INTEGER NOT NULL DEFAULT 6443,
  pod_cidr         TEXT    NOT NULL,
  service_cidr     TEXT    NOT NULL,
  dns_domain       TEXT    NOT NULL DEFAULT 'cluster.local',
  key_algorithm    TEXT    NOT NULL CHECK (key_algorithm IN ('ecdsa-p256', 'rsa-2048')),
  state            TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'initialising', 'ready', 'failed')),
  state_reason     TEXT,
  -- The control plane that runs `kubeadm init`: NULL means the first control plane (lowest id).
  init_machine_id  INTEGER REFERENCES machines (id) ON DELETE SET NULL,
  -- Whether the init node applies the cluster's MetalLB manifests after kubeadm init succeeds.
  apply_manifests  INTEGER NOT NULL DEFAULT 0 CHECK (apply_manifests IN (0, 1)),
  -- Public PKI files and the CA pin (JSON); private keys are in cluster_secrets.
  pki              TEXT    NOT NULL CHECK (json_valid(pki)),
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);

CREATE TABLE cluster_secrets (
  cluster_id INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
  name       TEXT    NOT NULL,
  sealed     TEXT    NOT NULL,
  PRIMARY KEY (cluster_id, name)
);

-- kubeadm bootstrap tokens `<id>.<secret>`: the id is public (it names the token's Secret in
-- kube-system), the secret is sealed. `in_cluster`: handed to an init node's kubeadm init,
-- which creates it in the cluster; only such a token is given to joining nodes.
CREATE TABLE bootstrap_tokens (
  id          INTEGER PRIMARY KEY,
  cluster_id  INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
  token_id    TEXT    NOT NULL UNIQUE,
  sealed      TEXT    NOT NULL,
  expires_at  INTEGER NOT NULL,
  in_cluster  INTEGER NOT NULL DEFAULT 0 CHECK (in_cluster IN (0, 1)),
  created_at  INTEGER NOT NULL
);
CREATE INDEX bootstrap_tokens_cluster ON bootstrap_tokens (cluster_id, expires_at);

-- One allocation: an address or an aligned block [first, last] of a pool, owned by a cluster
-- or a machine (freed with its owner) or by nobody (released by hand).
CREATE TABLE ip_allocations (
  id          INTEGER PRIMARY KEY,
  pool_id     INTEGER NOT NULL REFERENCES ip_pools (id) ON DELETE CASCADE,
  first       INTEGER NOT NULL,
  last        INTEGER NOT NULL,
  cluster_id  INTEGER REFERENCES clusters (id) ON DELETE CASCADE,
  machine_id  INTEGER REFERENCES machines (id) ON DELETE CASCADE,
  purpose     TEXT    CHECK (purpose IS NULL OR purpose IN ('vip', 'services')),
  comment     TEXT,
  created_at  INTEGER NOT NULL,
  CHECK (last >= first)
);
CREATE INDEX ip_allocations_pool ON ip_allocations (pool_id, first);
CREATE INDEX ip_allocations_cluster ON ip_allocations (cluster_id);

-- A machine's cluster membership: `role` (already a column) is then control-plane or worker;
-- `cluster_status` follows its kubeadm run (pending → joined | failed), `cluster_reason` says why.
ALTER TABLE machines ADD COLUMN cluster_id INTEGER REFERENCES clusters (id) ON DELETE SET NULL;
ALTER TABLE machines ADD COLUMN cluster_status TEXT CHECK (cluster_status IS NULL OR cluster_status IN ('pending', 'running', 'joined', 'failed'));
ALTER TABLE machines ADD COLUMN cluster_reason TEXT;
CREATE INDEX machines_cluster ON machines (cluster_id);
