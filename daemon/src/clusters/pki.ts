// A cluster's PKI, made by rackboot before any node boots: the cluster CA, the front-proxy CA,
// the etcd CA and the service-account key pair, in kubeadm's file layout, and leaf
// certificates signed by them (an admin kubeconfig's client certificate, etcd's server and
// peer certificates, a late joiner's bootstrap identity).
// Certificates are built with @peculiar/x509 (Node has no certificate builder; it needs the
// reflect-metadata polyfill loaded first); keys, hashes and randomness come from node:crypto.
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { createHash, createPrivateKey, createPublicKey, randomBytes, webcrypto } from 'node:crypto'
import { isIP } from 'node:net'

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0])
const subtle = webcrypto.subtle
type CryptoKey = webcrypto.CryptoKey
type CryptoKeyPair = webcrypto.CryptoKeyPair

export type KeyAlgorithm = 'ecdsa-p256' | 'rsa-2048'
export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ['ecdsa-p256', 'rsa-2048']

/** kubeadm's ClusterConfiguration.encryptionAlgorithm for each (so the certificates kubeadm makes match ours). */
export const KUBEADM_ENCRYPTION: Record<KeyAlgorithm, string> = { 'ecdsa-p256': 'ECDSA-P256', 'rsa-2048': 'RSA-2048' }

const ALG: Record<KeyAlgorithm, webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams> = {
  'ecdsa-p256': { name: 'ECDSA', namedCurve: 'P-256' },
  'rsa-2048': { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }
}
const SIGN: Record<KeyAlgorithm, webcrypto.Algorithm | webcrypto.EcdsaParams> = {
  'ecdsa-p256': { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams,
  'rsa-2048': { name: 'RSASSA-PKCS1-v1_5' }
}

/** The files of a cluster's PKI that are public (certificates, the service-account public key). */
export interface PkiPublic {
  'ca.crt': string
  'front-proxy-ca.crt': string
  'etcd/ca.crt': string
  'sa.pub': string
}
/** The private keys: sealed at rest, served only to control-plane nodes while they provision. */
export interface PkiSecret {
  'ca.key': string
  'front-proxy-ca.key': string
  'etcd/ca.key': string
  'sa.key': string
}
export interface ClusterPki { public: PkiPublic; secret: PkiSecret; caCertHash: string; algorithm: KeyAlgorithm }

/** The CA pairs a cluster has, by their kubeadm file stem. */
export type CaName = 'ca' | 'front-proxy-ca' | 'etcd/ca'
const CA_CN: Record<CaName, string> = { ca: 'kubernetes', 'front-proxy-ca': 'front-proxy-ca', 'etcd/ca': 'etcd-ca' }

const YEAR_MS = 365 * 24 * 3600 * 1000
/** A certificate is valid from a little before it was made: a node's clock may lag behind ours. */
const BACKDATE_MS = 5 * 60 * 1000

const pem = (label: string, der: ArrayBuffer | Buffer): string => {
  const b64 = Buffer.from(der as ArrayBuffer).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`
}

/** A positive 128-bit serial (RFC 5280: at most 20 octets, non-negative). */
const serial = (): string => { const b = randomBytes(16); b[0] = (b[0] as number) & 0x7f | 0x01; return b.toString('hex') }

async function generate (algorithm: KeyAlgorithm): Promise<CryptoKeyPair> {
  return await subtle.generateKey(ALG[algorithm], true, ['sign', 'verify']) as CryptoKeyPair
}

async function privatePem (key: CryptoKey): Promise<string> {
  return pem('PRIVATE KEY', await subtle.exportKey('pkcs8', key))
}

/** The algorithm a PEM private key is for (our keys only: P-256 or RSA 2048). */
export function algorithmOfKey (keyPem: string): KeyAlgorithm {
  const k = createPrivateKey(keyPem)
  if (k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256'
  if (k.asymmetricKeyType === 'rsa') return 'rsa-2048'
  throw new Error(`unsupported key type ${k.asymmetricKeyType ?? '?'}`)
}

async function importSigningKey (keyPem: string): Promise<{ key: CryptoKey; algorithm: KeyAlgorithm }> {
  const algorithm = algorithmOfKey(keyPem)
  const der = createPrivateKey(keyPem).export({ format: 'der', type: 'pkcs8' })
  const key = await subtle.importKey('pkcs8', der, ALG[algorithm], false, ['sign'])
  return { key, algorithm }
}

/**
 * The CA pin kubeadm's `caCertHashes` holds: `sha256:` + hex SHA-256 of the CA certificate's
 * DER SubjectPublicKeyInfo (RFC 7469's pin, as `openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256sum`).
 */
export function caCertHash (certPem: string): string {
  const spki = createPublicKey(certPem).export({ type: 'spki', format: 'der' })
  return 'sha256:' + createHash('sha256').update(spki).digest('hex')
}

async function selfSignedCa (cn: string, algorithm: KeyAlgorithm, now: number, years: number): Promise<{ cert: string; key: string }> {
  const keys = await generate(algorithm)
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: [{ CN: [cn] }],
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + years * YEAR_MS),
    keys,
    signingAlgorithm: SIGN[algorithm],
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)
    ]
  })
  return { cert: cert.toString('pem') + '\n', key: await privatePem(keys.privateKey) }
}

/** The whole PKI of a new cluster. `caYears`: the CAs' validity (kubeadm's default is 10). */
export async function createClusterPki (algorithm: KeyAlgorithm, now: number, caYears = 10): Promise<ClusterPki> {
  const [ca, fp, etcd, sa] = await Promise.all([
    selfSignedCa(CA_CN.ca, algorithm, now, caYears),
    selfSignedCa(CA_CN['front-proxy-ca'], algorithm, now, caYears),
    selfSignedCa(CA_CN['etcd/ca'], algorithm, now, caYears),
    generate(algorithm)
  ])
  return {
    algorithm,
    public: { 'ca.crt': ca.cert, 'front-proxy-ca.crt': fp.cert, 'etcd/ca.crt': etcd.cert, 'sa.pub': pem('PUBLIC KEY', await subtle.exportKey('spki', sa.publicKey)) },
    secret: { 'ca.key': ca.key, 'front-proxy-ca.key': fp.key, 'etcd/ca.key': etcd.key, 'sa.key': await privatePem(sa.privateKey) },
    caCertHash: caCertHash(ca.cert)
  }
}

export interface LeafRequest {
  /** Subject common name (a user name for client certificates). */
  cn: string
  /** Subject organisations (group names for client certificates). */
  o?: string[]
  usage: Array<'server' | 'client'>
  /** Subject alternative names: DNS names and IP addresses, told apart here. */
  sans?: string[]
  ttlMs: number
}

/** A leaf certificate and its new key, signed by a CA (its PEM certificate and key). */
export async function issueLeaf (ca: { cert: string; key: string }, req: LeafRequest, now: number): Promise<{ cert: string; key: string }> {
  const signer = await importSigningKey(ca.key)
  const caCert = new x509.X509Certificate(ca.cert)
  const keys = await generate(signer.algorithm)
  const sans = (req.sans ?? []).map(v => ({ type: isIP(v) === 0 ? 'dns' as const : 'ip' as const, value: v }))
  const eku = req.usage.map(u => u === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth)
  const keyUsage = signer.algorithm === 'rsa-2048' ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment : x509.KeyUsageFlags.digitalSignature
  const name: x509.JsonName = [{ CN: [req.cn] }]
  for (const o of req.o ?? []) name.unshift({ O: [o] })
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: name,
    issuer: caCert.subject,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + req.ttlMs),
    publicKey: keys.publicKey,
    signingKey: signer.key,
    signingAlgorithm: SIGN[signer.algorithm],
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(keyUsage, true),
      new x509.ExtendedKeyUsageExtension(eku, false),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
      ...(sans.length === 0 ? [] : [new x509.SubjectAlternativeNameExtension(sans, false)])
    ]
  })
  return { cert: cert.toString('pem') + '\n', key: await privatePem(keys.privateKey) }
}

/** When a PEM certificate stops being valid. */
export function notAfter (certPem: string): Date {
  return new x509.X509Certificate(certPem).notAfter
}
