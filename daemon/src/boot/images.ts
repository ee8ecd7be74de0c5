// Images: images/<name>/image.yaml, its files verified by SHA-256 when loaded. Two kinds:
// `netboot` (a kernel and initrds booted over the network, as the test OS) and `disk` (a raw
// disk image that rackboot's installer writes onto the machine's disk, described by the
// recipe's manifest.json). A broken image is reported (API, CLI, log) and never served.
import { createHash } from 'node:crypto'
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, dirname, isAbsolute, join, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import Type, { type Static, type TSchema } from 'typebox'
import { Value } from 'typebox/value'
import { unknownPlaceholders } from './template.js'
import { dottedPath, schemaProblems } from '../schema-errors.js'

const FileRef = Type.Union([
  Type.String({ minLength: 1 }),
  Type.Object({ file: Type.String({ minLength: 1 }), sha256: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{64}$' })) }, { additionalProperties: false })
])

export const ImageManifestSchema = Type.Object({
  kind: Type.Optional(Type.Literal('netboot')),
  description: Type.Optional(Type.String()),
  arch: Type.Enum(['x86_64', 'arm64'], { default: 'x86_64' }),
  kernel: FileRef,
  initrds: Type.Array(FileRef, { default: [] }),
  sha256sums: Type.Optional(Type.String({ minLength: 1, description: 'A sha256sum-format file listing the files\' hashes.' })),
  cmdline: Type.String({ default: '' }),
  cloudInit: Type.Optional(Type.Object({
    userData: Type.Optional(Type.String({ minLength: 1 })),
    metaData: Type.Optional(Type.String({ minLength: 1 }))
  }, { additionalProperties: false }))
}, { additionalProperties: false })

export type ImageManifest = Static<typeof ImageManifestSchema>

/** image.yaml of a disk image: the recipe's manifest says the rest. */
export const DiskImageManifestSchema = Type.Object({
  kind: Type.Literal('disk'),
  description: Type.Optional(Type.String()),
  manifest: Type.String({ minLength: 1, description: 'The recipe\'s manifest.json (e.g. build/manifest.json).' }),
  network: Type.Enum(['static', 'dhcp'], { default: 'static', description: 'How the installed OS configures its boot NIC: `static` (the reserved address and the LAN\'s settings, written at install time) or `dhcp` (from rackboot). A machine\'s own `network` wins.' }),
  cmdline: Type.String({ default: '', description: 'Extra kernel command line for the installer.' })
}, { additionalProperties: false })

const Sha = Type.String({ pattern: '^[0-9a-f]{64}$' })
/** What images/debian-node/build.sh writes (the fields rackboot uses). */
export const RecipeManifestSchema = Type.Object({
  kind: Type.Literal('disk'),
  arch: Type.Enum(['x86_64', 'arm64']),
  kubernetes: Type.Union([Type.String({ minLength: 1 }), Type.Null()]),
  installer: Type.Object({
    kernel: Type.Object({ file: Type.String({ minLength: 1 }), sha256: Sha }),
    initrd: Type.Object({ file: Type.String({ minLength: 1 }), sha256: Sha })
  }),
  localboot: Type.Optional(Type.Object({ file: Type.String({ minLength: 1 }), sha256: Sha }, { description: 'An EFI program that starts the local disk\'s boot loader, chained on UEFI machines that are to boot their disk.' })),
  disk: Type.Object({
    file: Type.String({ minLength: 1 }),
    compression: Type.Literal('zstd'),
    size: Type.Integer({ minimum: 1 }),
    sha256: Sha,
    rawSize: Type.Integer({ minimum: 1 }),
    rawSha256: Sha
  })
})

/** A disk image's image file: the compressed image, and what the installer checks on the disk. */
export interface DiskFile extends ImageFile {
  compression: 'zstd'
  rawSize: number
  rawSha256: string
}

export interface ImageFile {
  /** Name in URLs (/images/<image>/<name>) and iPXE's `initrd=` argument. */
  name: string
  path: string
  size: number
  sha256: string
  /** Strong validator for HTTP: the content hash. */
  etag: string
  mtimeMs: number
}

export interface Image {
  name: string
  dir: string
  kind: 'netboot' | 'disk'
  description: string
  arch: string
  /** The Kubernetes version a disk image carries (kubeadm's), or null. */
  kubernetes: string | null
  cmdline: string
  /** For a disk image: the installer's kernel and initrd. */
  kernel: ImageFile | null
  /** For a disk image: the compressed raw disk image. */
  disk: DiskFile | null
  /** For a disk image: the EFI program that boots the local disk (UEFI machines chain it instead of leaving iPXE). */
  localboot: ImageFile | null
  /** For a disk image: how the installed OS configures its boot NIC unless the machine says otherwise. */
  network: 'static' | 'dhcp'
  initrds: ImageFile[]
  userData: string | null
  metaData: string | null
  problems: string[]
  ok: boolean
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/
const hashCache = new Map<string, { size: number; mtimeMs: number; sha256: string }>()

function sha256File (path: string): Promise<string> {
  return new Promise((resolveHash, reject) => {
    const h = createHash('sha256')
    createReadStream(path, { highWaterMark: 1 << 20 }).on('data', d => h.update(d)).on('error', reject).on('end', () => resolveHash(h.digest('hex')))
  })
}

function readSums (path: string): Map<string, string> {
  const sums = new Map<string, string>()
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([0-9a-fA-F]{64})\s+\*?(.+)$/.exec(line.trim())
    if (m !== null) sums.set(basename(m[2] as string), (m[1] as string).toLowerCase())
  }
  return sums
}

/** Loads one image directory; problems are collected, never thrown. */
export async function loadImage (dir: string): Promise<Image> {
  const name = basename(dir)
  const image: Image = { name, dir, kind: 'netboot', description: '', arch: 'x86_64', kubernetes: null, cmdline: '', kernel: null, disk: null, localboot: null, network: 'static', initrds: [], userData: null, metaData: null, problems: [], ok: false }
  const manifestPath = join(dir, 'image.yaml')
  if (!NAME.test(name)) image.problems.push(`image name ${JSON.stringify(name)} must be letters, digits, . _ - (at most 63)`)
  let raw: unknown
  try {
    raw = parseYaml(readFileSync(manifestPath, 'utf8'))
  } catch (err) {
    image.problems.push(`${manifestPath}: ${(err as Error).message.split('\n')[0] ?? ''}`)
    return image
  }
  if (typeof raw === 'object' && raw !== null && (raw as { kind?: unknown }).kind === 'disk') return await loadDiskImage(image, raw, manifestPath)
  const manifest = validated(ImageManifestSchema, raw ?? {}, manifestPath, image)
  if (manifest === null) return image
  image.description = manifest.description ?? ''
  image.arch = manifest.arch
  image.cmdline = manifest.cmdline
  for (const u of unknownPlaceholders(manifest.cmdline)) image.problems.push(`${manifestPath}: cmdline: unknown placeholder {{ ${u} }}`)

  const at = (p: string) => isAbsolute(p) ? p : resolve(dir, p)
  const verified = verifier(image, at)
  let sums = new Map<string, string>()
  if (manifest.sha256sums !== undefined) {
    try { sums = readSums(at(manifest.sha256sums)) } catch (err) { image.problems.push(`${manifestPath}: sha256sums: cannot read ${at(manifest.sha256sums)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`) }
  }
  const file = async (ref: ImageManifest['kernel'], key: string): Promise<ImageFile | null> => {
    const rel = typeof ref === 'string' ? ref : ref.file
    const expected = (typeof ref === 'string' ? undefined : ref.sha256?.toLowerCase()) ?? sums.get(basename(at(rel)))
    return await verified(rel, expected, key)
  }
  image.kernel = await file(manifest.kernel, 'kernel')
  for (const [i, ref] of manifest.initrds.entries()) {
    const f = await file(ref, `initrds[${i}]`)
    if (f !== null) image.initrds.push(f)
  }
  const names = [image.kernel, ...image.initrds].filter((f): f is ImageFile => f !== null).map(f => f.name)
  if (new Set(names).size !== names.length) image.problems.push('file names must be distinct (they name the files in URLs)')
  for (const [key, ref] of [['userData', manifest.cloudInit?.userData], ['metaData', manifest.cloudInit?.metaData]] as const) {
    if (ref === undefined) continue
    try {
      const text = readFileSync(at(ref), 'utf8')
      for (const u of unknownPlaceholders(text)) image.problems.push(`cloudInit.${key}: unknown placeholder {{ ${u} }}`)
      if (key === 'userData') image.userData = text; else image.metaData = text
    } catch (err) {
      image.problems.push(`cloudInit.${key}: cannot read ${at(ref)} (${(err as NodeJS.ErrnoException).code ?? ''})`)
    }
  }
  image.ok = image.problems.length === 0
  return image
}

/** `raw` with the schema's defaults, or null with each schema problem added to the image's, prefixed by `where`. */
function validated<S extends TSchema> (schema: S, raw: unknown, where: string, image: Image): Static<S> | null {
  const value = Value.Default(schema, raw) as Static<S>
  const errors = schemaProblems(Value.Errors(schema, value), value, schema)
  for (const e of errors) image.problems.push(`${where}: ${dottedPath('', e.path)}: ${e.message}`)
  return errors.length > 0 ? null : value
}

/** Checks one file of an image against its SHA-256 (cached by size and mtime); a problem, or the file. */
function verifier (image: Image, at: (p: string) => string) {
  return async (rel: string, expected: string | undefined, key: string): Promise<ImageFile | null> => {
    const path = at(rel)
    let st
    try { st = statSync(path) } catch (err) {
      image.problems.push(`${key}: ${path} is missing (${(err as NodeJS.ErrnoException).code ?? ''})${rel.startsWith('build/') ? '; build the image first' : ''}`)
      return null
    }
    if (!st.isFile()) { image.problems.push(`${key}: ${path} is not a regular file`); return null }
    if (expected === undefined) { image.problems.push(`${key}: no sha256 for ${basename(path)} (give sha256: or list it in sha256sums)`); return null }
    const cached = hashCache.get(path)
    const actual = cached !== undefined && cached.size === st.size && cached.mtimeMs === st.mtimeMs ? cached.sha256 : await sha256File(path)
    hashCache.set(path, { size: st.size, mtimeMs: st.mtimeMs, sha256: actual })
    if (actual !== expected) { image.problems.push(`${key}: ${path} has sha256 ${actual}, expected ${expected}: not served`); return null }
    return { name: basename(path), path, size: st.size, sha256: actual, etag: `"${actual}"`, mtimeMs: st.mtimeMs }
  }
}

/** A disk image: image.yaml names the recipe's manifest, whose files are verified like any image's. */
async function loadDiskImage (image: Image, raw: unknown, manifestPath: string): Promise<Image> {
  image.kind = 'disk'
  const yaml = validated(DiskImageManifestSchema, raw, manifestPath, image)
  if (yaml === null) return image
  image.description = yaml.description ?? ''
  image.cmdline = yaml.cmdline
  image.network = yaml.network
  for (const u of unknownPlaceholders(yaml.cmdline)) image.problems.push(`${manifestPath}: cmdline: unknown placeholder {{ ${u} }}`)
  const at = (p: string) => isAbsolute(p) ? p : resolve(image.dir, p)
  const recipePath = at(yaml.manifest)
  let recipe: Static<typeof RecipeManifestSchema>
  try {
    const parsed = validated(RecipeManifestSchema, JSON.parse(readFileSync(recipePath, 'utf8')), `manifest: ${recipePath}`, image)
    if (parsed === null) return image
    recipe = parsed
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    image.problems.push(`manifest: ${recipePath} ${code === 'ENOENT' ? `is missing${yaml.manifest.startsWith('build/') ? '; build the image first' : ''}` : `cannot be read: ${code ?? (err as Error).message}`}`)
    return image
  }
  image.arch = recipe.arch
  image.kubernetes = recipe.kubernetes
  const base = dirname(recipePath)
  const verified = verifier(image, p => isAbsolute(p) ? p : resolve(base, p))
  image.kernel = await verified(recipe.installer.kernel.file, recipe.installer.kernel.sha256, 'installer.kernel')
  const initrd = await verified(recipe.installer.initrd.file, recipe.installer.initrd.sha256, 'installer.initrd')
  if (initrd !== null) image.initrds.push(initrd)
  if (recipe.localboot !== undefined) image.localboot = await verified(recipe.localboot.file, recipe.localboot.sha256, 'localboot')
  const disk = await verified(recipe.disk.file, recipe.disk.sha256, 'disk')
  if (disk !== null && disk.size !== recipe.disk.size) image.problems.push(`disk: ${disk.path} has ${disk.size} bytes, the manifest says ${recipe.disk.size}`)
  else if (disk !== null) image.disk = { ...disk, compression: recipe.disk.compression, rawSize: recipe.disk.rawSize, rawSha256: recipe.disk.rawSha256 }
  const names = [image.kernel, ...image.initrds, image.localboot, image.disk].filter((f): f is ImageFile => f !== null).map(f => f.name)
  if (new Set(names).size !== names.length) image.problems.push('file names must be distinct (they name the files in URLs)')
  image.ok = image.problems.length === 0
  return image
}

/** Every image under `imagesDir` (directories holding an image.yaml). */
export async function loadImages (imagesDir: string): Promise<Map<string, Image>> {
  const images = new Map<string, Image>()
  if (!existsSync(imagesDir)) return images
  for (const entry of readdirSync(imagesDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !existsSync(join(imagesDir, entry.name, 'image.yaml'))) continue
    images.set(entry.name, await loadImage(join(imagesDir, entry.name)))
  }
  return images
}
