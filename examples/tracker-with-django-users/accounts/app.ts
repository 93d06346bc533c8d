/**
 * The accounts app (daemon group `accounts`): owns the user database. A public sign-up page
 * (/accounts/signup) and an admin area (/accounts/) to add users, set passwords,
 * (de)activate them and manage group membership. gatehouse lets only group `staff` into
 * /accounts/ (route require); the app checks the groups it was sent as well.
 */
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { getIdentity, getUser } from 'gatehouse-auth/app'
import { dataFile, ensureSecretFile } from '../lib/data-dir.js'
import { Csrf, formOf, registerFormParser } from '../lib/forms.js'
import { csrfField, esc, page, when } from '../lib/html.js'
import { AccountError, AccountsDb, MIN_PASSWORD, realmsFromEnv, type Account } from './db.js'

const db = AccountsDb.open(dataFile('accounts.sqlite'), { realms: realmsFromEnv() })
const csrf = new Csrf(ensureSecretFile(dataFile('csrf.secret')), 'accounts')
const NAV: Array<[string, string]> = [
  ['/tracker/', 'Tracker'],
  ['/accounts/signup', 'Sign up'],
  ['/accounts/', 'Accounts admin'],
]

const app = Fastify({ logger: false })
registerFormParser(app)
app.addHook(
  'preHandler',
  csrf.guard((req) => getUser(req.raw)),
)

const html = (reply: FastifyReply, status: number, title: string, req: FastifyRequest, body: string) =>
  reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(page({ title, identity: getIdentity(req.raw), nav: NAV }, body))

// ── sign-up (public) ────────────────────────────────────────────────────────────────────────

function signupForm(message = '', name = ''): string {
  return `<h1>Create an account</h1>${message}
<form class="card" method="post" action="/accounts/signup">${csrfField(csrf.token(undefined))}
<label for="name">User name</label><input type="text" id="name" name="name" value="${esc(name)}" autocomplete="username" required>
<label for="password">Password (at least ${MIN_PASSWORD} characters)</label><input type="password" id="password" name="password" autocomplete="new-password" required>
<label for="password2">Password again</label><input type="password" id="password2" name="password2" autocomplete="new-password" required>
<p><button>Sign up</button></p></form>
<p class="muted">Your password is stored as an scrypt hash, plus the Digest hashes of the realm(s) ${db.realms.map(esc).join(', ')}.</p>`
}

app.get('/accounts/signup', async (req, reply) => html(reply, 200, 'Sign up', req, signupForm()))

app.post('/accounts/signup', async (req, reply) => {
  const form = formOf(req)
  const name = form.name ?? ''
  if ((form.password ?? '') !== (form.password2 ?? ''))
    return html(reply, 400, 'Sign up', req, signupForm('<p class="error">The two passwords differ.</p>', name))
  try {
    await db.createUser(name, form.password ?? '')
  } catch (err) {
    if (!(err instanceof AccountError)) throw err
    return html(
      reply,
      /taken/.test(err.message) ? 409 : 400,
      'Sign up',
      req,
      signupForm(`<p class="error">${esc(err.message)}</p>`, name),
    )
  }
  return html(
    reply,
    201,
    'Welcome',
    req,
    `<h1>Welcome, ${esc(name)}</h1><p>Your account exists. <a href="/tracker/">Log into the tracker</a> with it (your browser will ask).</p>`,
  )
})

// ── admin area (staff) ──────────────────────────────────────────────────────────────────────

async function requireStaff(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (getIdentity(req.raw).groups.includes('staff')) return
  await html(
    reply,
    403,
    'Forbidden',
    req,
    '<h1>Forbidden</h1><p>The accounts admin area is for group <b>staff</b>.</p>',
  )
}

function userRow(a: Account, token: string): string {
  const u = encodeURIComponent(a.name)
  const groups = a.groups
    .map(
      (g) =>
        `<form class="inline" method="post" action="/accounts/users/${u}/groups">${csrfField(token)}<input type="hidden" name="group" value="${esc(g)}"><input type="hidden" name="action" value="remove"><span class="tag">${esc(g)} <button class="plain" title="remove from ${esc(g)}">×</button></span></form>`,
    )
    .join(' ')
  return `<tr><td><b>${esc(a.name)}</b><br>${when(a.createdAt)}</td>
<td><span class="tag ${a.active ? 'open' : 'inactive'}">${a.active ? 'active' : 'inactive'}</span>
<form class="inline" method="post" action="/accounts/users/${u}/active">${csrfField(token)}<input type="hidden" name="active" value="${a.active ? '0' : '1'}"><button class="plain">${a.active ? 'deactivate' : 'activate'}</button></form></td>
<td>${groups}<form class="inline" method="post" action="/accounts/users/${u}/groups">${csrfField(token)}<input type="hidden" name="action" value="add"><input type="text" name="group" size="8" placeholder="group"><button class="plain">add</button></form></td>
<td><form class="inline" method="post" action="/accounts/users/${u}/password">${csrfField(token)}<input type="password" name="password" size="10" placeholder="new password" autocomplete="new-password"><button class="plain">set</button></form></td></tr>`
}

function adminPage(req: FastifyRequest, message = ''): string {
  const token = csrf.token(getUser(req.raw))
  return `<h1>Accounts</h1>${message}
<table><tr><th>User</th><th>Status</th><th>Groups</th><th>Password</th></tr>${db
    .list()
    .map((a) => userRow(a, token))
    .join('')}</table>
<form class="card" method="post" action="/accounts/users">${csrfField(token)}<h2>Add a user</h2>
<label for="name">User name</label><input type="text" id="name" name="name" required>
<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="new-password" required>
<label for="groups">Groups (comma-separated)</label><input type="text" id="groups" name="groups" placeholder="staff">
<p><button>Add user</button></p></form>`
}

async function change(req: FastifyRequest, reply: FastifyReply, what: () => Promise<void> | void) {
  try {
    await what()
  } catch (err) {
    if (!(err instanceof AccountError)) throw err
    return html(
      reply,
      /taken/.test(err.message) ? 409 : 400,
      'Accounts',
      req,
      adminPage(req, `<p class="error">${esc(err.message)}</p>`),
    )
  }
  return reply.code(303).header('location', '/accounts/').send()
}

type NameParams = { Params: { name: string } }

app.register(async (admin) => {
  admin.addHook('preHandler', requireStaff)
  admin.get('/accounts', async (_req, reply) => reply.code(301).header('location', '/accounts/').send())
  admin.get('/accounts/', async (req, reply) => html(reply, 200, 'Accounts', req, adminPage(req)))
  admin.post('/accounts/users', async (req, reply) => {
    const form = formOf(req)
    const groups = (form.groups ?? '')
      .split(',')
      .map((g) => g.trim())
      .filter((g) => g !== '')
    return change(req, reply, () => db.createUser(form.name ?? '', form.password ?? '', { groups }))
  })
  admin.post<NameParams>('/accounts/users/:name/password', async (req, reply) =>
    change(req, reply, () => db.setPassword(req.params.name, formOf(req).password ?? '')),
  )
  admin.post<NameParams>('/accounts/users/:name/active', async (req, reply) =>
    change(req, reply, () => db.setActive(req.params.name, formOf(req).active === '1')),
  )
  admin.post<NameParams>('/accounts/users/:name/groups', async (req, reply) => {
    const { group = '', action } = formOf(req)
    return change(req, reply, () =>
      action === 'remove' ? db.removeFromGroup(req.params.name, group) : db.addToGroup(req.params.name, group),
    )
  })
})

await app.ready()

export default function accounts(req: IncomingMessage, res: ServerResponse): void {
  app.routing(req, res)
}
