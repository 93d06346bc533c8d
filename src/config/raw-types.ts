/**
 * The configuration file's shapes before defaults, derived from the schema ajv validates against
 * (FromSchema), so a key is written once. parseConfig and its section parsers read these;
 * the rest of gatehouse reads the normalized types of types.ts.
 */
import type { FromSchema } from './from-schema.js'
import type { configSchema } from './schema.js'

export type RawConfig = FromSchema<typeof configSchema>
export type RawListen = NonNullable<RawConfig['listen']>
export type RawProvider = NonNullable<RawConfig['providers']>[string]
export type RawGroup = NonNullable<RawConfig['groups']>[string]
export type RawRoute = NonNullable<RawConfig['routes']>[number]
export type RawAuth = NonNullable<RawRoute['auth']>
export type RawRequire = NonNullable<RawAuth['require']>
export type RawSidecar = NonNullable<RawConfig['sidecar']>
export type RawSession = NonNullable<RawConfig['session']>
export type RawThrottle = NonNullable<RawConfig['throttle']>
export type RawThrottleRule = Exclude<NonNullable<RawThrottle['perAddress']>, false>
export type RawLimits = NonNullable<RawConfig['limits']>
export type RawAdmin = NonNullable<RawConfig['admin']>
export type RawState = NonNullable<RawConfig['state']>
