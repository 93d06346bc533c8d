/**
 * The tracker's data (SQLite, better-sqlite3): tickets with comments, and wiki pages with
 * their full history (every save is a revision; a page is its latest revision).
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'

export interface Ticket {
  id: number
  title: string
  body: string
  status: 'open' | 'closed'
  reporter: string
  createdAt: string
  closedBy: string | null
}

export interface Comment {
  id: number
  author: string
  body: string
  createdAt: string
}

export interface WikiRevision {
  id: number
  page: string
  body: string
  author: string
  createdAt: string
}

/** Wiki page names: CamelCase or words joined by - and _, as in Trac. */
export const PAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tickets (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
  reporter TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  closed_by TEXT
);
CREATE TABLE IF NOT EXISTS comments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
  author TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE TABLE IF NOT EXISTS wiki_revisions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  page TEXT NOT NULL,
  body TEXT NOT NULL,
  author TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX IF NOT EXISTS wiki_by_page ON wiki_revisions (page, id);`

const TICKET_COLUMNS = 'id, title, body, status, reporter, created_at AS createdAt, closed_by AS closedBy'
const REVISION_COLUMNS = 'id, page, body, author, created_at AS createdAt'

export class TrackerDb {
  readonly #db: Database.Database

  private constructor(db: Database.Database) {
    this.#db = db
  }

  static open(path: string): TrackerDb {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    const db = new Database(path, { timeout: 5000 })
    db.pragma('journal_mode = WAL')
    db.pragma('foreign_keys = ON')
    db.exec(SCHEMA)
    return new TrackerDb(db)
  }

  tickets(status: 'open' | 'closed' | 'all' = 'all', limit = 200): Ticket[] {
    const where = status === 'all' ? '' : 'WHERE status = @status'
    return this.#db
      .prepare(`SELECT ${TICKET_COLUMNS} FROM tickets ${where} ORDER BY id DESC LIMIT @limit`)
      .all({ status, limit }) as Ticket[]
  }

  ticket(id: number): Ticket | undefined {
    return this.#db.prepare(`SELECT ${TICKET_COLUMNS} FROM tickets WHERE id = ?`).get(id) as Ticket | undefined
  }

  createTicket(title: string, body: string, reporter: string): number {
    return Number(
      this.#db.prepare('INSERT INTO tickets (title, body, reporter) VALUES (?, ?, ?)').run(title, body, reporter)
        .lastInsertRowid,
    )
  }

  comments(ticketId: number): Comment[] {
    return this.#db
      .prepare('SELECT id, author, body, created_at AS createdAt FROM comments WHERE ticket_id = ? ORDER BY id')
      .all(ticketId) as Comment[]
  }

  addComment(ticketId: number, author: string, body: string): void {
    this.#db.prepare('INSERT INTO comments (ticket_id, author, body) VALUES (?, ?, ?)').run(ticketId, author, body)
  }

  setStatus(id: number, status: 'open' | 'closed', by: string): boolean {
    return (
      this.#db
        .prepare('UPDATE tickets SET status = ?, closed_by = ? WHERE id = ?')
        .run(status, status === 'closed' ? by : null, id).changes > 0
    )
  }

  deleteTicket(id: number): boolean {
    return this.#db.prepare('DELETE FROM tickets WHERE id = ?').run(id).changes > 0
  }

  /** The latest revision of every page. */
  pages(): WikiRevision[] {
    return this.#db
      .prepare(
        `SELECT ${REVISION_COLUMNS} FROM wiki_revisions WHERE id IN (SELECT MAX(id) FROM wiki_revisions GROUP BY page) ORDER BY page`,
      )
      .all() as WikiRevision[]
  }

  page(name: string): WikiRevision | undefined {
    return this.#db
      .prepare(`SELECT ${REVISION_COLUMNS} FROM wiki_revisions WHERE page = ? ORDER BY id DESC LIMIT 1`)
      .get(name) as WikiRevision | undefined
  }

  history(name: string): WikiRevision[] {
    return this.#db
      .prepare(`SELECT ${REVISION_COLUMNS} FROM wiki_revisions WHERE page = ? ORDER BY id DESC`)
      .all(name) as WikiRevision[]
  }

  savePage(name: string, body: string, author: string): void {
    this.#db.prepare('INSERT INTO wiki_revisions (page, body, author) VALUES (?, ?, ?)').run(name, body, author)
  }

  stats(): { open: number; closed: number; comments: number; pages: number; people: string[] } {
    const count = (sql: string) => (this.#db.prepare(sql).get() as { n: number }).n
    const people = this.#db
      .prepare(
        'SELECT reporter AS name FROM tickets UNION SELECT author FROM comments UNION SELECT author FROM wiki_revisions ORDER BY 1',
      )
      .all() as Array<{ name: string }>
    return {
      open: count("SELECT COUNT(*) AS n FROM tickets WHERE status = 'open'"),
      closed: count("SELECT COUNT(*) AS n FROM tickets WHERE status = 'closed'"),
      comments: count('SELECT COUNT(*) AS n FROM comments'),
      pages: count('SELECT COUNT(DISTINCT page) AS n FROM wiki_revisions'),
      people: people.map((p) => p.name),
    }
  }

  close(): void {
    if (this.#db.open) this.#db.close()
  }
}
