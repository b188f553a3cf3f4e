/**
 * template(): modes compared as stat(1) prints them, and a task reported twice (changed, then failed by the
 * convergence check) shown once in its host's block.
 */
import { chmodSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { TaskOutcome } from '../../lib/core/runner.ts'
import type { FactSnapshot } from '../../lib/core/task.ts'
import { HostBlocks } from '../../lib/report/text.ts'
import { fileFact, type FileState } from '../../lib/facts/files.ts'
import { template, writeFileCommand } from '../../lib/tasks/file.ts'
import { ValidationError } from '../../lib/core/errors.ts'
import { LocalConnection } from '../../lib/connection/local.ts'

function planFor(mode: string, current: FileState) {
  const t = template({ dest: '/etc/vx', src: { inline: 'a\n' }, mode })
  const snap: FactSnapshot = { get: <T>() => current as T }
  return t.plan(t.current(snap), t.spec)
}

describe('template modes', () => {
  it.each([['000', '0'], ['0000', '0'], ['040', '40'], ['0040', '40'], ['0644', '644'], ['644', '644'], ['1755', '1755']])(
    'mode %s is what stat -c %%a prints as %s: no change planned', (mode, printed) => {
      expect(planFor(mode, { exists: true, mode: printed, content: 'a\n' })).toEqual([])
    })
  it('a different mode is planned with both sides as stat prints them', () => {
    const [c] = planFor('040', { exists: true, mode: '644', content: 'a\n' })
    expect(c).toMatchObject({ op: 'update', before: { mode: '644' }, after: { mode: '40' } })
    expect(c!.commands[0]!.argv.slice(-2)).toEqual(['/etc/vx', '40'])
  })
  it('the file fact reads the mode stat prints', () => {
    expect(fileFact('/etc/vx').parse({ code: 0, stdout: '40\na\n', stderr: '' })).toEqual({ exists: true, mode: '40', content: 'a\n' })
  })
})

describe('template spec: src and vars of the wrong shape are validation errors', () => {
  it.each([
    [{ src: null }, /^file\.template\[\/etc\/vx\]\.src: expected the path of a template file on the controller or \{inline: 'template text'\}, got null$/],
    [{ src: 5 }, /\.src: expected the path of a template file .*, got 5$/],
    [{ src: ['a'] }, /\.src: expected the path of a template file .*, got \["a"\]$/],
    [{ src: { text: 'a' } }, /\.src: expected the path of a template file .*, got \{"text":"a"\}$/],
    [{ src: { inline: 5 } }, /^file\.template\[\/etc\/vx\]\.src\.inline: expected the template text \(a string\), got 5$/],
    [{ src: { inline: null } }, /\.src\.inline: expected the template text \(a string\), got null$/],
    [{ src: '' }, /^file\.template\[\/etc\/vx\]\.src: expected the path of a template file on the controller or \{inline: 'template text'\}, got an empty path$/],
    [{ src: { inline: 'x', path: '/etc/t.hbs' } }, /^file\.template\[\/etc\/vx\]\.src: \{inline\} takes the template text only; unknown key "path" \(a template file is given as src: 'PATH'\)$/],
    [{ src: { inline: 'x' }, vars: 5 }, /^file\.template\[\/etc\/vx\]\.vars: expected a mapping of template variables \(\{name: value\}\), got 5$/],
    [{ src: { inline: 'x' }, vars: ['a'] }, /\.vars: expected a mapping of template variables .*, got \["a"\]$/],
    [{ src: { inline: 'x' }, vars: 'a=1' }, /\.vars: expected a mapping of template variables .*, got "a=1"$/],
  ])('%j', (spec, re) => {
    let error: unknown
    try {
      template({ dest: '/etc/vx', ...spec } as never)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as Error).message).toMatch(re)
  })
  it('valid shapes render as before', () => {
    expect(template({ dest: '/etc/vx', src: { inline: 'a={{a}}' }, vars: { a: 1 } }).key).toBe('file.template[/etc/vx]')
    expect(template({ dest: '/etc/vx', src: { inline: 'a' } }).key).toBe('file.template[/etc/vx]')
  })
})

describe('host blocks', () => {
  it('a task reported again replaces its first report (counted and shown once)', () => {
    const blocks = new HostBlocks({ check: false, color: false, diff: false, verbose: false })
    const first: TaskOutcome = { key: 'file.template[/etc/vx]', kind: 'file.template', status: 'changed', changes: [] }
    blocks.add('p', 'h', first)
    blocks.add('p', 'h', { key: 'file.template[/etc/vy]', kind: 'file.template', status: 'changed', changes: [{ op: 'create', summary: 'write /etc/vy', commands: [] }] })
    blocks.add('p', 'h', { ...first, status: 'failed', error: 'did not converge' })
    const lines = blocks.take('p', 'h', {})
    expect(lines[0]).toBe('h: 1 changed, 0 ok, 1 failed')
    expect(lines.filter((l) => l.includes('did not converge'))).toHaveLength(1)
    // in its place: the block keeps task order
    expect(lines.findIndex((l) => l.includes('/etc/vx'))).toBeLessThan(lines.findIndex((l) => l.includes('/etc/vy')))
  })
})

describe('a destination that is a symbolic link', () => {
  it('is read and written through: the mode and content of its target are planned, the target is replaced, the link stays', async () => {
    const d = mkdtempSync(join(tmpdir(), 'vxlab-symlink-'))
    try {
      writeFileSync(join(d, 'real.conf'), 'hello old\n')
      chmodSync(join(d, 'real.conf'), 0o640)
      symlinkSync('real.conf', join(d, 'link.conf'))
      const conn = new LocalConnection('l')
      const f = fileFact(join(d, 'link.conf'))
      const [out] = await conn.runBatch([{ command: f.command }])
      expect(f.parse({ ...out!, code: out!.code ?? -1 })).toEqual({ exists: true, mode: '640', content: 'hello old\n' })
      const w = await conn.run(writeFileCommand(join(d, 'link.conf'), 'hello new\n', '644'))
      expect(w.code, w.stderr).toBe(0)
      expect(lstatSync(join(d, 'link.conf')).isSymbolicLink()).toBe(true)
      expect(readFileSync(join(d, 'real.conf'), 'utf8')).toBe('hello new\n')
      expect((statSync(join(d, 'real.conf')).mode & 0o777).toString(8)).toBe('644')
      // a dangling link: its target is created, with the folders it needs
      symlinkSync('new/dir/made.conf', join(d, 'dangling.conf'))
      expect((await conn.run(writeFileCommand(join(d, 'dangling.conf'), 'x\n', '600'))).code).toBe(0)
      expect(readFileSync(join(d, 'new/dir/made.conf'), 'utf8')).toBe('x\n')
      expect(lstatSync(join(d, 'dangling.conf')).isSymbolicLink()).toBe(true)
      // a loop: an error when read (check mode says so) and when written, never a file
      symlinkSync('loop.b', join(d, 'loop.a'))
      symlinkSync('loop.a', join(d, 'loop.b'))
      const lf = fileFact(join(d, 'loop.a'))
      const [lr] = await conn.runBatch([{ command: lf.command }])
      expect(lr!.code).toBe(1)
      expect(lr!.stderr).toMatch(/loop\.a is a symbolic link that does not resolve \(a loop\?\)/)
      const lw = await conn.run(writeFileCommand(join(d, 'loop.a'), 'x\n', '600'))
      expect(lw.code).toBe(1)
      expect(lw.stderr).toMatch(/does not resolve/)
    } finally {
      rmSync(d, { recursive: true, force: true })
    }
  })
})
