#!/usr/bin/env bash
# gatehouse-auth as a user gets it: `npm pack`, then `npm install` of that tarball into a fresh
# project (dependencies from the registry, better-sqlite3 built), and then only what the package
# brought: `npx gatehouse users|check-config|start` on a sample configuration (a sqlite provider,
# a plain upstream, a daemon group app importing gatehouse-auth/app), `npx gatehouse demo`, and
# the library example importing gatehouse-auth. Real curl against real listeners on 127.0.0.1.
# Everything lives in one temp dir, removed on exit; every wait is bounded.
#   bash test/package/packed-install.sh        (CI runs it from .ci/run)
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/gh-packed-XXXXXX")
project="$work/project"
started=$(date +%s)
passed=0
pgids=()

# $1: a process group this script started with setsid. One SIGTERM to the group; KILL after 15 s,
# and then it returns 1 (it did not stop by itself).
stop_group() {
  local pgid=$1 i
  kill -TERM -- "-$pgid" 2>/dev/null || return 0
  for i in $(seq 1 150); do kill -0 -- "-$pgid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL -- "-$pgid" 2>/dev/null || true
  return 1
}
cleanup() {
  local pgid
  for pgid in "${pgids[@]}"; do stop_group "$pgid" || true; done
  rm -rf "$work"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok $passed - $1"; }
fail() {
  echo "not ok - $1" >&2
  shift
  local f
  for f in "$@"; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 40 "$f" >&2; }; done
  echo "packed-install: $passed passed, 1 failed" >&2
  exit 1
}
expect_eq() { [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'" "${@:4}"; ok "$1"; }

# Starts "$@" in its own process group (its pid is the group id), output to $log. Sets $bg_pid.
start_bg() {
  local log=$1; shift
  setsid "$@" >"$log" 2>&1 < /dev/null &
  bg_pid=$!
  pgids+=("$bg_pid")
}
# Waits up to $3 seconds for a line matching the ERE $2 in file $1; prints its first match.
wait_for() {
  local file=$1 pattern=$2 secs=$3 i
  for i in $(seq 1 $((secs * 10))); do
    if grep -m 1 -Eo "$pattern" "$file" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}
# curl: prints the status code; the body goes to $1.
status_of() { local out=$1; shift; curl -sS --max-time 20 -o "$out" -w '%{http_code}' "$@"; }

# --- The tarball -----------------------------------------------------------------------------
cd "$repo"
timeout 300 npm pack --silent --pack-destination "$work" >"$work/pack.log" 2>&1 || fail 'npm pack' "$work/pack.log"
tarball=$(ls "$work"/gatehouse-auth-*.tgz)
tar -tzf "$tarball" | sed 's#^package/##' | sort >"$work/files.txt"
files=$(wc -l <"$work/files.txt")
echo "# $(basename "$tarball"): $(stat -c %s "$tarball") bytes, $files files"
for f in package.json README.md bin/gatehouse.js dist/src/cli/main.js dist/src/index.js dist/src/index.d.ts \
  dist/src/app-helpers.js dist/providers/sqlite/index.js dist/providers/htpasswd/index.js \
  types/fastify-request.d.ts examples/tracker-with-django-users/gatehouse.yaml examples/tracker-with-django-users/seed.ts \
  src/daemon/python/gatehouse_worker.py; do
  grep -qxF "$f" "$work/files.txt" || fail "the tarball holds $f"
done
ok 'the tarball holds the CLI, the compiled library and providers, the Python worker, the types and the demo'
unwanted=$(grep -vxF 'src/daemon/python/gatehouse_worker.py' "$work/files.txt" | grep -E '^(test|bench|src|providers|dist/test|dist/bench|dist/examples)/|\.map$|\.test\.' || true)
[ -z "$unwanted" ] || fail "the tarball holds no tests, bench, src/ or providers/ sources, compiled examples or source maps; it has: $(echo "$unwanted" | head -n 5 | tr '\n' ' ')"
ok 'the tarball holds no tests, bench, src/ or providers/ sources, compiled examples (dist/examples/) or source maps'

# --- A fresh project that installs it --------------------------------------------------------
mkdir -p "$project"
cd "$project"
npm init -y >/dev/null
# ES modules, as the library example (top-level await) and gatehouse-auth itself are.
npm pkg set type=module
# better-sqlite3 builds its native binding at install; npm asks projects to allow that.
npm pkg set --json allowScripts.better-sqlite3=true allowScripts.esbuild=true
dep() { node -p "require('$repo/package.json').dependencies['$1']"; }
# fastify and tsx for the library example, as its README says (the versions gatehouse-auth uses).
install_started=$(date +%s)
timeout 900 npm install --prefer-offline --no-audit --no-fund "$tarball" "fastify@$(dep fastify)" "tsx@$(dep tsx)" >"$work/install.log" 2>&1 \
  || fail 'npm install of the tarball into a fresh project' "$work/install.log"
[ -f node_modules/gatehouse-auth/package.json ] || fail 'gatehouse-auth is installed'
echo "# npm install: $(($(date +%s) - install_started)) s"
expect_eq 'npx gatehouse --version prints the packed version' \
  "$(timeout 60 npx --no -- gatehouse --version)" "$(node -p "require('$repo/package.json').version")"

# --- users, check-config, start --------------------------------------------------------------
printf 's3cret-pw\n' | timeout 60 npx --no -- gatehouse users add --database users.sqlite --password-stdin --digest-realm Office alice \
  >"$work/users.log" 2>&1 || fail 'gatehouse users add' "$work/users.log"
timeout 60 npx --no -- gatehouse users add-group --database users.sqlite alice staff >>"$work/users.log" 2>&1 \
  || fail 'gatehouse users add-group' "$work/users.log"
expect_eq 'gatehouse users list shows the added user' "$(timeout 60 npx --no -- gatehouse users list --database users.sqlite)" "$(printf 'alice\tactive\tstaff')"

cat >upstream.mjs <<'JS'
// Answers every request and records the identity headers it was sent, one JSON line each.
import { createServer } from 'node:http'
import { appendFileSync } from 'node:fs'
const server = createServer((req, res) => {
  appendFileSync(process.argv[2], JSON.stringify({ url: req.url, user: req.headers['x-remote-user'] ?? null }) + '\n')
  res.end(`upstream: ${req.headers['x-remote-user']}\n`)
})
server.listen(0, '127.0.0.1', () => console.log(`upstream on ${server.address().port}`))
JS
cat >hello-app.mjs <<'JS'
// A daemon group's app, importing gatehouse-auth/app from this project's node_modules.
import { getGroups, getUser } from 'gatehouse-auth/app'
export default (req, res) => res.end(`group app: ${getUser(req)} [${getGroups(req).join(',')}]\n`)
JS
: >"$work/upstream-seen.jsonl"
start_bg "$work/upstream.log" node upstream.mjs "$work/upstream-seen.jsonl"
upstream_port=$(wait_for "$work/upstream.log" 'upstream on [0-9]+' 15 | grep -Eo '[0-9]+$') || fail 'the upstream starts' "$work/upstream.log"
cat >hello.wsgi <<'PY'
# A WSGI app in a Python daemon group, run by the worker shipped in the package.
def application(environ, start_response):
    body = ("wsgi app: %s via %s\n" % (environ.get("REMOTE_USER"), environ.get("AUTH_TYPE"))).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
PY
cat >gatehouse.yaml <<YAML
listen: { host: 127.0.0.1, port: 0 }
providers:
  local: { type: sqlite, database: ./users.sqlite }
groups:
  hello: { app: ./hello-app.mjs, processes: 1 }
  py: { wsgi: ./hello.wsgi, python: /usr/bin/python3, processes: 1, threads: 2 }
routes:
  - path: /app
    upstream: http://127.0.0.1:$upstream_port
    auth: { scheme: [digest, basic], realm: Office, provider: local }
  - path: /hello
    group: hello
    auth: { scheme: basic, realm: Office, provider: local, require: { groups: [staff] } }
  - path: /py
    group: py
    auth: { scheme: basic, realm: Office, provider: local }
YAML
out=$(timeout 60 npx --no -- gatehouse check-config --config gatehouse.yaml) || fail "gatehouse check-config exits 0 (printed: $out)"
expect_eq 'gatehouse check-config prints ok for the sample configuration' "$out" 'ok: 3 routes, 1 providers, 2 groups'

start_bg "$work/start.log" npx --no -- gatehouse start --config gatehouse.yaml
gateway_pid=$bg_pid
url=$(wait_for "$work/start.log" 'gatehouse listening on http://127\.0\.0\.1:[0-9]+' 60 | sed 's/^gatehouse listening on //') \
  || fail 'gatehouse start listens' "$work/start.log"
ok "gatehouse start listens ($url)"

expect_eq 'a request without credentials is refused 401' "$(status_of "$work/body" "$url/app/x")" 401 "$work/body"
grep -qi '^www-authenticate: Digest realm="Office"' <(curl -sS --max-time 20 -D - -o /dev/null "$url/app/x") \
  || fail 'the 401 carries a Digest challenge for realm Office'
expect_eq 'a wrong password is refused 401' "$(status_of "$work/body" -u alice:wrong "$url/app/x")" 401 "$work/body"
expect_eq 'the upstream never saw a refused request' "$(wc -l <"$work/upstream-seen.jsonl")" 0 "$work/upstream-seen.jsonl"
expect_eq 'Basic with the right password gets through: 200' "$(status_of "$work/body" -u alice:s3cret-pw "$url/app/basic")" 200 "$work/body"
expect_eq 'Digest with the right password gets through: 200' "$(status_of "$work/body" --digest -u alice:s3cret-pw "$url/app/digest")" 200 "$work/body"
expect_eq 'the upstream saw X-Remote-User: alice on both, and nothing else' "$(cat "$work/upstream-seen.jsonl")" \
  "$(printf '%s\n%s' '{"url":"/app/basic","user":"alice"}' '{"url":"/app/digest","user":"alice"}')" "$work/upstream-seen.jsonl"
expect_eq 'the daemon group refuses a request without credentials: 401' "$(status_of "$work/body" "$url/hello/")" 401 "$work/body"
expect_eq 'the daemon group app answers alice: 200' "$(status_of "$work/body" -u alice:s3cret-pw "$url/hello/")" 200 "$work/body" "$work/start.log"
expect_eq "the group app read the identity through gatehouse-auth/app" "$(cat "$work/body")" 'group app: alice [staff]'
expect_eq 'the Python group refuses a request without credentials: 401' "$(status_of "$work/body" "$url/py/")" 401 "$work/body"
expect_eq 'the Python group answers alice: 200' "$(status_of "$work/body" -u alice:s3cret-pw "$url/py/")" 200 "$work/body" "$work/start.log"
expect_eq 'the WSGI app read REMOTE_USER and AUTH_TYPE' "$(cat "$work/body")" 'wsgi app: alice via Basic'

# One SIGTERM to the process group (npm exec, its shell, gatehouse): gatehouse drains and stops.
stop_group "$gateway_pid" || fail 'SIGTERM stops every process of gatehouse start' "$work/start.log"
wait "$gateway_pid" 2>/dev/null || true
grep -q '"msg":"stopped"' "$work/start.log" && ! grep -q '"msg":"second signal: exiting now"' "$work/start.log" \
  || fail 'SIGTERM stops gatehouse start gracefully (drained, "stopped" logged)' "$work/start.log"
ok 'SIGTERM stops gatehouse start gracefully, leaving no process behind'

# --- gatehouse demo: its apps and provider run from the installed package --------------------
start_bg "$work/demo.log" npx --no -- gatehouse demo --port 0 --data "$work/demo-data"
demo_pid=$bg_pid
demo_url=$(wait_for "$work/demo.log" 'gatehouse demo on http://127\.0\.0\.1:[0-9]+' 90 | sed 's/^gatehouse demo on //') \
  || fail 'gatehouse demo starts' "$work/demo.log"
alice_pw=$(grep -Eo 'demo user: alice password: [^ ]+' "$work/demo.log" | awk '{print $5}')
expect_eq 'the demo tracker refuses a request without credentials: 401' "$(status_of "$work/body" "$demo_url/tracker/")" 401 "$work/body"
expect_eq "the demo tracker lets its user alice in through the accounts app's provider (Digest): 200" \
  "$(status_of "$work/body" --digest -u "alice:$alice_pw" "$demo_url/tracker/")" 200 "$work/body" "$work/demo.log"
stop_group "$demo_pid" || fail 'SIGTERM stops gatehouse demo and its daemon groups' "$work/demo.log"
wait "$demo_pid" 2>/dev/null || true
ok 'SIGTERM stops gatehouse demo'

# --- The library example, importing gatehouse-auth -------------------------------------------
mkdir -p library
cp "$repo/examples/library-fastify/app.ts" "$repo/examples/library-fastify/groups" library/
htpasswd -cbB library/users.htpasswd alice lib-pw >"$work/htpasswd.log" 2>&1 \
  || fail "Apache's htpasswd (apache2-utils) writes the example's users.htpasswd" "$work/htpasswd.log"
start_bg "$work/library.log" env PORT=0 node --import tsx library/app.ts
library_pid=$bg_pid
lib_url=$(wait_for "$work/library.log" 'listening at http://127\.0\.0\.1:[0-9]+' 60 | sed 's/^listening at //') \
  || fail 'the library example listens' "$work/library.log"
expect_eq 'the library example serves its public route: 200' "$(status_of "$work/body" "$lib_url/")" 200 "$work/body"
expect_eq 'the library example refuses /hello without credentials: 401' "$(status_of "$work/body" "$lib_url/hello")" 401 "$work/body"
expect_eq 'the library example refuses a wrong password: 401' "$(status_of "$work/body" -u alice:nope "$lib_url/hello")" 401 "$work/body"
expect_eq 'the library example lets alice in with her htpasswd password: 200' "$(status_of "$work/body" -u alice:lib-pw "$lib_url/hello")" 200 "$work/body" "$work/library.log"
expect_eq 'gatehouseAuth set request.user and request.groups' "$(cat "$work/body")" 'hello, alice (staff)'
expect_eq 'the Digest context answers demo:demo: 200' "$(status_of "$work/body" --digest -u demo:demo "$lib_url/docs")" 200 "$work/body"
stop_group "$library_pid" || fail 'SIGTERM stops the library example' "$work/library.log"
wait "$library_pid" 2>/dev/null || true

echo "# packed-install: $(($(date +%s) - started)) s"
echo "packed-install: $passed passed, 0 failed"
