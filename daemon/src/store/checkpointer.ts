// WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside whichever
// commit crosses the threshold, stalling that request (and everything queued behind it) for
// milliseconds; a worker thread with its own connection checkpoints passively instead.
import { Worker } from 'node:worker_threads'

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.module)
let db
try { db = new Database(workerData.file, { fileMustExist: true }); db.pragma('busy_timeout = 1000') } catch { process.exit(0) }
const timer = setInterval(() => { try { db.pragma('wal_checkpoint(PASSIVE)') } catch {} }, workerData.everyMs)
parentPort.on('message', m => { if (m === 'stop') { clearInterval(timer); try { db.pragma('wal_checkpoint(PASSIVE)') } catch {} db.close(); process.exit(0) } })
`

export class Checkpointer {
  private readonly worker: Worker

  constructor (file: string, sqliteModule: string, everyMs = 250) {
    this.worker = new Worker(WORKER, { eval: true, workerData: { file, module: sqliteModule, everyMs } })
    this.worker.unref()
    // A checkpoint that cannot run is only a larger WAL until the next one: never fatal.
    this.worker.on('error', () => {})
  }

  async stop (): Promise<void> {
    const exited = new Promise(resolve => this.worker.once('exit', resolve))
    this.worker.postMessage('stop')
    await exited
  }

  /** Ends the worker at once (the store is closing; its connection goes with it). */
  terminate (): void {
    void this.worker.terminate()
  }
}
