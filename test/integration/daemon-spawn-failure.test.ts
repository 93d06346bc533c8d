/**
 * A daemon process that cannot be spawned at all (its interpreter missing; under a process
 * limit, EAGAIN) emits 'error' and never 'exit': the group must count it dead, fail its start,
 * and stop without waiting for an exit that never comes.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { parseConfig } from '../../src/config/parse.js'
import { Supervisor } from '../../src/daemon/supervisor.js'
import { createLogger } from '../../src/log.js'

const HELLO = fileURLToPath(new URL('../fixtures/group-providers/hello.ts', import.meta.url))

test(
  'a process that cannot be spawned fails the group start with GH_ERR_GROUP_FAILED, and the supervisor still stops',
  { timeout: 30_000 },
  async () => {
    const config = parseConfig(
      { groups: { g: { app: HELLO, node: '/nonexistent/bin/node' } }, routes: [{ path: '/', group: 'g' }] },
      { baseDir: '/' },
    )
    const supervisor = new Supervisor({ groups: Object.values(config.groups), log: createLogger('silent') })
    await assert.rejects(supervisor.start(), { code: 'GH_ERR_GROUP_FAILED', message: /could not be started/ })
    await supervisor.close()
    assert.equal(supervisor.state, 'closed')
  },
)
