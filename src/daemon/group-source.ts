/**
 * Where a front finds its daemon groups: the Supervisor that runs them (one process), or
 * RemoteGroups in a front worker (src/cluster/remote-groups.ts), which reaches the processes a
 * primary supervises. The front needs a handle per group and to hear when a group's provider
 * may answer differently (a reload, or the provider saying its data changed).
 */
import type { GroupHandle } from './group.js'

export interface GroupSourceEvents {
  /** The group switched to new processes (the reason: touched FILE, SIGHUP, configuration). */
  reload: [name: string, reason: string]
  /** A group's provider module said its data changed (env.changed()). */
  changed: [name: string]
}

export interface GroupSource {
  /** Throws GH_ERR_OPT_INVALID for a name that is not a group. */
  group(name: string): GroupHandle
  on(event: 'reload', listener: (name: string, reason: string) => void): unknown
  on(event: 'changed', listener: (name: string) => void): unknown
  off(event: 'reload', listener: (name: string, reason: string) => void): unknown
  off(event: 'changed', listener: (name: string) => void): unknown
}
