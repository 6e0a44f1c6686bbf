#!/usr/bin/env node
// Entry for the installed package: runs the compiled CLI.
import('../dist/src/cli/main.js').catch((err) => {
  console.error(err?.message ?? err)
  process.exit(1)
})
