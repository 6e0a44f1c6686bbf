import type { ConfigSpec } from '../config.js'
import { CHAIN_CONFIG, print, walletChainCommand } from './chain-options.js'

export const unlockCommand = walletChainCommand({
  name: 'unlock',
  summary: 'start (or --cancel) the unlock period before withdrawing deposit and reserve',
  usage: 'usage: framemesh unlock [--cancel] --rpc <url> --broker <address>',
  about: [
    'Starts the TicketBroker unlock period. Tickets still pay during it; once it ends your funds',
    'stop backing tickets and `framemesh withdraw` returns them. --cancel keeps them locked.',
  ],
  spec: {
    ...CHAIN_CONFIG,
    cancel: { kind: 'bool', help: 'cancel a pending unlock instead', default: false },
  } as const satisfies ConfigSpec,
  async action(ctx, config, { client, address }) {
    const signal = ctx.signal
    if (config.cancel) {
      const tx = await client.cancelUnlock({ signal })
      print(ctx, config.json, { tx: tx.hash, cancelled: true }, [`unlock cancelled in ${tx.hash}`])
      return 0
    }
    const tx = await client.unlock({ signal })
    const [info, round] = await Promise.all([
      client.getSenderInfo(address, { signal }),
      client.getCurrentRound({ signal }),
    ])
    print(ctx, config.json, { tx: tx.hash, round, withdrawRound: info.withdrawRound }, [
      `unlock started in ${tx.hash} (round ${round})`,
      `withdraw from round ${info.withdrawRound} with \`framemesh withdraw\``,
    ])
    return 0
  },
})
