import { readFileSync } from 'node:fs'
import test from 'ava'
import { Interface } from 'ethers'
import { artifactPath, compileTicketBroker, renderArtifact } from '../../scripts/compile-contracts.js'
import { ticketBrokerArtifact } from '../../src/tickets/broker-artifact.generated.js'

test('the committed TicketBroker artifact is exactly what compiling contracts/TicketBroker.sol gives', (t) => {
  const compiled = compileTicketBroker()
  t.true(compiled.bytecode.length > 1000)
  t.is(
    readFileSync(artifactPath, 'utf8'),
    renderArtifact(compiled),
    'the artifact is stale: run `npm run build:contracts` and commit the result',
  )
})

test('the TicketBroker ABI has the Livepeer calls a node makes', (t) => {
  const iface = new Interface(ticketBrokerArtifact.abi)
  const signature = (name: string) => iface.getFunction(name)?.format('sighash')
  const ticket = '(address,address,uint256,uint256,uint256,bytes32,bytes)'
  t.is(signature('fundDeposit'), 'fundDeposit()')
  t.is(signature('fundReserve'), 'fundReserve()')
  t.is(signature('fundDepositAndReserve'), 'fundDepositAndReserve(uint256,uint256)')
  t.is(signature('unlock'), 'unlock()')
  t.is(signature('cancelUnlock'), 'cancelUnlock()')
  t.is(signature('withdraw'), 'withdraw()')
  t.is(signature('getSenderInfo'), 'getSenderInfo(address)')
  t.is(signature('usedTickets'), 'usedTickets(bytes32)')
  t.is(signature('redeemWinningTicket'), `redeemWinningTicket(${ticket},bytes,uint256)`)
  t.is(signature('batchRedeemWinningTickets'), `batchRedeemWinningTickets(${ticket}[],bytes[],uint256[])`)
})
