import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { InboundBody } from '../../src/ipc/flow.js'

function body(): { b: InboundBody; credits: number[] } {
  const credits: number[] = []
  return {
    b: new InboundBody(
      (n) => credits.push(n),
      () => {},
    ),
    credits,
  }
}

describe('InboundBody.takeComplete()', () => {
  test('returns the whole body once it has ended, and the stream then ends', async () => {
    const { b } = body()
    b.deliver(Buffer.from('hel'))
    b.deliver(Buffer.from('lo'))
    b.finish()
    const ended = new Promise<void>((resolve) => b.once('end', resolve))
    assert.equal(b.takeComplete()?.toString(), 'hello')
    await ended
  })

  test('returns an empty buffer for an empty body that ended', () => {
    const { b } = body()
    b.finish()
    assert.equal(b.takeComplete()?.length, 0)
  })

  test('returns undefined and leaves the stream untouched while the body is still arriving', async () => {
    const { b } = body()
    b.deliver(Buffer.from('part'))
    assert.equal(b.takeComplete(), undefined)
    b.deliver(Buffer.from(' two'))
    b.finish()
    const chunks: Buffer[] = []
    for await (const c of b) chunks.push(c as Buffer)
    assert.equal(Buffer.concat(chunks).toString(), 'part two')
  })

  test('returns undefined once a consumer has started reading', () => {
    const { b } = body()
    b.deliver(Buffer.from('x'))
    b.on('data', () => {})
    b.finish()
    assert.equal(b.takeComplete(), undefined)
  })
})
