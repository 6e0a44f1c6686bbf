import { CHAIN_CONFIG, eth, print, walletChainCommand } from './chain-options.js'

export const withdrawCommand = walletChainCommand({
  name: 'withdraw',
  summary: 'withdraw your whole deposit and reserve after the unlock period',
  usage: 'usage: framemesh withdraw --rpc <url> --broker <address>',
  about: [
    'Sends TicketBroker.withdraw: returns the deposit and the reserve to your wallet. Needs an',
    'unlock (`framemesh unlock`) whose period has ended.',
  ],
  spec: CHAIN_CONFIG,
  async action(ctx, config, { client, address }) {
    const before = await client.getSenderInfo(address, { signal: ctx.signal })
    const tx = await client.withdraw({ signal: ctx.signal })
    const total = eth(before.deposit + before.reserve)
    print(ctx, config.json, { tx: tx.hash, deposit: before.deposit, reserve: before.reserve }, [
      `withdrew ${total} (deposit ${eth(before.deposit)}, reserve ${eth(before.reserve)}) in ${tx.hash}`,
    ])
    return 0
  },
})
