// /api/v1/images: the images (netboot and disk) and whether each is servable.
import Type from 'typebox'
import type { Api, ApiDeps } from '../app.js'
import { ErrorSchema } from '../schemas.js'
import { RackbootError } from '../../errors.js'
import type { Image } from '../../boot/images.js'

const FileSchema = Type.Object({ name: Type.String(), path: Type.String(), size: Type.Integer(), sha256: Type.String() })
export const ImageSchema = Type.Object({
  name: Type.String(),
  ok: Type.Boolean({ description: 'Every file present with the right SHA-256 and every template valid: servable.' }),
  problems: Type.Array(Type.String()),
  kind: Type.Enum(['netboot', 'disk'], { description: '`netboot`: a kernel and initrds booted over the network. `disk`: a raw disk image that rackboot\'s installer (the kernel and initrd here) writes onto the machine\'s disk.' }),
  description: Type.String(),
  arch: Type.String(),
  kubernetes: Type.Union([Type.String(), Type.Null()], { description: 'The Kubernetes version a disk image carries (its kubeadm\'s), or null.' }),
  cmdline: Type.String({ description: 'Command-line template ({{ placeholders }}).' }),
  kernel: Type.Union([FileSchema, Type.Null()]),
  initrds: Type.Array(FileSchema),
  disk: Type.Union([Type.Object({ name: Type.String(), path: Type.String(), size: Type.Integer(), sha256: Type.String(), compression: Type.String(), rawSize: Type.Integer(), rawSha256: Type.String() }), Type.Null()], { description: 'A disk image\'s compressed image, and the size and SHA-256 of what the installer writes.' }),
  cloudInit: Type.Object({ userData: Type.Boolean(), metaData: Type.Boolean() })
})

export function describeImage (i: Image) {
  const file = (f: Image['kernel']) => f === null ? null : { name: f.name, path: f.path, size: f.size, sha256: f.sha256 }
  return {
    name: i.name, ok: i.ok, problems: i.problems, kind: i.kind, description: i.description, arch: i.arch, kubernetes: i.kubernetes, cmdline: i.cmdline,
    kernel: file(i.kernel), initrds: i.initrds.map(f => file(f) as NonNullable<ReturnType<typeof file>>),
    disk: i.disk === null ? null : { ...(file(i.disk) as NonNullable<ReturnType<typeof file>>), compression: i.disk.compression, rawSize: i.disk.rawSize, rawSha256: i.disk.rawSha256 },
    cloudInit: { userData: i.userData !== null, metaData: i.metaData !== null }
  }
}

export async function imageRoutes (app: Api, { deps }: { deps: ApiDeps }): Promise<void> {
  const images = () => deps.images?.() ?? new Map<string, Image>()
  app.get('/images', {
    schema: { tags: ['images'], summary: 'Images (boot.imagesDir: netboot and disk) with their verification status', response: { 200: Type.Object({ items: Type.Array(ImageSchema) }), 401: ErrorSchema } }
  }, async () => ({ items: [...images().values()].map(describeImage) }))

  app.get('/images/:name', {
    schema: { tags: ['images'], summary: 'One image', params: Type.Object({ name: Type.String() }), response: { 200: ImageSchema, 401: ErrorSchema, 404: ErrorSchema } }
  }, async (req) => {
    const i = images().get(req.params.name)
    if (i === undefined) throw new RackbootError('RB_NOT_FOUND', `image ${req.params.name} does not exist in ${deps.imagesDir?.() ?? 'boot.imagesDir'}`, 'params.name')
    return describeImage(i)
  })
}
