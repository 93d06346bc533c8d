/**
 * FrameDecoder: `u32 length | u8 type | u32 id | payload`, length counting type + id + payload.
 * Whole frames come out however the bytes are split; a length below 5 (no room for type and id)
 * or above MAX_FRAME_BYTES is a protocol error as soon as its four bytes arrive, so a peer can
 * neither wedge the decoder nor make it buffer more than one maximal frame.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { isGatehouseError } from '../../src/errors.js'
import { FrameDecoder } from '../../src/ipc/frame-decoder.js'
import { MAX_FRAME_BYTES } from '../../src/ipc/protocol.js'

/** A frame written out by hand from the layout above (not with encodeFrame). */
function frame(type: number, id: number, payload: Buffer | string = ''): Buffer {
  const body = Buffer.from(payload)
  const out = Buffer.alloc(9 + body.length)
  out.writeUInt32BE(5 + body.length, 0)
  out.writeUInt8(type, 4)
  out.writeUInt32BE(id, 5)
  body.copy(out, 9)
  return out
}

function lengthOnly(length: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(length, 0)
  return b
}

function collect(): { decoder: FrameDecoder; frames: Array<[number, number, string]> } {
  const frames: Array<[number, number, string]> = []
  return {
    decoder: new FrameDecoder((type, id, payload) => {
      frames.push([type, id, payload.toString()])
    }),
    frames,
  }
}

const isProtocolError = (err: unknown): boolean => isGatehouseError(err, 'GH_ERR_IPC_PROTOCOL')

describe('FrameDecoder', () => {
  test('decodes several frames in one chunk and frames split at every byte', () => {
    const bytes = Buffer.concat([frame(3, 1, '{"a":1}'), frame(5, 1), frame(4, 0xffffffff, 'xyz')])
    const expected: Array<[number, number, string]> = [
      [3, 1, '{"a":1}'],
      [5, 1, ''],
      [4, 0xffffffff, 'xyz'],
    ]
    const whole = collect()
    whole.decoder.push(bytes)
    assert.deepEqual(whole.frames, expected)
    const split = collect()
    for (let i = 0; i < bytes.length; i++) split.decoder.push(bytes.subarray(i, i + 1))
    assert.deepEqual(split.frames, expected)
  })

  test('a frame is delivered only once all of its bytes arrived', () => {
    const { decoder, frames } = collect()
    const f = frame(3, 7, 'payload')
    decoder.push(f.subarray(0, f.length - 1))
    assert.deepEqual(frames, [])
    decoder.push(f.subarray(f.length - 1))
    assert.deepEqual(frames, [[3, 7, 'payload']])
  })

  test('length 5 (type and id, empty payload) is the smallest frame; 4 and 0 are protocol errors', () => {
    const { decoder, frames } = collect()
    decoder.push(frame(5, 2))
    assert.deepEqual(frames, [[5, 2, '']])
    for (const length of [4, 0]) {
      assert.throws(
        () => collect().decoder.push(Buffer.concat([lengthOnly(length), Buffer.alloc(9)])),
        isProtocolError,
        `length ${length}`,
      )
    }
  })

  test('length MAX_FRAME_BYTES is awaited; one more is a protocol error on its four length bytes alone', () => {
    const { decoder, frames } = collect()
    decoder.push(Buffer.concat([lengthOnly(MAX_FRAME_BYTES), Buffer.from([4, 0, 0, 0, 1])]))
    assert.deepEqual(frames, [])
    assert.throws(() => collect().decoder.push(lengthOnly(MAX_FRAME_BYTES + 1)), isProtocolError)
    assert.throws(() => collect().decoder.push(lengthOnly(0xffffffff)), isProtocolError)
  })

  test('a bad length after good frames in the same chunk: the good ones are delivered first', () => {
    const { decoder, frames } = collect()
    assert.throws(() => decoder.push(Buffer.concat([frame(3, 1, 'ok'), lengthOnly(2)])), isProtocolError)
    assert.deepEqual(frames, [[3, 1, 'ok']])
  })
})
