/** `k6`: check, group and sleep, as the scripts in loadtest/ use them. */
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
