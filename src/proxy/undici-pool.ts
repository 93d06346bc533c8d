/**
 * undici's Pool class without undici's entry module. `import { Pool } from 'undici'` loads all of
 * undici: fetch, WebSocket, EventSource, the caches, the mocks, and with them about 9 MB of RSS a
 * front never uses. An upstream target needs the pool and its `dispatch` only, which
 * lib/dispatcher/pool.js holds whole (the entry module adds `request`/`stream` to it, unused here).
 * undici is pinned to one version (package.json); test/unit/undici-pool.test.ts checks that
 * this is the very class the entry module exports.
 */
import { createRequire } from 'node:module'
import type { Pool as UndiciPool } from 'undici'

export const Pool = createRequire(import.meta.url)('undici/lib/dispatcher/pool.js') as typeof UndiciPool
export type Pool = UndiciPool
