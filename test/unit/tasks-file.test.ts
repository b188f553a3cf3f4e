/**
 * template(): modes compared as stat(1) prints them, and a task reported twice (changed, then failed by the
 * convergence check) shown once in its host's block.
 */
import { describe, expect, it } from 'vitest'
import type { TaskOutcome } from '../../lib/core/runner.ts'
import type { FactSnapshot } from '../../lib/core/task.ts'
import { HostBlocks } from '../../lib/report/text.ts'
import { fileFact, type FileState } from '../../lib/facts/files.ts'
import { template } from '../../lib/tasks/file.ts'

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

describe('host blocks', () => {
  it('a task reported again replaces its first report (counted and shown once)', () => {
    const blocks = new HostBlocks({ check: false, color: false, diff: false, verbose: false })
    const first: TaskOutcome = { key: 'file.template[/etc/vx]', kind: 'file.template', status: 'changed', changes: [] }
    blocks.add('p', 'h', first)
    blocks.add('p', 'h', { ...first, status: 'failed', error: 'did not converge' })
    const lines = blocks.take('p', 'h', {})
    expect(lines[0]).toBe('h: 0 ok, 1 failed')
    expect(lines.filter((l) => l.includes('did not converge'))).toHaveLength(1)
  })
})
