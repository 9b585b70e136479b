/** `k6`: check, group, sleep and fail, as a k6 script uses them. */
import { blockFor, recordCheck } from './state.mjs'

export function check(value, sets) {
  let all = true
  for (const [name, predicate] of Object.entries(sets)) {
    const passed = Boolean(typeof predicate === 'function' ? predicate(value) : predicate)
    recordCheck(name, passed)
    if (!passed) all = false
  }
  return all
}

export function group(_name, fn) {
  return fn()
}

export function sleep(seconds) {
  blockFor(Number(seconds) * 1000)
}

export function fail(message) {
  throw new Error(message)
}

export default { check, group, sleep, fail }
