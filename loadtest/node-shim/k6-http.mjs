/**
 * `k6/http` as the scripts in loadtest/ use it: synchronous requests (a worker thread fetches;
 * this thread waits), one at a time.
 */
import { Worker } from 'node:worker_threads'
import { results } from './state.mjs'

const worker = new Worker(new URL('./http-worker.mjs', import.meta.url))
worker.unref()
const signal = new Int32Array(new SharedArrayBuffer(4))
const buffer = new SharedArrayBuffer(16 * 1024 * 1024)

const parseDuration = (text) => {
  const m = /^([0-9.]+)(ms|s|m)$/.exec(String(text))
  if (!m) return 60_000
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2]]
}

class Response {
  constructor(request, answer) {
    this.request = request
    this.url = request.url
    this.status = answer.status
    this.headers = answer.headers
    this.body = answer.body
    this.error = answer.error
    this.error_code = answer.error ? 1000 : 0
    this.timings = { duration: answer.durationMs }
  }

  json(selector) {
    const value = JSON.parse(this.body)
    if (selector === undefined) return value
    return String(selector)
      .split('.')
      .reduce((v, key) => (v == null ? undefined : v[key]), value)
  }
}

export function request(method, url, body, params) {
  const p = params || {}
  const req = {
    method: String(method).toUpperCase(),
    url: String(url),
    headers: p.headers || {},
    body: body === null || body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
    timeoutMs: p.timeout === undefined ? 60_000 : parseDuration(p.timeout),
  }
  Atomics.store(signal, 0, 0)
  worker.postMessage({ request: req, signal, buffer })
  Atomics.wait(signal, 0, 0)
  const length = new DataView(buffer).getUint32(0)
  const answer = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, length).slice()))
  results.requests++
  return new Response(req, answer)
}

export const get = (url, params) => request('GET', url, null, params)
export const post = (url, body, params) => request('POST', url, body, params)

/**
 * k6 sends a batch in parallel; one after another gives the same answers. Only the form
 * lib/setup.js builds: an array of [method, url, body, params].
 */
export function batch(requests) {
  return requests.map((r) => {
    if (!Array.isArray(r)) throw new TypeError('the shim batches only [method, url, body, params] arrays')
    return request(r[0], r[1], r[2], r[3])
  })
}

export default { request, get, post, batch }
