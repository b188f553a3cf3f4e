import { parseArgs } from 'node:util'
import { cliOptions } from '../cli.ts'
import type { PlaybookDef } from '../core/playbook.ts'

/**
 * The arguments `npm run lab` (scripts/lab.ts) passes to the lab playbook's CLI: the user's, without
 * `--no-verify`, and `--verify` added unless the run is check mode, `--state absent` or `--no-verify` (or already
 * has `--verify`). The flags are read as the CLI reads them (`-CD` is check mode, `--state=absent` is absent);
 * not strictly: the CLI itself reports a bad flag.
 */
export function labRunArgs(pb: PlaybookDef, args: readonly string[]): string[] {
  const { values } = parseArgs({ args: [...args], options: { ...cliOptions(pb), 'no-verify': { type: 'boolean' } }, strict: false, allowPositionals: true })
  const verify = values.check !== true && values.state !== 'absent' && values['no-verify'] !== true && values.verify !== true
  return [...(verify ? ['--verify'] : []), ...args.filter((a) => a !== '--no-verify')]
}
