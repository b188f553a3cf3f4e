import { Listr, type ListrTaskWrapper } from 'listr2'
import type { PlaybookEvents } from '../core/playbook.ts'
import type { TaskOutcome } from '../core/runner.ts'
import { mask } from '../core/secrets.ts'
import { changeLines, HostBlocks, plainReporter, type TextOptions } from './text.ts'

interface HostView {
  resolve(): void
  reject(e: Error): void
  done: Promise<void>
  task?: ListrTaskWrapper<unknown, never, never>
  counts: { ok: number; changed: number; failed: number; skipped: number }
  lines: string[]
}

/**
 * Live progress on a terminal with listr2: one line per host per play, updated as tasks finish.
 * Only imported when stdout is a TTY (keeps start-up lean without one). In check mode, `finish` then
 * prints each host's whole plan as one block (the live view shows only its last lines) through `write`.
 */
export function listrReporter(o: TextOptions, write: (s: string) => void = (s) => process.stdout.write(s)): { events: PlaybookEvents; finish: () => Promise<void> } {
  let views = new Map<string, HostView>()
  const blocks = new HostBlocks(o)
  const plans = new Map<string, string[]>()
  let running: Promise<unknown> = Promise.resolve()
  const title = (host: string, v: HostView): string =>
    `${host}: ok=${v.counts.ok} ${o.check ? 'would change' : 'changed'}=${v.counts.changed}${v.counts.failed ? ` failed=${v.counts.failed}` : ''}${v.counts.skipped ? ` skipped=${v.counts.skipped}` : ''}`
  const events: PlaybookEvents = {
    playStart: (play, hosts, targets) => {
      if (hosts.length === 0) {
        // nothing for listr to draw: the plain line says why the play is skipped
        const line: string[] = []
        plainReporter(o, (s) => line.push(s)).playStart?.(play, hosts, targets)
        running = running.then(() => write(line.join('')))
        return
      }
      views = new Map()
      const mine = views
      for (const h of hosts) {
        let resolve!: () => void
        let reject!: (e: Error) => void
        const done = new Promise<void>((res, rej) => {
          resolve = res
          reject = rej
        })
        done.catch(() => undefined)
        mine.set(h, { resolve, reject, done, counts: { ok: 0, changed: 0, failed: 0, skipped: 0 }, lines: [] })
      }
      const list = new Listr(
        [{
          title: `PLAY [${play}]`,
          task: (_ctx, parent) => parent.newListr(hosts.map((h) => ({
            title: h,
            task: (_c: unknown, task: ListrTaskWrapper<unknown, never, never>) => {
              const v = mine.get(h)!
              v.task = task
              task.title = title(h, v)
              if (v.lines.length) task.output = v.lines.slice(-8).join('\n')
              return v.done
            },
          })), { concurrent: true, exitOnError: false }),
        }],
        { exitOnError: false, rendererOptions: { collapseSubtasks: false, showErrorMessage: true } } as never,
      )
      running = running.then(() => list.run()).catch(() => undefined)
    },
    taskDone: (play, host, t: TaskOutcome) => {
      blocks.add(play, host, t)
      const v = views.get(host)
      if (!v) return
      v.counts[t.status]++
      if (v.task) v.task.title = title(host, v)
      if (t.status !== 'ok') {
        v.lines.push(`${o.check && t.status === 'changed' ? 'would change' : t.status} ${t.key}${t.error ? `: ${mask(t.error)}` : ''}`, ...changeLines(t.changes, o, '  '))
        if (v.task) v.task.output = v.lines.slice(-8).join('\n')
      }
    },
    hostDone: (play, host, r) => {
      const block = blocks.take(play, host, r)
      if (o.check && block.length > 1) plans.set(play, [...(plans.get(play) ?? []), block.join('\n')])
      const v = views.get(host)
      if (!v) return
      if (r.unreachable !== undefined) v.reject(new Error(`UNREACHABLE: ${r.unreachable}`))
      else if (r.error !== undefined || v.counts.failed > 0) v.reject(new Error(r.error ?? v.lines.filter((l) => l.startsWith('failed')).join('; ')))
      else v.resolve()
    },
    playDone: () => undefined,
  }
  return {
    events,
    finish: async () => {
      await running
      for (const [play, list] of plans) write(`\nPLAN [${play}]\n${list.join('\n')}\n`)
    },
  }
}
