/** The script the primary forks for each front worker (cluster.setupPrimary's `exec`). */
import { runFrontWorker } from './front-worker.js'

await runFrontWorker()
