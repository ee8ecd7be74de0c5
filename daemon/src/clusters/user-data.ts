// The installed OS's cloud-init user-data for a cluster node: what installedUserData gives
// every installed machine (hostname, phone-home) plus the node's kubeadm material as
// `write_files` and the runner in `runcmd` (cloud-init runs runcmd's scripts before phone_home,
// both in its final stage).
import { RUNNER, type NodeFile } from './material.js'

export function clusterUserData (o: { hostname: string; fqdn: string | null; phoneHomeUrl: string; files: readonly NodeFile[] }): string {
  const doc = {
    hostname: o.hostname,
    ...(o.fqdn === null ? {} : { fqdn: o.fqdn }),
    preserve_hostname: false,
    write_files: o.files.map(f => ({
      path: f.path,
      owner: 'root:root',
      permissions: '0' + f.mode.toString(8),
      encoding: 'b64',
      content: Buffer.from(f.content, 'utf8').toString('base64')
    })),
    runcmd: [[RUNNER]],
    phone_home: { url: o.phoneHomeUrl, post: ['instance_id', 'hostname', 'fqdn'], tries: 10 }
  }
  // JSON is YAML: cloud-init reads it as cloud-config, and it renders far faster than YAML.
  return '#cloud-config\n' + JSON.stringify(doc) + '\n'
}
