/**
 * The user store's schema as numbered migrations; PRAGMA user_version holds how many ran.
 * A migration is appended, never edited: version N is the same SQL everywhere.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: users, groups, memberships, Digest HA1 per realm and algorithm.
  `
  CREATE TABLE users (
    name          TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ) STRICT;
  CREATE TABLE groups (
    name TEXT PRIMARY KEY NOT NULL
  ) STRICT;
  CREATE TABLE user_groups (
    user       TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE ON UPDATE CASCADE,
    group_name TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE ON UPDATE CASCADE,
    PRIMARY KEY (user, group_name)
  ) STRICT;
  CREATE TABLE digest_ha1 (
    user      TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE ON UPDATE CASCADE,
    realm     TEXT NOT NULL,
    algorithm TEXT NOT NULL CHECK (algorithm IN ('MD5', 'SHA-256', 'SHA-512-256')),
    ha1       TEXT NOT NULL,
    PRIMARY KEY (user, realm, algorithm)
  ) STRICT;
  `,
]

export const SCHEMA_VERSION = MIGRATIONS.length
