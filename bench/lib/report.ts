/** The bench's verdicts and its printed table. */

export interface Target {
  name: string
  /** What was measured, in the unit of the target. */
  value: number
  unit: string
  /** The floor it is compared with (same run), when there is one. */
  floor?: { name: string; value: number }
  /** value / floor.value. */
  ratio?: number
  goal: string
  pass: boolean
  /** Judged (the target holds here) or only reported beside a judged one. */
  judged: boolean
}

export function ratio(value: number, floor: number): number {
  return floor > 0 ? Math.round((value / floor) * 1000) / 1000 : Number.NaN
}

const fmt = (v: number) =>
  Number.isNaN(v) ? '—' : Math.abs(v) >= 100 ? String(Math.round(v)) : String(Math.round(v * 100) / 100)

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ')
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

export interface MeasureRow {
  name: string
  conns: number | string
  rate: number
  unit: string
  p50: number
  p95: number
  p99: number
  non2xx: number | string
  note?: string
}

export function measurementsTable(rows: MeasureRow[]): string {
  return table(
    ['measurement', 'conc', 'throughput', 'p50 ms', 'p95 ms', 'p99 ms', 'non-2xx/err', 'note'],
    rows.map((r) => [
      r.name,
      String(r.conns),
      `${fmt(r.rate)} ${r.unit}`,
      fmt(r.p50),
      fmt(r.p95),
      fmt(r.p99),
      String(r.non2xx),
      r.note ?? '',
    ]),
  )
}

export function targetsTable(targets: Target[]): string {
  return table(
    ['target', 'measured', 'floor (same run)', 'ratio', 'goal', 'verdict'],
    targets.map((t) => [
      t.name,
      `${fmt(t.value)} ${t.unit}`,
      t.floor ? `${t.floor.name} ${fmt(t.floor.value)}` : '',
      t.ratio === undefined ? '' : fmt(t.ratio),
      t.goal,
      `${t.pass ? 'PASS' : 'FAIL'}${t.judged ? '' : ' (reported)'}`,
    ]),
  )
}
