import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import type { CliContext } from '../../src/cli/command.js'
import { idCommand } from '../../src/cli/commands/id.js'
import { main } from '../../src/cli/main.js'
import { createPeer } from '../../src/peer/index.js'

function context(argv: string[], env: Record<string, string> = {}) {
  const out: string[] = []
  const err: string[] = []
  const ctx: CliContext = {
    argv,
    env,
    cwd: tmpdir(),
    stdout: (l) => out.push(l),
    stderr: (l) => err.push(l),
    signal: new AbortController().signal,
  }
  return { ctx, out, err }
}

test('`framemesh id` prints the peer id a peer started on the same data dir has', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'framemesh-cli-id-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const first = context(['--data-dir', dataDir])
  t.is(await idCommand.run(first.ctx), 0)
  t.regex(first.out[0]!, /^peer id: 12D3KooW\w+$/)
  t.regex(first.err.join('\n'), /created a new identity/)

  const peer = await createPeer({ dataDir })
  await peer.stop()
  t.is(first.out[0], `peer id: ${peer.peerId}`)

  const again = context(['--json'], { FRAMEMESH_DATA_DIR: dataDir })
  t.is(await idCommand.run(again.ctx), 0)
  t.deepEqual(JSON.parse(again.out[0]!), { peerId: peer.peerId, dataDir, created: false })
})

test('every command answers --help with its usage and exit code 0', async (t) => {
  const { commands } = await import('../../src/cli/commands.js')
  const names = ['demo', 'bootstrap', 'peer', 'id']
  for (const name of names)
    t.truthy(
      commands.find((c) => c.name === name),
      `${name} is registered`,
    )
  const logged: string[] = []
  const original = console.log
  console.log = (line: string) => logged.push(line)
  try {
    for (const name of names) t.is(await main([name, '--help']), 0)
  } finally {
    console.log = original
  }
  for (const name of names)
    t.true(
      logged.some((l) => l.startsWith(`usage: framemesh ${name}`)),
      name,
    )
})

test('`framemesh peer` without a bootstrap address or mDNS explains what to pass', async (t) => {
  const { peerCommand } = await import('../../src/cli/commands/peer.js')
  const { ctx } = context(['--data-dir', join(tmpdir(), 'unused')])
  const err = await t.throwsAsync(peerCommand.run(ctx))
  t.is((err as { code?: string }).code, 'ERR_CONFIG_INVALID')
  t.regex(err!.message, /--bootstrap/)
})
