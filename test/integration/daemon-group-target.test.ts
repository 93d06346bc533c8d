/**
 * GroupTarget behind a real Fastify front: responses stream through, group failures become
 * 503 (+ Retry-After) / 504 with short bodies, and file responses are sent by the front from
 * disk within the group's roots, the X-Gatehouse-File header never reaching the client.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import Fastify from 'fastify'
import { request } from 'undici'
import type { GroupConfig } from '../../src/config/types.js'
import { GroupTarget } from '../../src/proxy/group-target.js'
import { stripHopByHop } from '../../src/proxy/hop-by-hop.js'
import type { Supervisor } from '../../src/daemon/supervisor.js'
import { eventually, groupConfig, startSupervisor, tempDir } from '../fixtures/apps/harness.js'

async function front(t: TestContext, config: GroupConfig): Promise<string> {
  return (await frontWith(t, config)).base
}

async function frontWith(t: TestContext, config: GroupConfig): Promise<{ base: string; sup: Supervisor }> {
  const sup = await startSupervisor(t, [config])
  const target = new GroupTarget(sup.group(config.name), { fileRoots: config.fileRoots })
  const app = Fastify()
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_req, _payload, done) => done(null))
  app.all('/*', async (req, reply) => {
    await target.forward(
      {
        method: req.method,
        url: req.url,
        headers: stripHopByHop(req.headers),
        body: req.method === 'GET' || req.method === 'HEAD' ? null : req.raw,
        remoteAddress: req.ip,
      },
      reply,
    )
    return reply
  })
  t.after(() => app.close())
  return { base: await app.listen({ host: '127.0.0.1', port: 0 }), sup }
}

describe('GroupTarget', { skip: process.platform === 'win32' }, () => {
  test('forwards status, headers and body, and streams a request body to the app', async (t) => {
    const base = await front(t, groupConfig('web'))
    const hello = await request(`${base}/`)
    assert.equal(hello.statusCode, 200)
    assert.equal(hello.headers['content-type'], 'text/plain')
    assert.equal(await hello.body.text(), 'hello')
    const teapot = await request(`${base}/status?code=418`)
    assert.equal(teapot.statusCode, 418)
    assert.equal(teapot.headers['x-app'], 'yes')
    await teapot.body.dump()
    const echo = await request(`${base}/echo`, {
      method: 'POST',
      body: 'x'.repeat(100_000),
      headers: { 'content-type': 'text/plain' },
    })
    assert.equal((await echo.body.text()).length, 100_000)
    const seen = await request(`${base}/headers`)
    assert.equal(((await seen.body.json()) as { remoteAddress: string }).remoteAddress, '127.0.0.1')
  })

  test('a busy group answers 503 with Retry-After and a short text body', async (t) => {
    const { base, sup } = await frontWith(t, groupConfig('busy', { concurrency: 1, queueTimeoutMs: 100 }))
    const slow = request(`${base}/slow?ms=800`)
    await eventually('slow request dispatched', () => sup.status()[0]?.processes[0]?.inflight === 1)
    const res = await request(`${base}/pid`)
    assert.equal(res.statusCode, 503)
    assert.equal(res.headers['retry-after'], '1')
    assert.equal(await res.body.text(), 'Service Unavailable\n')
    assert.equal((await slow).statusCode, 200)
  })

  test('a stuck request answers 504 Gateway Timeout', async (t) => {
    const base = await front(t, groupConfig('stuck', { requestTimeoutMs: 200 }))
    const res = await request(`${base}/hang`)
    assert.equal(res.statusCode, 504)
    assert.equal(await res.body.text(), 'Gateway Timeout\n')
  })

  test(
    'a response body that stalls past requestTimeout is cut, and its process replaced',
    { timeout: 20_000 },
    async (t) => {
      const { base, sup } = await frontWith(t, groupConfig('stall', { requestTimeoutMs: 300 }))
      const [before] = sup.status()[0]?.processes.map((p) => p.pid) ?? []
      const res = await request(`${base}/stall`)
      assert.equal(res.statusCode, 200, 'the head had gone out')
      await assert.rejects(res.body.text(), 'the body ends in an error, not a clean end')
      await eventually('the stalled process was replaced', () => {
        const ready = sup.status()[0]?.processes.filter((p) => p.state === 'ready') ?? []
        return ready.length === 1 && ready[0]?.pid !== before
      })
      const after = await request(`${base}/`)
      assert.equal(await after.body.text(), 'hello')
    },
  )

  test('a client that stops reading for longer than requestTimeout is not taken for a stalled app', async (t) => {
    const { base, sup } = await frontWith(t, groupConfig('reader', { requestTimeoutMs: 300 }))
    const [before] = sup.status()[0]?.processes.map((p) => p.pid) ?? []
    const bytes = 8 * 1024 * 1024
    const res = await request(`${base}/download?bytes=${bytes}`)
    assert.equal(res.statusCode, 200)
    // The worker runs out of credit and the socket buffers fill while nobody reads.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    let got = 0
    for await (const chunk of res.body) got += (chunk as Buffer).length
    assert.equal(got, bytes)
    assert.deepEqual(
      sup.status()[0]?.processes.map((p) => p.pid),
      [before],
      'the same process still serves',
    )
  })

  test('a file response is sent from disk with Range support and without the internal header', async (t) => {
    const root = tempDir(t)
    const file = join(root, 'data.txt')
    writeFileSync(file, '0123456789')
    const base = await front(t, groupConfig('files', { fileRoots: [root] }))
    const whole = await request(`${base}/file?path=${encodeURIComponent(file)}`)
    assert.equal(whole.statusCode, 200)
    assert.equal(whole.headers['x-gatehouse-file'], undefined)
    assert.equal(whole.headers['content-length'], '10')
    assert.equal(await whole.body.text(), '0123456789')
    const part = await request(`${base}/file?path=${encodeURIComponent(file)}`, { headers: { range: 'bytes=2-4' } })
    assert.equal(part.statusCode, 206)
    assert.equal(part.headers['content-range'], 'bytes 2-4/10')
    assert.equal(await part.body.text(), '234')
    const windowed = await request(`${base}/file?path=${encodeURIComponent(file)}&offset=5&length=3`)
    assert.equal(await windowed.body.text(), '567')
    const escape = await request(`${base}/file?path=${encodeURIComponent('/etc/passwd')}`)
    assert.equal(escape.statusCode, 403)
    assert.equal(escape.headers['x-gatehouse-file'], undefined)
    await escape.body.dump()
  })
})
