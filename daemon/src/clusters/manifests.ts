// MetalLB manifests for a cluster's service addresses (its `services` allocations in IP pools).
import { stringify } from 'yaml'
import type { Store } from '../store/index.js'

/** The cluster's MetalLB manifests, from its `services` allocations. */
export function clusterManifests (store: Store, c: { id: number; name: string }): string {
  return metallbManifests(c.name, store.pools.allocations({ clusterId: c.id }).filter(a => a.purpose === 'services'), name => store.pools.get(name)?.delivery ?? 'l2')
}

/**
 * One MetalLB IPAddressPool per rackboot pool the cluster has service addresses in, and an
 * L2Advertisement for those delivered on the LAN (BGP and routed pools need the operator's
 * peering or route, so they get the pool only).
 */
export function metallbManifests (cluster: string, allocs: ReadonlyArray<{ pool: string; cidr: string | null; address: string; first: string; last: string }>, delivery: (pool: string) => string): string {
  const byPool = new Map<string, string[]>()
  for (const a of allocs) byPool.set(a.pool, [...(byPool.get(a.pool) ?? []), a.cidr ?? `${a.address}/32`])
  const docs: object[] = []
  for (const [pool, addresses] of byPool) {
    const name = `rackboot-${pool}`
    docs.push({ apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name, namespace: 'metallb-system', labels: { 'rackboot.dev/cluster': cluster } }, spec: { addresses, autoAssign: true } })
    if (delivery(pool) === 'l2') docs.push({ apiVersion: 'metallb.io/v1beta1', kind: 'L2Advertisement', metadata: { name, namespace: 'metallb-system', labels: { 'rackboot.dev/cluster': cluster } }, spec: { ipAddressPools: [name] } })
  }
  return docs.length === 0 ? `# cluster ${cluster} has no service addresses: allocate some with purpose "services"\n` : docs.map(d => stringify(d)).join('---\n')
}
