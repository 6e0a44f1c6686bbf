import test from 'ava'
import { createPeer, type GossipServiceOptions, type Peer } from '../../src/peer/index.js'
import { eventually, startPeer } from '../helpers/peer.js'

const SCORED = '/framemesh-test/scored/1.0.0'
const UNSCORED = '/framemesh-test/unscored/1.0.0'

/** A sender that has learnt the receiver subscribes to `topic`, so a publish reaches it. */
async function senderFor(t: Parameters<typeof startPeer>[0], receiver: Peer, topic: string): Promise<Peer> {
  const sender = await startPeer(t, { addressDiscovery: false, topics: [topic] })
  await sender.dial(receiver.multiaddrs[0]!)
  await sender.gossip.waitForSubscribers(topic, { peerId: receiver.peerId, timeoutMs: 15_000 })
  return sender
}

test('rejected messages cost the forwarder score on a topic with score parameters and nothing on one without', async (t) => {
  const gossip: GossipServiceOptions = {
    heartbeatIntervalMs: 100,
    topicScoreParams: {
      [SCORED]: { invalidMessageDeliveriesWeight: -10, invalidMessageDeliveriesDecay: 0.9 },
    },
  }
  const receiver = await startPeer(t, { addressDiscovery: false, topics: [SCORED, UNSCORED], gossip })
  const judged: string[] = []
  for (const topic of [SCORED, UNSCORED]) {
    receiver.gossip.setValidator(topic, (message) => {
      judged.push(`${message.topic} from ${message.from}`)
      return 'reject'
    })
  }
  const unscoredSender = await senderFor(t, receiver, UNSCORED)
  const scoredSender = await senderFor(t, receiver, SCORED)

  await unscoredSender.gossip.publish(UNSCORED, new Uint8Array([1]))
  await eventually(() => judged.includes(`${UNSCORED} from ${unscoredSender.peerId}`))
  await scoredSender.gossip.publish(SCORED, new Uint8Array([2]))
  await eventually(() => receiver.gossip.score(scoredSender.peerId) < 0, {
    timeoutMs: 15_000,
    describe: () => `score ${receiver.gossip.score(scoredSender.peerId)}`,
  })
  // The unscored rejection was judged first, so any penalty for it would show by now.
  t.is(receiver.gossip.score(unscoredSender.peerId), 0)
  t.log(`scored forwarder: ${receiver.gossip.score(scoredSender.peerId)}`)
})

test('a peer nobody has heard of scores 0', async (t) => {
  const [a, b] = [await startPeer(t), await startPeer(t)]
  t.is(a.gossip.score(b.peerId), 0)
})

test('score parameters that would score the wrong way are refused with ERR_INVALID_PEER_OPTION', async (t) => {
  const bad: GossipServiceOptions[] = [
    { topicScoreParams: { [SCORED]: { invalidMessageDeliveriesWeight: 5 } } },
    { topicScoreParams: { [SCORED]: { invalidMessageDeliveriesDecay: 1 } } },
    { scoreThresholds: { graylistThreshold: 5 } },
  ]
  for (const gossip of bad) {
    const err = await t.throwsAsync(createPeer({ gossip }))
    t.is((err as { code?: string }).code, 'ERR_INVALID_PEER_OPTION')
    t.regex(err!.message, /gossip\.(topicScoreParams|scoreThresholds)/)
  }
})
