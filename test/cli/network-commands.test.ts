import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import type { CliCommand, CliContext } from '../../src/cli/command.js'
import { bootstrapCommand } from '../../src/cli/commands/bootstrap.js'
import { peerCommand } from '../../src/cli/commands/peer.js'
import { TypedEmitter } from '../../src/peer/events.js'

/** Runs a long-lived command with captured output; `lines.waitFor` awaits a matching stdout line. */
async function launch(t: import('ava').ExecutionContext, command: CliCommand, argv: string[]) {
  const dataDir = await mkdtemp(join(tmpdir(), `framemesh-${command.name}-`))
  const controller = new AbortController()
  const lines = new TypedEmitter<{ line: string }>()
  const out: string[] = []
  const ctx: CliContext = {
    argv: ['--data-dir', dataDir, '--log-level', 'silent', ...argv],
    env: {},
    cwd: tmpdir(),
    stdout: (line) => {
      out.push(line)
      lines.emit('line', line)
    },
    stderr: () => {},
    signal: controller.signal,
  }
  const exit = command.run(ctx)
  t.teardown(async () => {
    controller.abort()
    await exit.catch(() => {})
    await rm(dataDir, { recursive: true, force: true })
  })
  const waitForLine = (pattern: RegExp) =>
    out.find((l) => pattern.test(l)) ??
    lines.waitFor('line', { filter: (l) => pattern.test(l), timeoutMs: 20_000 })
  return { exit, stop: () => controller.abort(), out, waitForLine }
}

test('`bootstrap` prints its addresses, `peer` joins through it and logs the other peer, both stop on the signal', async (t) => {
  const boot = await launch(t, bootstrapCommand, [
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
    '--listen',
    '/ip4/127.0.0.1/tcp/0/ws',
  ])
  const address = (await boot.waitForLine(/^ {2}\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)).trim()
  t.true(
    boot.out.some((l) => /\/ws\/p2p\//.test(l)),
    'WebSockets address printed too',
  )

  const alice = await launch(t, peerCommand, ['--bootstrap', address])
  const bob = await launch(t, peerCommand, ['--bootstrap', address])
  const bobId = (await bob.waitForLine(/^peer \w+ listening on:/)).split(' ')[1]!
  await alice.waitForLine(new RegExp(`^connected to ${bobId} `))
  await alice.waitForLine(new RegExp(`^found ${bobId} at /ip4/127\\.0\\.0\\.1/`))
  // A latecomer learns of both through the bootstrap node's peer exchange, which names peers
  // before their addresses are known: it prints them once it has an address, never "at" nothing.
  const carol = await launch(t, peerCommand, ['--bootstrap', address])
  const aliceId = (await alice.waitForLine(/^peer \w+ listening on:/)).split(' ')[1]!
  for (const id of [aliceId, bobId]) await carol.waitForLine(new RegExp(`^found ${id} at /ip4/`))
  t.false(
    carol.out.some((l) => /^found \S+ at\s*$/.test(l)),
    carol.out.join('\n'),
  )

  for (const run of [alice, bob, carol, boot]) {
    run.stop()
    t.is(await run.exit, 0)
  }
})
