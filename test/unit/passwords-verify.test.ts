import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import {
  detectFormat,
  dummyVerify,
  hashBcryptSync,
  hashPassword,
  primeDummy,
  verifyPassword,
} from '../../src/passwords/index.js'
import { needs } from '../helpers/required-tool.js'

const HTPASSWD = '/usr/bin/htpasswd'
const hasHtpasswd = existsSync(HTPASSWD)
const PASSWORD = 'correct horse'

// Fixed vectors for "correct horse": written by Apache htpasswd 2.4 (Debian), glibc crypt,
// the argon2 reference README, and computed by hand where noted.
const FIXED: Array<{ format: string; hash: string; password?: string }> = [
  { format: 'bcrypt', hash: '$2y$05$ORLE76KHLml81u8AjczolOveQ.GgJUtyeeprkeny2NvcILZ/ECVZ6' }, // htpasswd -B
  { format: 'bcrypt', hash: '$2b$04$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6e' },
  { format: 'bcrypt', hash: '$2a$04$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6e' },
  { format: 'apr1', hash: '$apr1$0OoQtq2d$CqX1bCzCiEhGv9Aui73O81' }, // htpasswd -m
  { format: 'md5-crypt', hash: '$1$saltsalt$NuzA7WTAelpl95xgBGWN60' }, // glibc crypt
  { format: 'sha1', hash: '{SHA}L55TUjtiq8FBorTWAZ0jy6g129A=' }, // htpasswd -s
  { format: 'des-crypt', hash: 'B9/sey5PbX8wI' }, // htpasswd -d (first 8 characters count)
  { format: 'sha256-crypt', hash: '$5$4bhi0zZeAmKcnTTv$SqZRDxuoD7t0vVn85bVcLmrfoGuzjVnZl1ixAzz1czB' }, // htpasswd -2
  {
    format: 'sha512-crypt',
    hash: '$6$aJmX7rYQNzEOeysW$rYiDoi0uvMcSDbqfANf68TOrLFSHIuQ.ovNf4fcOVX5WDJe74Oi24YXS1QQhCa1FZkWEg13b0S2cvG10.61Lh/',
  }, // htpasswd -5
  { format: 'ssha', hash: '{SSHA}i23u8t8rasahzNZA33ehTiR3HPE1YTF0' }, // base64(SHA1("correct horse" + "5a1t") + "5a1t")
  {
    format: 'argon2id',
    hash: '$argon2id$v=19$m=1024,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$MO33cCFnqSA8SskhR8/i5r/vajJ3mDxwI/Myoh5GZwk',
  },
  {
    format: 'argon2i',
    hash: '$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG',
    password: 'password',
  }, // argon2 reference README
]

describe('verifyPassword with fixed vectors', () => {
  for (const { format, hash, password = PASSWORD } of FIXED) {
    test(`${format} ${hash.slice(0, 7)}…: right password true, wrong password false`, async () => {
      assert.equal(detectFormat(hash), format)
      assert.equal(await verifyPassword(hash, password), true)
      assert.equal(await verifyPassword(hash, 'X' + password.slice(1)), false)
      if (format !== 'des-crypt') assert.equal(await verifyPassword(hash, password.slice(0, -1) + 'X'), false)
      assert.equal(await verifyPassword(hash, ''), false)
    })
  }

  test('traditional crypt compares only the first 8 characters, like Apache', async () => {
    assert.equal(await verifyPassword('B9/sey5PbX8wI', 'correct horse battery'), true)
  })
})

describe(
  'verifyPassword with hashes htpasswd writes now',
  { skip: needs(hasHtpasswd, 'apache2-utils (htpasswd) not installed') },
  () => {
    const flags: Array<[string, string[]]> = [
      ['bcrypt -B', ['-B', '-C', '5']],
      ['apr1 -m', ['-m']],
      ['SHA-1 -s', ['-s']],
      ['crypt -d', ['-d']],
      ['SHA-256 -2', ['-2']],
      ['SHA-256 -2 -r 12000', ['-2', '-r', '12000']],
      ['SHA-512 -5', ['-5']],
    ]
    for (const [name, args] of flags) {
      for (const password of ['s3cret!pw', 'pässwörd☃']) {
        test(`${name} with ${password === 's3cret!pw' ? 'an ASCII' : 'a UTF-8'} password`, async () => {
          const line = execFileSync(HTPASSWD, ['-nb', ...args, 'user', password], {
            stdio: ['ignore', 'pipe', 'ignore'],
          })
            .toString()
            .trim()
          const hash = line.slice('user:'.length)
          assert.notEqual(detectFormat(hash), undefined, hash)
          assert.equal(await verifyPassword(hash, password), true)
          assert.equal(await verifyPassword(hash, 'wrong password'), false)
        })
      }
    }
  },
)

describe('detectFormat and unknown formats', () => {
  test('names each format and answers undefined for anything else', () => {
    assert.equal(detectFormat('$2y$05$ORLE76KHLml81u8AjczolOveQ.GgJUtyeeprkeny2NvcILZ/ECVZ'), undefined) // one character short
    assert.equal(detectFormat('$apr1$0OoQtq2d$CqX1bCzCiEhGv9Aui73O8'), undefined)
    assert.equal(detectFormat('{SHA}not-base64'), undefined)
    assert.equal(detectFormat('$y$j9T$abc$def'), undefined) // yescrypt: not supported
    assert.equal(detectFormat('plain text'), undefined)
    assert.equal(detectFormat(''), undefined)
  })

  test('an unknown format never verifies, even with the password as the "hash"', async () => {
    assert.equal(await verifyPassword('$y$j9T$abc$def', '$y$j9T$abc$def'), false)
    assert.equal(await verifyPassword('plain text', 'plain text'), false)
    assert.equal(await verifyPassword('', ''), false)
  })

  test('plaintext is compared only when allowPlaintext is set', async () => {
    assert.equal(await verifyPassword('plain text', 'plain text', { allowPlaintext: true }), true)
    assert.equal(await verifyPassword('plain text', 'plain texT', { allowPlaintext: true }), false)
    assert.equal(await verifyPassword('', '', { allowPlaintext: true }), false)
    // A known format is still verified as that format.
    assert.equal(
      await verifyPassword('{SHA}L55TUjtiq8FBorTWAZ0jy6g129A=', '{SHA}L55TUjtiq8FBorTWAZ0jy6g129A=', {
        allowPlaintext: true,
      }),
      false,
    )
  })
})

describe('hashPassword and dummyVerify', () => {
  test('bcrypt is the default, with cost 10', async () => {
    const hash = await hashPassword('pw one')
    assert.match(hash, /^\$2b\$10\$/)
    assert.equal(await verifyPassword(hash, 'pw one'), true)
    assert.equal(await verifyPassword(hash, 'pw two'), false)
  })

  test('bcrypt cost is configurable and checked', async () => {
    assert.match(await hashPassword('pw', 'bcrypt', { cost: 4 }), /^\$2b\$04\$/)
    await assert.rejects(hashPassword('pw', 'bcrypt', { cost: 3 }), TypeError)
    assert.match(hashBcryptSync('pw', 5), /^\$2b\$05\$/)
  })

  test('argon2id, sha512-crypt and sha256-crypt hashes verify', async () => {
    const argon = await hashPassword('pw ☃', 'argon2id', { memorySize: 1024, iterations: 1 })
    assert.match(argon, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/)
    assert.equal(await verifyPassword(argon, 'pw ☃'), true)
    const sha512 = await hashPassword('pw ☃', 'sha512-crypt', { rounds: 6000 })
    assert.match(sha512, /^\$6\$rounds=6000\$[./0-9A-Za-z]{16}\$/)
    assert.equal(await verifyPassword(sha512, 'pw ☃'), true)
    const sha256 = await hashPassword('pw ☃', 'sha256-crypt')
    assert.match(sha256, /^\$5\$[./0-9A-Za-z]{16}\$/)
    assert.equal(await verifyPassword(sha256, 'pw ☃'), true)
    assert.equal(await verifyPassword(sha256, 'pw'), false)
  })

  test('two hashes of one password differ (random salt)', async () => {
    assert.notEqual(
      await hashPassword('same', 'bcrypt', { cost: 4 }),
      await hashPassword('same', 'bcrypt', { cost: 4 }),
    )
  })

  test('dummyVerify answers false for any password, with or without a hash to imitate', async () => {
    await primeDummy({ cost: 4 })
    assert.equal(await dummyVerify('anything', { cost: 4 }), false)
    assert.equal(await dummyVerify('', { like: '$2y$05$ORLE76KHLml81u8AjczolOveQ.GgJUtyeeprkeny2NvcILZ/ECVZ6' }), false)
    assert.equal(await dummyVerify(PASSWORD, { like: '$apr1$0OoQtq2d$CqX1bCzCiEhGv9Aui73O81' }), false)
    assert.equal(
      await dummyVerify(PASSWORD, {
        like: '$6$aJmX7rYQNzEOeysW$rYiDoi0uvMcSDbqfANf68TOrLFSHIuQ.ovNf4fcOVX5WDJe74Oi24YXS1QQhCa1FZkWEg13b0S2cvG10.61Lh/',
      }),
      false,
    )
    assert.equal(await dummyVerify(PASSWORD, { like: 'unknown format' }), false)
  })
})
