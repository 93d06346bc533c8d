/**
 * FromSchema<S>: the TypeScript type of the values a JSON Schema (written `as const`) accepts,
 * for the subset schema.ts uses: type (object, array, string, number, integer, boolean),
 * properties, required, additionalProperties, items, anyOf, enum and const. Keywords that only
 * narrow a value (minimum, pattern, minItems) or that the type cannot follow (allOf with
 * if/then, checked by ajv) leave the type as it is. The raw shapes of the file are then written
 * once, in the schema ajv validates against.
 */

type Simplify<T> = { [K in keyof T]: T[K] } & {}

type RequiredKeys<S> = S extends { required: readonly (infer R)[] } ? R : never

/** An object without `additionalProperties: false` takes other keys too (a module provider's options). */
type Extra<S> = S extends { additionalProperties: false }
  ? unknown
  : S extends { additionalProperties: infer A extends object }
    ? Record<string, FromSchema<A>>
    : Record<string, unknown>

type Properties<P, R> = {
  -readonly [K in keyof P as K extends R ? K : never]: FromSchema<P[K]>
} & {
  -readonly [K in keyof P as K extends R ? never : K]?: FromSchema<P[K]>
}

type ObjectOf<S> = S extends { properties: infer P } ? Simplify<Properties<P, RequiredKeys<S>>> & Extra<S> : Extra<S>

export type FromSchema<S> = S extends { const: infer C }
  ? C
  : S extends { enum: readonly (infer E)[] }
    ? E
    : S extends { anyOf: readonly (infer A)[] }
      ? FromSchema<A>
      : S extends { type: 'object' }
        ? ObjectOf<S>
        : S extends { type: 'array'; items: infer I }
          ? FromSchema<I>[]
          : S extends { type: 'string' }
            ? string
            : S extends { type: 'number' | 'integer' }
              ? number
              : S extends { type: 'boolean' }
                ? boolean
                : unknown
