/** ops/logrotate/points-app checked by the real logrotate: its dry run, then rotations in a scratch directory. */
import { execFileSync } from 'node:child_process'
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'

const CONFIG = join(import.meta.dirname, '../ops/logrotate/points-app')
const dir = mkdtempSync(join(tmpdir(), 'logrotate-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const logrotate = (...args: string[]) => execFileSync('logrotate', args, { encoding: 'utf8', stdio: 'pipe' })

describe('logrotate config', () => {
  it('passes logrotate -d with daily, 30 kept, notifempty', () => {
    // logrotate prints its debug report on stderr and exits non-zero on a config error.
    const report = execFileSync(
      'sh',
      ['-c', 'logrotate -d -s "$1" "$2" 2>&1', 'sh', join(dir, 'dry.state'), CONFIG],
      {
        encoding: 'utf8',
      },
    )
    expect(report).toContain('rotating pattern: /var/log/points-app/*.log  after 1 days (30 rotations)')
    expect(report).toContain('empty log files are not rotated, old logs are removed')
    expect(report).not.toMatch(/error/i)
  })

  it('rotates a log PM2 holds open: copy and truncate, compress the day before, skip an empty one', () => {
    const conf = join(dir, 'points-app')
    writeFileSync(
      conf,
      readFileSync(CONFIG, 'utf8').replace('/var/log/points-app/*.log {', `${dir}/*.log {`),
      { mode: 0o644 },
    )
    const state = join(dir, 'state')
    const log = join(dir, 'origin.out.log')
    // PM2 appends through a descriptor it keeps open for the life of the process.
    const held = openSync(log, 'a')
    try {
      writeSync(held, 'day one\n')
      logrotate('-f', '-s', state, conf)
      expect(readFileSync(`${log}.1`, 'utf8')).toBe('day one\n')
      expect(readFileSync(log, 'utf8')).toBe('')
      writeSync(held, 'day two\n')
      expect(readFileSync(log, 'utf8')).toBe('day two\n')
      logrotate('-f', '-s', state, conf)
      expect(readFileSync(`${log}.1`, 'utf8')).toBe('day two\n')
      expect(gunzipSync(readFileSync(`${log}.2.gz`)).toString()).toBe('day one\n')
      logrotate('-f', '-s', state, conf)
      expect(existsSync(`${log}.3.gz`)).toBe(false)
      expect(readFileSync(`${log}.1`, 'utf8')).toBe('day two\n')
    } finally {
      closeSync(held)
    }
  })
})
