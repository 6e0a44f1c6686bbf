#!/usr/bin/env node
// Entry for the installed package: runs the compiled CLI (`npm run build` makes dist/).
import('../dist/src/cli/main.js').then(
  async ({ main }) => {
    process.exitCode = await main(process.argv.slice(2))
  },
  (err) => {
    console.error(`framemesh: ${err?.message ?? err} (run \`npm run build\` first in a checkout)`)
    process.exitCode = 1
  },
)
