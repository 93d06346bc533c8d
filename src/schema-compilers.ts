/**
 * Fastify's schema compilers (ajv for validation, fast-json-stringify for serialisation), loaded
 * when a route first declares a schema instead of when the instance is made. Fastify requires
 * both as it builds an instance, and each loads ajv (about 4 MB of RSS); gatehouse's own routes
 * declare no schema, so a front never pays for them.
 *
 * Fastify treats compilers handed to it as custom ones: it passes a `headers` schema to the
 * validator as written, without lower-casing its property names first. A route added to a
 * front's instance with a `headers` schema therefore names its headers in lower case.
 */
import { createRequire } from 'node:module'
import type { FastifyServerOptions } from 'fastify'

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>
type Factory = (...args: unknown[]) => unknown

// Resolved from fastify's own directory: they are its dependencies, in the versions it expects.
const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'))

/** The selector module's factory, required on its first call and then kept. */
function onFirstUse(specifier: string): Factory {
  let build: Factory | undefined
  return (...args) => {
    build ??= (fromFastify(specifier) as () => Factory)()
    return build(...args)
  }
}

/** For Fastify({ schemaController: lazySchemaController() }). */
export function lazySchemaController(): { compilersFactory: CompilersFactory } {
  return {
    compilersFactory: {
      buildValidator: onFirstUse('@fastify/ajv-compiler') as CompilersFactory['buildValidator'],
      buildSerializer: onFirstUse('@fastify/fast-json-stringify-compiler') as CompilersFactory['buildSerializer'],
    },
  }
}
