import { describe, expect, it } from 'vitest'
import { parseRecap, recapTotal } from '../../bench/ansible.ts'

// ansible-playbook 2.14's output of a lab no-op, cut to its last task and recap
const OUTPUT = `TASK [Forward and masquerade the overlay networks (hub)] ***********************
skipping: [host2] => (item=filter FORWARD net1 in -> ACCEPT)
ok: [host1] => (item=filter FORWARD net1 in -> ACCEPT)

PLAY RECAP *********************************************************************
gw                         : ok=2    changed=0    unreachable=0    failed=0    skipped=1    rescued=0    ignored=0
host1                      : ok=9    changed=3    unreachable=0    failed=1    skipped=4    rescued=0    ignored=0
host2                      : ok=6    changed=0    unreachable=1    failed=0    skipped=7    rescued=0    ignored=0
`

describe('the benchmark reads Ansible\'s PLAY RECAP', () => {
  it('gives each host its counters', () => {
    const r = parseRecap(OUTPUT)
    expect(Object.keys(r)).toEqual(['gw', 'host1', 'host2'])
    expect(r.host1).toEqual({ ok: 9, changed: 3, unreachable: 0, failed: 1, skipped: 4 })
    expect(r.host2).toEqual({ ok: 6, changed: 0, unreachable: 1, failed: 0, skipped: 7 })
    expect(recapTotal(r, 'changed')).toBe(3)
    expect(recapTotal(r, 'failed') + recapTotal(r, 'unreachable')).toBe(2)
  })

  it('reads only the last recap, and nothing from output that has none', () => {
    const two = `PLAY RECAP ***\nold : ok=1 changed=5 unreachable=0 failed=0\n\n${OUTPUT}`
    expect(Object.keys(parseRecap(two))).not.toContain('old')
    expect(parseRecap('ERROR! the playbook: lab.yml could not be found\n')).toEqual({})
  })

  it('takes only host lines from the recap, not what a callback plugin prints after it', () => {
    const timings = `${OUTPUT}\nSunday 06 December 2026  13:40:01 +0000 (0:00:00.512)       0:00:05.337 ******\ndocker_container : 2.1s\n`
    expect(Object.keys(parseRecap(timings))).toEqual(['gw', 'host1', 'host2'])
  })

  it('counts a counter the line lacks as 0', () => {
    expect(parseRecap('PLAY RECAP ***\nhost1 : ok=4 changed=1 unreachable=0 failed=0\n').host1).toEqual({ ok: 4, changed: 1, unreachable: 0, failed: 0, skipped: 0 })
  })
})
