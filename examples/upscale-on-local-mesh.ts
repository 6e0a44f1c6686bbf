/**
 * Embedding framemesh: start a whole mesh on loopback, look at the offers, submit frames,
 * follow the job's events and read the results. An app on a real mesh would call
 * startBroadcasterNode({}, { peer: { bootstrap: [...] }, chain: { rpcUrl, contractAddress }, walletKey })
 * instead of startLocalMesh, and use its `.mesh` the same way.
 * (In an app: `import { startLocalMesh } from 'framemesh'`.)
 */
import { type Frame, startLocalMesh } from '../src/index.js'

const local = await startLocalMesh()
try {
  const mesh = local.broadcaster.mesh
  for (const offer of mesh.offers({ pipeline: 'upscale' })) {
    console.log(
      `offer: ${offer.peerId.slice(-6)} ${offer.modelId} at ${offer.pricePerUnit} wei per ${offer.unit}`,
    )
  }

  // Eight 64×48 frames of a moving gradient.
  const frames: Frame[] = Array.from({ length: 8 }, (_, n) => {
    const data = new Uint8Array(64 * 48 * 3)
    for (let i = 0; i < data.length; i += 3) data.set([(i / 3 + n * 8) % 256, (i / 192) % 256, 128], i)
    return { width: 64, height: 48, channels: 3, data }
  })

  const job = mesh.submit({ pipeline: 'upscale', model: 'esrgan-slim-x2', input: frames })
  job.events.on('peer:selected', (e) =>
    console.log(`working on ${e.peerId.slice(-6)} at ${e.pricePerUnit} wei/unit`),
  )
  job.events.on('payment', (e) => console.log(`paid ${e.tickets} ticket(s), expected value ${e.ev} wei`))
  const { frames: out, report } = await job.done
  console.log(`got ${out.length} frames of ${out[0].width}×${out[0].height}; charged ${report.debited} wei`)
} finally {
  await local.stop()
}
