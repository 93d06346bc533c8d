#!/usr/bin/env node
// Runs the compiled CLI: the published package carries dist/; in a clone, `npm install` builds it
// through the prepare script.
import('../dist/src/cli/main.js')
  .then((m) => m.main(process.argv.slice(2)))
  .then(
    (code) => {
      if (typeof code === 'number') process.exitCode = code
    },
    (err) => {
      console.error(err && err.message ? err.message : err)
      process.exitCode = 1
    },
  )
