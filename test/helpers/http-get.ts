/**
 * A GET on a fresh connection (no agent, so no connection is reused between answers), with
 * every response header as Node parsed it and the body as text.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'

export interface TextResponse {
  status: number
  headers: IncomingHttpHeaders
  text: string
}

export function httpGet(port: number, path: string, headers: Record<string, string> = {}): Promise<TextResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => {
        text += c
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }))
    })
    req.on('error', reject)
    req.end()
  })
}
