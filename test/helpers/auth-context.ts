/** The request context a provider is called with, for tests that call a provider directly. */
import type { AuthContext } from '../../src/providers/contract.js'

export const testContext: AuthContext = {
  method: 'GET',
  path: '/',
  host: 'localhost',
  remoteAddress: '127.0.0.1',
  route: '/',
  realm: 'R',
  headers: {},
}
