/**
 * `npm run bench:cli`: what the operator and app commands add on top of the parts they run.
 * One local mesh on loopback (dev chain, bootstrap node, one seller of esrgan-slim-x2, funded
 * broadcaster) and, measured in the same run:
 *  - one image job through `framemesh submit` → HTTP gateway → mesh vs the same job run directly
 *    on the gateway's mesh port in process (median of ROUNDS each, alternating); ratio = CLI / direct;
 *  - `framemesh orchestrator` from flags to ready (chain preflight, model scan, wallet, data dir
 *    lock, node) vs `startOrchestratorNode` alone with the same options; ratio = CLI / direct.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import type { CliCommand, CliContext } from '../src/cli/command.js'
import { orchestratorCommand } from '../src/cli/commands/orchestrator.js'
import { submitCommand } from '../src/cli/commands/submit.js'
import { meshForGateway } from '../src/gateway/mesh-adapter.js'
import { createGateway } from '../src/gateway/server.js'
import { decodeImage } from '../src/inference/media/image.js'
import type { Frame } from '../src/inference/types.js'
import { startLocalMesh } from '../src/node/local-mesh.js'
import { startOrchestratorNode } from '../src/node/orchestrator-node.js'

const ROUNDS = 9
const SIZES = [
  [64, 48],
  [320, 240],
] as const
const PRICE = 2_000_000_000_000n

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const fmt = (ms: number) => `${ms.toFixed(1).padStart(7)} ms`

/** Runs a command in process until `until` matches a stdout line (then stops it) or it returns. */
async function runCommand(command: CliCommand, argv: string[], cwd: string, until?: RegExp): Promise<number> {
  const controller = new AbortController()
  const started = performance.now()
  let readyAt = 0
  const ctx: CliContext = {
    argv,
    env: {},
    cwd,
    stdout: (line) => {
      if (until?.test(line) && readyAt === 0) {
        readyAt = performance.now()
        controller.abort()
      }
    },
    stderr: () => {},
    signal: controller.signal,
  }
  const code = await command.run(ctx)
  if (code !== 0) throw new Error(`${command.name} exited ${code}`)
  return (readyAt || performance.now()) - started
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'framemesh-bench-cli-'))
  const mesh = await startLocalMesh({}, { orchestrators: [{ prices: { 'esrgan-slim-x2': PRICE } }] })
  const port = meshForGateway(mesh.broadcaster.mesh)
  const gateway = await createGateway({ mesh: port }, { dataDir: join(dir, 'gateway') })
  try {
    console.log(
      'job round trip: framemesh submit (HTTP upload, SSE events, download) vs the mesh port in process',
    )
    for (const [width, height] of SIZES) {
      const path = join(dir, `in-${width}.png`)
      await writeFile(
        path,
        await sharp({ create: { width, height, channels: 3, background: '#3a7' } })
          .png()
          .toBuffer(),
      )
      const frame = await decodeImage(await readFile(path))
      const direct: number[] = []
      const cli: number[] = []
      for (let i = 0; i < ROUNDS + 1; i++) {
        const t0 = performance.now()
        const run = port.run([{ pipeline: 'upscale' }], one(frame), { signal: AbortSignal.timeout(60_000) })
        for await (const _ of run.outputs) {
          // Drain: the job ends with its last output.
        }
        await run.done
        const t1 = performance.now()
        await runCommand(
          submitCommand,
          ['upscale', path, '-o', join(dir, `out-${width}.png`), '--gateway', gateway.url],
          dir,
        )
        const t2 = performance.now()
        // The first round warms the model and the connections: not counted.
        if (i > 0) {
          direct.push(t1 - t0)
          cli.push(t2 - t1)
        }
      }
      const d = median(direct)
      const c = median(cli)
      console.log(
        `  ${`${width}x${height}`.padEnd(8)} direct ${fmt(d)}   submit ${fmt(c)}   ratio ${(c / d).toFixed(2)}  (+${(c - d).toFixed(1)} ms)`,
      )
    }

    console.log('orchestrator start-up: framemesh orchestrator (flags to ready) vs startOrchestratorNode')
    const chain = mesh.chain
    const bootstrap = mesh.bootstrap.multiaddrs[0]!
    const key = chain.accounts[2]!.privateKey
    const direct: number[] = []
    const cli: number[] = []
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now()
      const node = await startOrchestratorNode(
        {},
        {
          dataDir: join(dir, `direct-${i}`),
          peer: { bootstrap: [bootstrap] },
          chain: { rpcUrl: chain.rpcUrl, contractAddress: chain.contractAddress, chainId: chain.chainId },
          walletKey: key,
          prices: { 'esrgan-slim-x2': PRICE },
        },
      )
      direct.push(performance.now() - t0)
      await node.stop()
      cli.push(
        await runCommand(
          orchestratorCommand,
          [
            ...['--data-dir', join(dir, `cli-${i}`), '--bootstrap', bootstrap, '--rpc', chain.rpcUrl],
            ...['--broker', chain.contractAddress, '--wallet-key', key, '--price', `esrgan-slim-x2=${PRICE}`],
            ...['--log-level', 'silent'],
          ],
          dir,
          /^ {2}esrgan-slim-x2/,
        ),
      )
    }
    const d = median(direct)
    const c = median(cli)
    console.log(
      `  direct ${fmt(d)}   framemesh orchestrator ${fmt(c)}   ratio ${(c / d).toFixed(2)}  (+${(c - d).toFixed(1)} ms)`,
    )
  } finally {
    await gateway.close()
    await mesh.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

async function* one(frame: Frame): AsyncGenerator<Frame> {
  yield frame
}

await main()
