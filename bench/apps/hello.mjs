// The daemon group's app in the benchmark: a plain node:http request listener answering "hello".
// Plain JavaScript, so the daemon runs without a TypeScript loader, as a deployed app would.
export default function hello(_req, res) {
  res.setHeader('content-type', 'text/plain')
  res.end('hello')
}
