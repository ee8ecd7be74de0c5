// The images the daemon serves: loaded (and verified) at start and on reload.
import type { Logger } from 'pino'
import { loadImages, type Image } from './images.js'

export class ImageRegistry {
  private images: ReadonlyMap<string, Image> = new Map()
  private dir = ''

  get current (): ReadonlyMap<string, Image> { return this.images }

  async load (dir: string, log: Logger): Promise<void> {
    const loaded = await loadImages(dir)
    this.images = loaded
    this.dir = dir
    for (const img of loaded.values()) {
      if (img.ok) log.info({ image: img.name, kind: img.kind, files: [img.kernel, ...img.initrds, img.disk].filter(f => f !== null).map(f => f.name) }, 'image ready')
      else log.warn({ image: img.name, problems: img.problems }, 'image not servable')
    }
    if (loaded.size === 0) log.info({ dir }, 'no images found')
  }

  get directory (): string { return this.dir }
}
