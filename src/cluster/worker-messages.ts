/**
 * What the primary and a front worker say to each other besides the state and group traffic
 * (src/cluster/state-*.ts, src/cluster/group-host.ts, remote-groups.ts): the bodies of the
 * `start` request and its reply. The other topics carry plain values: `metrics` (prom-client's
 * JSON), `activity` (the status sampler's report), `lockouts`, `flush` ({ user? }), `stop`,
 * and the `log-level` note.
 */
import type { Config } from '../config/types.js'

export interface FrontWorkerInit {
  /** The configuration to serve; its digest secret is the primary's, so nonces and form tokens hold across workers. */
  config: Config
  /** 0 … workers-1: stable across a replacement of the worker in the same slot (log lines carry it). */
  index: number
}

export interface FrontWorkerStarted {
  address: string
  pid: number
}
