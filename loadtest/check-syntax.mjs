#!/usr/bin/env node
/**
 * Static checks for the k6 scripts, for machines without k6 (like the ones this repo is tested on):
 *
 *   node loadtest/check-syntax.mjs [file.js ...]     (default: every .js under loadtest/)
 *
 * 1. Syntax: each file must parse as an ES module (Node's own parser, `node --check`).
 * 2. Imports: only k6's built-in modules or relative paths into loadtest/lib/ that exist, with the
 *    `.js` extension k6 needs; k6 cannot load npm packages or `node:` modules.
 * 3. Runtime: no Node-only globals (process, Buffer, require, ...) and none of the syntax that the
 *    k6 versions this repo supports (v0.45 on) may not run (optional chaining, `??`, async). This
 *    part walks TypeScript's AST (a devDependency) and is skipped with a note when it is missing.
 * 4. Entry scripts (outside lib/) must export `options` and a default function, or k6 refuses them.
 *
 * Exits 1 listing every problem found, 0 when all files pass.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import vm from 'node:vm'

// vm.SourceTextModule, which lists a module's imports exactly as Node parses them, is behind a flag:
// re-run this script once with it rather than asking every caller to remember it.
if (typeof vm.SourceTextModule !== 'function') {
  const self = fileURLToPath(import.meta.url)
  const run = spawnSync(
    process.execPath,
    ['--experimental-vm-modules', '--no-warnings', self, ...process.argv.slice(2)],
    { stdio: 'inherit' },
  )
  process.exit(run.status ?? 1)
}

const HERE = dirname(fileURLToPath(import.meta.url))
const LIB = join(HERE, 'lib')
const K6_MODULES = new Set(['k6', 'k6/http', 'k6/metrics', 'k6/data', 'k6/execution'])

/** Globals that exist in Node (or browsers) but not in k6's runtime as of v0.45. */
const FOREIGN_GLOBALS = new Set([
  'process',
  'Buffer',
  'require',
  'module',
  'exports',
  '__dirname',
  '__filename',
  'global',
  'window',
  'fetch',
  'crypto',
  'structuredClone',
  'TextEncoder',
  'TextDecoder',
  'URL',
  'URLSearchParams',
  'setTimeout',
  'setInterval',
  'clearTimeout',
  'clearInterval',
  'queueMicrotask',
])

function listScripts(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : listScripts(path)
    return entry.name.endsWith('.js') ? [path] : []
  })
}

function checkSyntax(source) {
  const run = spawnSync(process.execPath, ['--input-type=module', '--check'], {
    input: source,
    encoding: 'utf8',
  })
  if (run.status === 0) return []
  // Node prints "[stdin]:LINE", the offending line and a caret, then the error: keep those lines.
  const lines = run.stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^\s+at /.test(l) && !/^Node\.js v/.test(l))
  return [`syntax error: ${lines.join('\n    ')}`]
}

function checkImports(file, source) {
  let specifiers
  try {
    specifiers = new vm.SourceTextModule(source, { identifier: file }).dependencySpecifiers
  } catch (err) {
    return [`could not be parsed as a module: ${err.message}`]
  }
  const problems = []
  for (const spec of specifiers) {
    if (K6_MODULES.has(spec)) continue
    if (!spec.startsWith('./') && !spec.startsWith('../')) {
      problems.push(`imports "${spec}": k6 only provides ${[...K6_MODULES].join(', ')} and relative files`)
      continue
    }
    const target = resolve(dirname(file), spec)
    if (!target.startsWith(LIB + sep))
      problems.push(`imports "${spec}": local modules belong in loadtest/lib/`)
    else if (!spec.endsWith('.js')) problems.push(`imports "${spec}": k6 needs the file extension`)
    else if (!existsSync(target)) problems.push(`imports "${spec}": no such file`)
  }
  return problems
}

function loadTypeScript() {
  try {
    return createRequire(import.meta.url)('typescript')
  } catch {
    return null
  }
}

/** Names declared anywhere in the file, so a local `const URL = ...` is not taken for the global. */
function declaredNames(ts, sourceFile) {
  const names = new Set()
  const visit = (node) => {
    if (
      (ts.isVariableDeclaration(node) ||
        ts.isFunctionDeclaration(node) ||
        ts.isParameter(node) ||
        ts.isImportSpecifier(node) ||
        ts.isImportClause(node) ||
        ts.isNamespaceImport(node)) &&
      node.name &&
      ts.isIdentifier(node.name)
    )
      names.add(node.name.text)
    ts.forEachChild(node, visit)
  }
  visit(sourceFile)
  return names
}

/** True when the identifier is a property name (`res.headers`, `{ process: 1 }`), not a reference. */
function isPropertyName(ts, node) {
  const parent = node.parent
  return (
    (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
    (ts.isPropertyAssignment(parent) && parent.name === node) ||
    (ts.isMethodDeclaration(parent) && parent.name === node)
  )
}

function checkRuntime(ts, file, source) {
  const sourceFile = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS)
  const declared = declaredNames(ts, sourceFile)
  const problems = []
  const report = (node, what) => {
    const { line, character } = sourceFile.getLineAndCharacterOfPosition(node.getStart(sourceFile))
    problems.push(`${line + 1}:${character + 1} ${what}`)
  }
  const visit = (node) => {
    if (
      ts.isIdentifier(node) &&
      FOREIGN_GLOBALS.has(node.text) &&
      !declared.has(node.text) &&
      !isPropertyName(ts, node)
    )
      report(node, `uses "${node.text}", not a global in k6 v0.45`)
    if (node.questionDotToken) report(node, 'uses optional chaining (?.), not safe before newer k6 versions')
    if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken)
      report(node, 'uses ??, not safe before newer k6 versions')
    if (node.kind === ts.SyntaxKind.AsyncKeyword)
      report(node, 'uses async, not safe before newer k6 versions')
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword)
      report(node, 'uses dynamic import(), which k6 does not support')
    ts.forEachChild(node, visit)
  }
  visit(sourceFile)

  if (!file.startsWith(LIB + sep)) {
    const exported = (name) =>
      sourceFile.statements.some((s) => {
        const isExport = s.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)
        if (!isExport) return false
        if (name === 'default')
          return (
            ts.isFunctionDeclaration(s) && s.modifiers.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword)
          )
        return ts.isVariableStatement(s) && s.declarationList.declarations.some((d) => d.name.text === name)
      })
    if (!exported('default')) problems.push('has no `export default function`: k6 would have nothing to run')
    if (!exported('options')) problems.push('has no `export const options` (scenarios and thresholds)')
  }
  return problems
}

const files = process.argv.length > 2 ? process.argv.slice(2).map((f) => resolve(f)) : listScripts(HERE)
const ts = loadTypeScript()
if (!ts) console.log('note: typescript is not installed, so the k6 runtime checks (step 3, 4) are skipped')

let failed = 0
for (const file of files) {
  const source = readFileSync(file, 'utf8')
  let problems = checkSyntax(source)
  if (problems.length === 0) {
    problems = checkImports(file, source)
    if (ts) problems = problems.concat(checkRuntime(ts, file, source))
  }
  const name = relative(process.cwd(), file) || file
  if (problems.length === 0) {
    console.log(`ok    ${name}`)
  } else {
    failed++
    console.log(`FAIL  ${name}`)
    for (const p of problems) console.log(`    ${p}`)
  }
}
console.log(
  failed === 0
    ? `${files.length} k6 script(s) pass`
    : `${failed} of ${files.length} k6 script(s) have problems`,
)
process.exit(failed === 0 ? 0 : 1)
