/**
 * A daemon process that breaks the framed protocol (app code writing a frame whose JSON does not
 * parse onto its data socket) fails that connection only: the request in flight on it gets 502,
 * the process is replaced as after a crash, and the front goes on serving.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { request } from 'undici'
import { alive, APPS, eventually } from '../fixtures/apps/harness.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'

let gw: TestGateway
let cleanup: () => void

before(async () => {
  const t = tempDir('gh-ipc-protocol-')
  cleanup = t.cleanup
  gw = await startGateway(
    {
      groups: { bad: { app: join(APPS, 'bad-frames.ts'), cwd: APPS } },
      routes: [{ path: '/', group: 'bad' }],
    },
    t.dir,
  )
})

after(async () => {
  await gw?.close()
  cleanup?.()
})

async function fetchText(path: string): Promise<{ status: number; text: string }> {
  const res = await request(`${gw.url}${path}`)
  return { status: res.statusCode, text: await res.body.text() }
}

describe('a daemon process writing malformed frames', { skip: process.platform === 'win32' }, () => {
  for (const frame of ['head', 'error']) {
    test(`${frame === 'head' ? 'a RESPONSE_HEAD' : 'an ERROR'} frame that is not JSON gets its request a 502, replaces the process, and the front serves the next request`, async () => {
      const first = await fetchText('/pid')
      assert.equal(first.status, 200)
      const before = Number(first.text)
      const broken = await fetchText(`/malformed?frame=${frame}`)
      assert.equal(broken.status, 502)
      await eventually('the process that broke the protocol gone', () => !alive(before))
      const next = await eventually('a replacement serving', async () => {
        const r = await fetchText('/pid')
        return r.status === 200 && r.text !== String(before) ? r : undefined
      })
      assert.ok(alive(Number(next.text)))
      assert.ok(
        gw.logs.some((l) => l.includes('GH_ERR_IPC_PROTOCOL') || l.includes('IPC protocol error')),
        'the protocol error is logged',
      )
    })
  }
})
