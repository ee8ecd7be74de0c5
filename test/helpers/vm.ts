// QEMU virtual machines for the end-to-end tests: bench/vm.ts (shared with bench/boot; its header
// has the usage and the details), plus a stand-in phone-home receiver for testing an image alone.
import type { Netns } from '../../bench/netns.js'

export * from '../../bench/vm.js'

interface Tap { teardown (fn: () => unknown): void }

/** A phone-home request recorded by phoneHomeServer(). */
export interface PhoneHome { at: number; method: string; url: string; headers: Record<string, string | string[] | undefined>; body: string }

export interface PhoneHomeServer { url: string; requests: () => PhoneHome[]; waitFor: (pred: (r: PhoneHome) => boolean, ms?: number) => Promise<PhoneHome> }

/**
 * A tiny HTTP server inside `ns` (a Node child run with `ip netns exec`) that answers every
 * request 200 "ok\n" and records it; the stand-in for rackboot's boot server when testing an image.
 */
export async function phoneHomeServer (t: Tap, ns: Netns, host: string, port: number): Promise<PhoneHomeServer> {
  const code = `
    const http = require('node:http')
    const srv = http.createServer((req, res) => {
      let body = ''
      req.setEncoding('utf8')
      req.on('data', d => { body += d })
      req.on('end', () => {
        process.stdout.write(JSON.stringify({ at: Date.now(), method: req.method, url: req.url, headers: req.headers, body }) + '\\n')
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\\n')
      })
    })
    srv.listen(${port}, ${JSON.stringify(host)}, () => process.stdout.write('{"listening":true}\\n'))
    process.stdin.on('end', () => process.exit(0)).resume()`
  const p = ns.spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'pipe', 'pipe'] })
  t.teardown(() => { if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL') })
  const reqs: PhoneHome[] = []
  const waiters = new Set<{ pred: (r: PhoneHome) => boolean; resolve: (r: PhoneHome) => void }>()
  let buf = ''
  let err = ''
  let listening: () => void = () => {}
  const ready = new Promise<void>((resolve, reject) => {
    listening = resolve
    p.on('exit', c => reject(new Error(`phone-home server exited ${String(c)}: ${err}`)))
  })
  p.stderr?.on('data', d => { err += String(d) })
  p.stdout?.on('data', d => {
    buf += String(d)
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i); buf = buf.slice(i + 1)
      const o = JSON.parse(line) as PhoneHome & { listening?: boolean }
      if (o.listening === true) { listening(); continue }
      reqs.push(o)
      for (const w of waiters) if (w.pred(o)) { waiters.delete(w); w.resolve(o) }
    }
  })
  await ready
  return {
    url: `http://${host}:${port}`,
    requests: () => reqs,
    waitFor (pred, ms = 60_000) {
      const found = reqs.find(pred)
      if (found !== undefined) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const w = { pred, resolve: (r: PhoneHome) => { clearTimeout(timer); resolve(r) } }
        const timer = setTimeout(() => { waiters.delete(w); reject(new Error(`no matching phone-home request within ${ms} ms (got ${reqs.length})`)) }, ms)
        waiters.add(w)
      })
    }
  }
}
