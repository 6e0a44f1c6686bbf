import { FramemeshError } from '../../errors.js'
import type { ConfigSpec } from '../config.js'
import { CHAIN_CONFIG, eth, parseAmount, print, walletChainCommand } from './chain-options.js'

export const depositCommand = walletChainCommand({
  name: 'deposit',
  summary: 'fund the TicketBroker deposit and/or reserve that pays your tickets',
  usage: 'usage: framemesh deposit --deposit <amount> [--reserve <amount>] --rpc <url> --broker <address>',
  about: [
    'Sends fundDepositAndReserve from your wallet. Winning tickets are paid from the deposit;',
    'the reserve backs them when the deposit runs out (each recipient may claim its share per',
    'round). Funding cancels a pending unlock.',
  ],
  spec: {
    ...CHAIN_CONFIG,
    deposit: { kind: 'string', help: 'amount to add to the deposit (0.5 = 0.5 ETH; also 2gwei, 1000wei)' },
    reserve: { kind: 'string', help: 'amount to add to the reserve' },
  } as const satisfies ConfigSpec,
  async action(ctx, config, { client, address }) {
    const deposit = config.deposit === undefined ? 0n : parseAmount(config.deposit, 'deposit')
    const reserve = config.reserve === undefined ? 0n : parseAmount(config.reserve, 'reserve')
    if (deposit === 0n && reserve === 0n) {
      throw new FramemeshError(
        'ERR_USAGE',
        'nothing to fund: pass --deposit <amount> and/or --reserve <amount>',
      )
    }
    const tx = await client.fundDepositAndReserve(deposit, reserve, { signal: ctx.signal })
    const info = await client.getSenderInfo(address, { signal: ctx.signal })
    const json = { tx: tx.hash, added: { deposit, reserve }, deposit: info.deposit, reserve: info.reserve }
    print(ctx, config.json, json, [
      `funded in ${tx.hash} (gas ${tx.gasUsed})`,
      `deposit: ${eth(info.deposit)}`,
      `reserve: ${eth(info.reserve)}`,
    ])
    return 0
  },
})
