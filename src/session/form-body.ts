/**
 * The body of a login or logout POST: application/x-www-form-urlencoded, at most
 * FORM_BODY_LIMIT bytes, read in full before anything is checked.
 */
import type { IncomingMessage } from 'node:http'

export const FORM_BODY_LIMIT = 8 * 1024

export type FormBody = { ok: true; fields: URLSearchParams } | { ok: false; status: 413 | 415 | 400; reason: string }

export async function readFormBody(req: IncomingMessage): Promise<FormBody> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
  if (type !== 'application/x-www-form-urlencoded')
    return { ok: false, status: 415, reason: 'expected an application/x-www-form-urlencoded form' }
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > FORM_BODY_LIMIT) return { ok: false, status: 413, reason: 'form too large' }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > FORM_BODY_LIMIT) return { ok: false, status: 413, reason: 'form too large' }
    chunks.push(chunk as Buffer)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.includes('\uFFFD')) return { ok: false, status: 400, reason: 'the form is not UTF-8' }
  return { ok: true, fields: new URLSearchParams(text) }
}
