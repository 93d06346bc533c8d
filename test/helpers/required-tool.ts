/**
 * node:test's `skip` option for a test that needs a system tool (openssl, htpasswd, Django):
 * false when the tool is there; a skip reason on a developer's machine without it; and under
 * .ci/run (GATEHOUSE_INTEROP_REQUIRED=1), which installs every tool, a thrown error, so the file
 * fails instead of passing with the check silently skipped.
 */
import { skipOrFail } from '../interop/helpers/run.js'

export function needs(available: boolean, reason: string): string | false {
  return available ? false : skipOrFail(reason)
}
