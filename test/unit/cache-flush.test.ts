/**
 * flushCredentialCaches (what `gatehouse cache flush` runs) and CredentialCache.clearUser:
 * one user's entries of every provider go, under the name the client claimed or the one the
 * provider answered; nobody else's; and a check already in flight cannot put back an answer
 * from before the flush.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { CredentialCache } from '../../src/auth/credential-cache.js'
import { flushCredentialCaches } from '../../src/auth/cache-flush.js'
import type { Identity } from '../../src/auth/verifier.js'

function caches() {
  const identities = new CredentialCache<Identity>({ maxEntries: 100, ttlMs: 60_000 })
  const realmHashes = new CredentialCache<string>({ maxEntries: 100, ttlMs: 60_000 })
  const id = (user: string, provider: string): Identity => ({ user, groups: [], provider })
  // Basic successes are stored with the claimed name as subject; a provider may canonicalise it.
  identities.set('basic-carol', id('carol', 'office'), 'office', undefined, 'carol')
  identities.set('basic-Carol', id('carol', 'django'), 'django', undefined, 'Carol')
  identities.set('basic-CAROL-claimed', id('carol.smith', 'ldap'), 'ldap', undefined, 'CAROL')
  // Digest identities (groups) carry no subject: the value names the user.
  identities.set('groups-carol', id('carol', 'local'), 'local')
  identities.set('basic-alice', id('alice', 'office'), 'office', undefined, 'alice')
  realmHashes.set('ha1-carol', 'local\0abc', 'local', undefined, 'carol')
  realmHashes.set('ha1-alice', 'local\0def', 'local', undefined, 'alice')
  return { identities, realmHashes }
}

describe('flushCredentialCaches', () => {
  test("with a user: that user's entries of every provider and cache go, by claimed or answered name; others stay", () => {
    const c = caches()
    assert.deepEqual(flushCredentialCaches(c, 'carol'), { flushed: 4, identities: 3, realmHashes: 1 })
    assert.equal(c.identities.get('basic-carol'), undefined)
    assert.equal(c.identities.get('basic-Carol'), undefined, 'claimed as Carol, answered as carol')
    assert.equal(c.identities.get('groups-carol'), undefined)
    assert.equal(c.realmHashes.get('ha1-carol'), undefined)
    assert.equal(c.identities.get('basic-CAROL-claimed')?.user, 'carol.smith', 'names are exact: CAROL is another name')
    assert.equal(c.identities.get('basic-alice')?.user, 'alice')
    assert.equal(c.realmHashes.get('ha1-alice'), 'local\0def')

    assert.deepEqual(
      flushCredentialCaches(c, 'carol.smith'),
      { flushed: 1, identities: 1, realmHashes: 0 },
      'by the name the provider answered',
    )
    assert.deepEqual(flushCredentialCaches(c, 'nobody'), { flushed: 0, identities: 0, realmHashes: 0 })
  })

  test('without a user: every entry goes, and the count says how many', () => {
    const c = caches()
    assert.deepEqual(flushCredentialCaches(c), { flushed: 7, identities: 5, realmHashes: 2 })
    assert.equal(c.identities.size + c.realmHashes.size, 0)
  })

  test('a check in flight when the user is flushed does not put its answer back', async () => {
    const { identities } = caches()
    let release!: () => void
    const loading = identities.through(
      'basic-dave',
      () =>
        new Promise((resolve) => {
          release = () =>
            resolve({ value: { user: 'dave', groups: [], provider: 'office' }, provider: 'office', subject: 'dave' })
        }),
    )
    identities.clearUser('dave', (v) => v.user)
    release()
    assert.equal((await loading)?.user, 'dave', 'the caller still gets its answer')
    assert.equal(identities.get('basic-dave'), undefined, 'but it is not cached')
  })
})
