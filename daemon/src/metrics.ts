// Prometheus metrics: one registry per daemon (tests build several), served at /metrics.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'

export class Metrics {
  readonly registry = new Registry()
  readonly httpRequests = new Counter({
    name: 'rackboot_api_requests_total',
    help: 'Inventory API requests by method, route and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry]
  })

  readonly authFailures = new Counter({
    name: 'rackboot_api_auth_failures_total',
    help: 'Inventory API requests refused for authentication or authorisation, by code.',
    labelNames: ['code'] as const,
    registers: [this.registry]
  })

  readonly sseClosed = new Counter({
    name: 'rackboot_api_event_streams_closed_total',
    help: 'Event streams (SSE) the daemon closed, by reason (stalled: the client took nothing for 30 s).',
    labelNames: ['reason'] as const,
    registers: [this.registry]
  })

  constructor (opts: { defaults?: boolean } = {}) {
    if (opts.defaults !== false) collectDefaultMetrics({ register: this.registry, prefix: 'rackboot_' })
  }

  /** A gauge whose value is computed at scrape time. */
  gauge<L extends string> (name: string, help: string, labelNames: readonly L[], collect: (g: Gauge<L>) => void): Gauge<L> {
    return new Gauge<L>({ name, help, labelNames, registers: [this.registry], collect () { this.reset(); collect(this) } })
  }
}
