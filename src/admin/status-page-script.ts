/**
 * The status page's only script, inlined and allowed by its hash in the Content-Security-Policy:
 * every few seconds it fetches /status.json and redraws the figures, charts and tables of the
 * server-rendered page. Without it (scripts off) the page is the snapshot it was served as.
 *
 * Text goes in through textContent and attributes through setAttribute, never innerHTML, so a
 * user or group name cannot become markup. The chart path and the figures are computed the way
 * status-page.ts computes them; test/unit/status-page.test.ts holds the two to the same output.
 */
export const STATUS_SCRIPT = `
'use strict'
;(() => {
  const W = 180, H = 40, EVERY_MS = 3000
  const SVG = 'http://www.w3.org/2000/svg'
  const sum = (a) => a.reduce((x, y) => x + y, 0)
  const refusedOf = (s) => s.forbidden.map((v, i) => v + s.bad_password[i] + s.unknown_user[i] + s.invalid[i])
  const ratioOf = (h, m) => h.map((v, i) => (v + m[i] === 0 ? 0 : v / (v + m[i])))
  const SERIES = {
    requests: (s) => s.requests,
    ok: (s) => s.ok,
    refused: refusedOf,
    throttled: (s) => s.throttled,
    errors: (s) => s.error,
    cache: (s) => ratioOf(s.cacheHits, s.cacheMisses),
  }
  function sparkPath(values, top) {
    const max = top || Math.max(1, ...values.map((v) => v || 0))
    const n = values.length
    let d = 'M0 ' + H
    values.forEach((v, i) => { d += ' L' + (n > 1 ? (i * W) / (n - 1) : 0).toFixed(1) + ' ' + (H - ((v || 0) / max) * (H - 2)).toFixed(1) })
    return d + ' L' + W + ' ' + H + ' Z'
  }
  const mib = (b) => (b === null ? '-' : (b / 1048576).toFixed(1) + ' MiB')
  const ms = (v) => (v === null ? '-' : v < 10 ? v.toFixed(2) + ' ms' : Math.round(v) + ' ms')
  const pct = (r) => (r === null ? '-' : (r * 100).toFixed(1) + '%')
  function duration(t) {
    const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60
    return h > 0 ? h + 'h' + String(m).padStart(2, '0') + 'm' : m > 0 ? m + 'm' + String(s).padStart(2, '0') + 's' : s + 's'
  }
  function figures(r) {
    const f = { uptime: duration(r.uptimeSeconds), memory: mib(r.rssBytes), ready: r.ready ? 'yes' : 'no' }
    const a = r.activity
    if (a) {
      const x = a.summary.auth
      Object.assign(f, {
        rps: a.summary.requestsPerSecond.toFixed(2), ok: String(x.ok), refused: String(x.forbidden + x.bad_password + x.unknown_user + x.invalid),
        throttled: String(x.throttled), errors: String(x.error), cache: pct(a.summary.cacheHitRatio),
        cacheCounts: a.summary.cacheHits + ' hits, ' + a.summary.cacheMisses + ' misses',
      })
    }
    return f
  }
  function el(tag, text, cls) {
    const e = document.createElement(tag)
    if (text !== undefined) e.textContent = text
    if (cls) e.className = cls
    return e
  }
  function spark(values, label, top) {
    const svg = document.createElementNS(SVG, 'svg')
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H)
    svg.setAttribute('preserveAspectRatio', 'none')
    svg.setAttribute('class', 'spark')
    svg.setAttribute('role', 'img')
    svg.setAttribute('aria-label', label)
    const path = document.createElementNS(SVG, 'path')
    path.setAttribute('d', sparkPath(values, top))
    svg.append(path)
    return svg
  }
  function row(cells) {
    const tr = document.createElement('tr')
    for (const c of cells) tr.append(c instanceof Node ? wrap(c) : el('td', String(c)))
    return tr
  }
  function wrap(node) {
    if (node.nodeName === 'TD') return node
    const td = document.createElement('td')
    td.append(node)
    return td
  }
  function fill(tbody, rows, empty, span) {
    if (rows.length === 0) {
      const td = el('td', empty, 'l empty')
      td.colSpan = span
      rows = [row([td])]
    }
    tbody.replaceChildren(...rows)
  }
  function draw(r) {
    const f = figures(r)
    for (const e of document.querySelectorAll('[data-k]')) if (f[e.dataset.k] !== undefined) e.textContent = f[e.dataset.k]
    const ready = document.querySelector('[data-k="ready"]')
    if (ready) ready.className = r.ready ? 'ready' : 'bad'
    const a = r.activity
    if (a) {
      for (const svg of document.querySelectorAll('svg[data-series]')) {
        const k = svg.dataset.series
        svg.querySelector('path').setAttribute('d', sparkPath(SERIES[k](a.series), k === 'cache' ? 1 : 0))
      }
      const tbody = document.querySelector('#providers tbody')
      if (tbody) fill(tbody, a.providers.map((p) => row([el('td', p.name, 'l'), p.calls, p.failures, ms(p.p50Ms), ms(p.p99Ms), spark(p.series.calls, 'calls to ' + p.name + ' per ' + a.slotSeconds + ' s')])), 'No provider was called yet.', 6)
    }
    const locks = document.querySelector('#lockouts tbody')
    if (locks && Array.isArray(r.lockouts)) {
      fill(locks, r.lockouts.map((l) => row([el('td', l.scope, 'l'), el('td', l.address, 'l'), el('td', l.user === undefined ? '-' : l.user, 'l'), el('td', l.providers === undefined ? '-' : l.providers, 'l'), duration(l.secondsLeft), el('td', l.until, 'l')])), 'No address or user is locked out.', 6)
    }
    const shown = [...document.querySelectorAll('section[data-group]')].map((s) => s.dataset.group)
    if (shown.join('\\0') !== r.groups.map((g) => g.name).join('\\0')) return location.reload()
    for (const g of r.groups) {
      const sec = document.querySelector('section[data-group="' + CSS.escape(g.name) + '"]')
      sec.querySelector('.group-state').textContent = '(' + g.state + ', processes ' + (g.min === g.max ? g.min : g.min + '..' + g.max) + ')'
      sec.querySelector('.counts').textContent = 'queued ' + g.queued + ' · restarts ' + g.restarts + ' · reloads ' + g.reloads + ' · recycled ' + g.recycled + ' · spawned ' + g.spawned + ' · retired ' + g.retired
      sec.querySelector('.last-reload').textContent = g.lastReload ? g.lastReload.at + ': ' + g.lastReload.reason : 'never'
      fill(sec.querySelector('tbody'), g.processes.map((p) => row([p.pid === null ? '-' : p.pid, el('td', p.state, 'l' + (p.state === 'ready' ? ' ready' : '')), p.inflight, p.served, mib(p.rssBytes), duration(p.uptimeSeconds)])), 'No process.', 6)
    }
    const when = new Date().toISOString()
    document.body.dataset.updated = when
    const u = document.getElementById('updated')
    if (u) u.textContent = 'live, updated ' + when.slice(11, 19) + ' UTC'
  }
  async function refresh() {
    try {
      const res = await fetch('status.json', { headers: { accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' })
      if (!res.ok) throw new Error('status.json answered ' + res.status)
      draw(await res.json())
    } catch (err) {
      const u = document.getElementById('updated')
      if (u) u.textContent = 'not updated: ' + err.message
    }
    setTimeout(refresh, EVERY_MS)
  }
  refresh()
})()
`
