/**
 * Drives the real `curl` binary against a loopback URL: final status from `-w '%{http_code}'`,
 * the final response's headers from `%{header_json}` (curl >= 7.83), the body from a temp file,
 * and, with `-v`, the request header lines curl sent (for counting round trips).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run } from './run.js'

export const CURL = '/usr/bin/curl'

export interface CurlResult {
  status: number
  /** Headers of the last response, lower-case names, every value of a repeated header. */
  headers: Record<string, string[]>
  body: string
  /** `> ` lines of curl's verbose output: one `GET ...` line per request curl sent. */
  sent: string[]
  exitCode: number | null
}

/** `args` go before the URL: `['--digest', '-u', 'alice:pw']`. Bounded by --max-time and a kill timeout. */
export async function curl(url: string, args: readonly string[] = []): Promise<CurlResult> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-curl-'))
  try {
    const bodyFile = join(dir, 'body')
    const r = await run(
      CURL,
      [
        '-sS',
        '-v',
        '--noproxy',
        '*',
        '--max-time',
        '10',
        '-o',
        bodyFile,
        '-w',
        '%{http_code}\\n%{header_json}',
        ...args,
        url,
      ],
      { timeoutMs: 15_000 },
    )
    const nl = r.stdout.indexOf('\n')
    const status = Number(r.stdout.slice(0, nl))
    const headers = JSON.parse(r.stdout.slice(nl + 1) || '{}') as Record<string, string[]>
    let body = ''
    try {
      body = readFileSync(bodyFile, 'utf8')
    } catch {
      body = ''
    }
    const sent = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('> '))
      .map((l) => l.slice(2).trimEnd())
    return { status, headers, body, sent, exitCode: r.code }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The major, minor of `curl --version`, e.g. [7, 88]. */
export async function curlVersion(): Promise<[number, number]> {
  const r = await run(CURL, ['--version'], { timeoutMs: 5_000 })
  const m = /^curl (\d+)\.(\d+)/.exec(r.stdout)
  return m ? [Number(m[1]), Number(m[2])] : [0, 0]
}
