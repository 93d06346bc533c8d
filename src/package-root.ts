/**
 * Finds gatehouse's own package directory, whether running from src/ (tsx), from dist/ in a
 * clone, or installed under node_modules/gatehouse-auth: the nearest package.json upward that
 * carries the package's name.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The name gatehouse is published under (the command stays `gatehouse`). */
export const PACKAGE_NAME = 'gatehouse-auth'

let cached: string | undefined

export function packageRoot(): string {
  if (cached) return cached
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const file = join(dir, 'package.json')
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === PACKAGE_NAME)
      return (cached = dir)
    const up = dirname(dir)
    if (up === dir) throw new Error(`cannot find the package.json of ${PACKAGE_NAME}`)
    dir = up
  }
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version
}
