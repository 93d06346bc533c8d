// The slow-logins provider run inside a daemon group (the shape of the demo's accounts app):
// users slow1 … slowN share one password, stored as an scrypt hash (N = 2^14, r 8, p 1, as the
// demo's accounts app stores them) that every check recomputes on libuv's thread pool.
// Plain JavaScript, like apps/hello.mjs. options.password names the password.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

const PARAMS = { N: 2 ** 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }

function derive(password, salt) {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, 32, PARAMS, (err, key) => (err ? reject(err) : resolve(key))),
  )
}

export default async function factory(options) {
  const salt = randomBytes(16)
  const stored = await derive(String(options.password), salt)
  return {
    async checkPassword(_ctx, user, password) {
      if (!/^slow[0-9]+$/.test(user)) return null
      const key = await derive(password, salt)
      return timingSafeEqual(key, stored)
    },
  }
}
