// Loaded with `--require` (NODE_OPTIONS) into every node process of a command the benchmark times
// (bench/measure.ts): at exit, appends one JSON line {pid, maxRssKiB, cmdline} to $VXLAB_BENCH_RSS_FILE.
// process.resourceUsage().maxRSS is the kernel's own peak (getrusage(2) ru_maxrss, KiB), so the peak is exact
// and nothing samples /proc while the run is timed.
'use strict'
const { appendFileSync } = require('node:fs')
const file = process.env.VXLAB_BENCH_RSS_FILE
if (file) {
  process.on('exit', () => {
    const cmdline = [process.execPath, ...process.execArgv, ...process.argv.slice(1)].join(' ')
    try {
      appendFileSync(file, JSON.stringify({ pid: process.pid, maxRssKiB: process.resourceUsage().maxRSS, cmdline }) + '\n')
    } catch {
      /* the benchmark reports 0 for a process it did not see */
    }
  })
}
