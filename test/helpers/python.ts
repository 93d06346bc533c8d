/**
 * Which Python the WSGI tests run: Debian's /usr/bin/python3. Under CI
 * (GATEHOUSE_INTEROP_REQUIRED=1) a missing interpreter fails the tests instead of skipping them.
 */
import { existsSync } from 'node:fs'

export const PYTHON = '/usr/bin/python3'

/** A node:test `skip` value: false when Python is there or required (then the test fails on its own). */
export function skipWithoutPython(): string | false {
  if (existsSync(PYTHON)) return false
  if (process.env.GATEHOUSE_INTEROP_REQUIRED === '1') return false
  return `${PYTHON} is not installed (apt-get install python3)`
}

/** Fails loudly under CI when the interpreter is missing. */
export function requirePython(): void {
  if (!existsSync(PYTHON))
    throw new Error(`${PYTHON} is required (GATEHOUSE_INTEROP_REQUIRED=1): apt-get install python3`)
}
