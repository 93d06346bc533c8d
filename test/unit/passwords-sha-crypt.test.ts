import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { parseShaCrypt, shaCrypt } from '../../src/passwords/sha-crypt.js'
import { verifyPassword } from '../../src/passwords/verify.js'
import { needs } from '../helpers/required-tool.js'

// Test vectors from the specification, https://www.akkadia.org/drepper/SHA-crypt.txt
const SPEC_VECTORS: Array<[string, string, 'sha256' | 'sha512', string, number | undefined, string]> = [
  [
    'sha256 default rounds',
    'Hello world!',
    'sha256',
    'saltstring',
    undefined,
    '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5',
  ],
  [
    'sha256 rounds=10000, salt cut at 16',
    'Hello world!',
    'sha256',
    'saltstringsaltstring',
    10000,
    '$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA',
  ],
  [
    'sha256 rounds=77777, short salt',
    'we have a short salt string but not a short password',
    'sha256',
    'short',
    77777,
    '$5$rounds=77777$short$JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/',
  ],
  [
    'sha256 rounds below 1000 are raised to 1000',
    'the minimum number is still observed',
    'sha256',
    'roundstoolow',
    10,
    '$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC',
  ],
  [
    'sha512 default rounds',
    'Hello world!',
    'sha512',
    'saltstring',
    undefined,
    '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
  ],
  [
    'sha512 rounds=10000',
    'Hello world!',
    'sha512',
    'saltstringsaltstring',
    10000,
    '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.',
  ],
  [
    'sha512 rounds=123456, 16-char salt',
    'a short string',
    'sha512',
    'asaltof16chars..',
    123456,
    '$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1',
  ],
]

describe('shaCrypt (Drepper SHA-crypt)', () => {
  for (const [name, password, variant, salt, rounds, expected] of SPEC_VECTORS) {
    test(`reproduces the spec vector: ${name}`, () => {
      assert.equal(shaCrypt(password, variant, salt, rounds), expected)
    })
  }

  test('parseShaCrypt reads variant, rounds and salt, and rejects other strings', () => {
    assert.deepEqual(parseShaCrypt('$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA'), {
      variant: 'sha256',
      rounds: 10000,
      roundsStated: true,
      salt: 'saltstringsaltst',
      digest: '3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA',
    })
    assert.equal(parseShaCrypt('$6$saltstring$abc')?.rounds, 5000)
    assert.equal(parseShaCrypt('$6$saltstring$abc')?.roundsStated, false)
    assert.equal(parseShaCrypt('$7$salt$abc'), undefined)
    assert.equal(parseShaCrypt('$5$a-salt-longer-than-16$abc'), undefined)
  })

  test(
    'verifies hashes written by `openssl passwd -5` and `-6`, including a UTF-8 password',
    { skip: needs(existsSync('/usr/bin/openssl'), 'openssl not installed (apt install openssl)') },
    async () => {
      for (const flag of ['-5', '-6']) {
        for (const password of ['correct horse', 'pässwörd ☃']) {
          const hash = execFileSync('/usr/bin/openssl', ['passwd', flag, '-stdin'], { input: password + '\n' })
            .toString()
            .trim()
          assert.match(hash, flag === '-5' ? /^\$5\$/ : /^\$6\$/)
          assert.equal(await verifyPassword(hash, password), true, `${flag} ${password}`)
          assert.equal(await verifyPassword(hash, password + 'x'), false)
        }
      }
    },
  )
})
