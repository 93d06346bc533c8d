/**
 * Where the Django provider reads users from: the rows of `auth_user`, `auth_user_groups` and
 * `auth_group`. An interface so a PostgreSQL (or MySQL) source can sit beside the SQLite one;
 * implementations throw only on technical failure (a missing user is `undefined`).
 */
export interface DjangoUser {
  id: number
  username: string
  /** auth_user.password as stored: `<algorithm>$…`, `!…` (unusable), or a legacy form. */
  password: string
  isActive: boolean
}

export interface DjangoUserSource {
  /** Exact, case-sensitive match on auth_user.username (Django's get_by_natural_key on SQLite). */
  findUser(username: string): Promise<DjangoUser | undefined>
  /** Names of the user's groups (auth_user_groups → auth_group), sorted. */
  groupsFor(userId: number): Promise<string[]>
  close(): Promise<void> | void
}
