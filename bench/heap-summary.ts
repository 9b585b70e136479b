/**
 * Summarises a V8 .heapsnapshot (the bench writes one with BENCH_HEAP_SNAPSHOT_DIR): total size
 * and the biggest groups of objects by constructor/type, counted by self size.
 *
 *   npx tsx bench/heap-summary.ts <file.heapsnapshot> [top=30]
 */
import { readFileSync } from 'node:fs'

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } }
  nodes: number[]
  strings: string[]
}

const [file, topArg] = process.argv.slice(2)
if (!file) {
  console.error('usage: tsx bench/heap-summary.ts <file.heapsnapshot> [top]')
  process.exit(2)
}
const top = Number(topArg ?? 30)
const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot
const fields = snap.snapshot.meta.node_fields
const types = snap.snapshot.meta.node_types[0]
const width = fields.length
const typeAt = fields.indexOf('type')
const nameAt = fields.indexOf('name')
const sizeAt = fields.indexOf('self_size')

const groups = new Map<string, { count: number; bytes: number }>()
let total = 0
for (let i = 0; i < snap.nodes.length; i += width) {
  const type = types[snap.nodes[i + typeAt]!]!
  const name = snap.strings[snap.nodes[i + nameAt]!]!
  const bytes = snap.nodes[i + sizeAt]!
  total += bytes
  // Strings and code are grouped by type; objects by constructor name.
  const key = type === 'object' || type === 'closure' ? `${type} ${name}` : `(${type})`
  const g = groups.get(key) ?? { count: 0, bytes: 0 }
  g.count++
  g.bytes += bytes
  groups.set(key, g)
}
const mib = (b: number) => (b / 2 ** 20).toFixed(1).padStart(7)
console.log(`${file}: ${mib(total)} MiB in ${(snap.nodes.length / width).toLocaleString()} objects`)
for (const [key, g] of [...groups].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top))
  console.log(`${mib(g.bytes)} MiB ${String(g.count).padStart(9)}  ${key}`)
