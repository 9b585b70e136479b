#!/usr/bin/env node
/**
 * Runs a k6 script's logic under Node, for machines without k6 (like this repo's CI): setup() once,
 * then the default function for a few iterations per virtual user, one at a time, then teardown().
 * Only what loadtest/ uses of k6 is provided (check, group, sleep, http.request/get/post/batch,
 * Counter/Rate/Trend, __ENV, __VU, __ITER). It proves the scripts' requests and checks against a
 * real stack; it measures nothing, and scenarios, thresholds and concurrency stay k6's.
 *
 *   BASE_URL=<edge> SANDBOX_URL=<sandbox> THINK_S=0 node loadtest/node-shim/run.mjs loadtest/pay.js [--vus 2] [--iterations 3]
 *
 * Prints every check with its passes and failures; exits 1 if a check failed or an iteration threw.
 */
import { register } from 'node:module'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { results } from './state.mjs'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { vus: { type: 'string', default: '2' }, iterations: { type: 'string', default: '3' } },
})
const script = positionals[0]
const vus = Number(values.vus)
const iterations = Number(values.iterations)
if (!script || !(vus >= 1) || !(iterations >= 1)) {
  console.error('usage: node loadtest/node-shim/run.mjs <script.js> [--vus N] [--iterations N]')
  process.exit(2)
}

register('./hooks.mjs', import.meta.url)
globalThis.__ENV = { ...process.env }
globalThis.__VU = 0
globalThis.__ITER = 0

const module = await import(pathToFileURL(resolve(script)).href)
if (typeof module.default !== 'function') {
  console.error(`${script}: no default function to run`)
  process.exit(2)
}
// k6 hands setup()'s result to every VU as a JSON copy; a failed setup stops the run, as in k6.
let data
try {
  data = module.setup ? JSON.parse(JSON.stringify(module.setup() ?? null)) : undefined
} catch (err) {
  console.error(`${script}: setup failed: ${err?.message ?? err}`)
  process.exit(1)
}
const thrown = []
for (let vu = 1; vu <= vus; vu++) {
  for (let iter = 0; iter < iterations; iter++) {
    globalThis.__VU = vu
    globalThis.__ITER = iter
    try {
      module.default(data)
    } catch (err) {
      thrown.push(`VU ${vu} iteration ${iter}: ${err?.stack ?? err}`)
    }
  }
}
if (module.teardown) module.teardown(data)

let failed = 0
for (const [name, [pass, fail]] of results.checks) {
  failed += fail
  console.log(`${fail ? '✗' : '✓'} ${name}: ${pass} passed${fail ? `, ${fail} failed` : ''}`)
}
for (const line of thrown) console.log(`✗ ${line}`)
const metrics = [...results.metrics].map(([name, n]) => `${name} ${n}`).join(', ')
console.log(
  `${script}: ${vus} VUs × ${iterations} iterations, ${results.requests} requests, ` +
    `${results.checks.size} checks, ${failed} failed, ${thrown.length} iterations threw` +
    (metrics ? `; metrics: ${metrics}` : ''),
)
process.exit(failed || thrown.length || results.checks.size === 0 ? 1 : 0)
