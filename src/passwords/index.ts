/** Password hash formats: verify every format Apache's htpasswd writes, hash for gatehouse's own store. */
export { verifyPassword, type VerifyOptions } from './verify.js'
export { detectFormat, type PasswordFormat } from './formats.js'
export {
  hashPassword,
  hashBcryptSync,
  dummyVerify,
  primeDummy,
  DEFAULT_BCRYPT_COST,
  type HashFormat,
  type HashOptions,
  type DummyOptions,
} from './hash.js'
export { safeEqual } from './constant-time.js'
export { shaCrypt, parseShaCrypt } from './sha-crypt.js'
