// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title framemesh TicketBroker
 * @notice Settles probabilistic micropayment tickets. The external calls a node makes (funding,
 * unlock/withdraw, getSenderInfo, redeemWinningTicket, batchRedeemWinningTickets, getTicketHash,
 * usedTickets) have the same names, argument types and return shapes as Livepeer's TicketBroker,
 * so tooling written against that ABI works here too.
 *
 * Differences from Livepeer, on purpose:
 * - Rounds come from a built-in clock instead of a separate RoundsManager: round = block.number /
 *   roundLength. A round's block hash is the hash of the block just before the round's first block
 *   (genesis for round 0), which like Livepeer's is known from the round's first block on. The EVM
 *   only exposes the last 256 block hashes, so anyone may call initializeRound() to store the
 *   current round's hash for good; until then blockHashForRound() reads it live from blockhash().
 * - Winning tickets pay the recipient directly in ETH (Livepeer credits a fee pool instead).
 * - The reserve is split between `reserveRecipients` recipients per round, a number fixed at
 *   deployment (Livepeer uses the size of its active orchestrator set).
 * - Reverts use custom errors, so clients can tell the reasons apart without parsing strings.
 */
contract TicketBroker {
    struct Ticket {
        address recipient; // who is paid if the ticket wins
        address sender; // whose deposit/reserve pays
        uint256 faceValue; // paid on a win (wei)
        uint256 winProb; // wins when uint256(keccak256(sig ‖ recipientRand)) < winProb
        uint256 senderNonce; // makes tickets with the same recipientRandHash distinct
        bytes32 recipientRandHash; // keccak256(recipientRand), the recipient's commitment
        bytes auxData; // creationRound (uint256) ‖ creationRoundBlockHash (bytes32)
    }

    struct Sender {
        uint256 deposit;
        uint256 withdrawRound; // 0 while locked; otherwise the round from which withdraw() works
    }

    struct ReserveInfo {
        uint256 fundsRemaining;
        uint256 claimedInCurrentRound;
    }

    struct Reserve {
        uint256 funds;
        mapping(uint256 => uint256) claimedForRound;
        mapping(uint256 => mapping(address => uint256)) claimedByAddress;
    }

    // secp256k1n / 2: signatures with a larger s are the malleable twin of a valid one.
    uint256 private constant HALF_CURVE_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    uint256 public immutable roundLength; // blocks per round
    uint256 public immutable unlockPeriod; // rounds between unlock() and withdraw()
    uint256 public immutable ticketValidityPeriod; // rounds a ticket stays redeemable after creation
    uint256 public immutable reserveRecipients; // how many recipients share a reserve per round

    mapping(bytes32 => bool) public usedTickets;
    mapping(address => Sender) internal senders;
    // A withdraw starts a new reserve generation, so claims recorded for the old one are never
    // counted against a reserve funded later in the same round.
    mapping(address => uint256) internal reserveGeneration;
    mapping(bytes32 => Reserve) internal reserves;
    mapping(uint256 => bytes32) internal storedRoundBlockHashes;

    event DepositFunded(address indexed sender, uint256 amount);
    event ReserveFunded(address indexed reserveHolder, uint256 amount);
    event ReserveClaimed(address indexed reserveHolder, address claimant, uint256 amount);
    event WinningTicketRedeemed(
        address indexed sender,
        address indexed recipient,
        uint256 faceValue,
        uint256 winProb,
        uint256 senderNonce,
        uint256 recipientRand,
        bytes auxData
    );
    event WinningTicketTransfer(address indexed sender, address indexed recipient, uint256 amount);
    event Unlock(address indexed sender, uint256 startRound, uint256 endRound);
    event UnlockCancelled(address indexed sender);
    event Withdrawal(address indexed sender, uint256 deposit, uint256 reserve);
    event NewRound(uint256 indexed round, bytes32 blockHash);
    // Not in Livepeer: tells a batch redeemer which tickets of the batch did not go through.
    event TicketRedemptionFailed(bytes32 indexed ticketHash, bytes reason);

    error InvalidParameters();
    error DepositReserveValueMismatch(uint256 value, uint256 depositAmount, uint256 reserveAmount);
    error RecipientIsZero();
    error SenderIsZero();
    error InvalidAuxDataLength(uint256 length);
    error UnknownCreationRound(uint256 creationRound);
    error CreationRoundBlockHashMismatch(uint256 creationRound, bytes32 expected);
    error TicketExpired(uint256 creationRound, uint256 currentRound);
    error RecipientRandMismatch();
    error TicketUsed(bytes32 ticketHash);
    error InvalidSignatureLength(uint256 length);
    error SignatureMalleable();
    error InvalidSignatureV(uint8 v);
    error InvalidSignature(address recovered, address sender);
    error TicketNotWinning();
    error SenderUnlocked(address sender);
    error SenderUnfunded(address sender);
    error UnlockInProgress(uint256 withdrawRound);
    error NoUnlockInProgress();
    error SenderLocked(uint256 withdrawRound, uint256 currentRound);
    error TransferFailed(address to, uint256 amount);
    error BatchLengthMismatch(uint256 tickets, uint256 sigs, uint256 recipientRands);
    error RoundBlockHashUnavailable(uint256 round);

    constructor(
        uint256 _roundLength,
        uint256 _unlockPeriod,
        uint256 _ticketValidityPeriod,
        uint256 _reserveRecipients
    ) {
        if (_roundLength == 0 || _ticketValidityPeriod == 0 || _reserveRecipients == 0) {
            revert InvalidParameters();
        }
        roundLength = _roundLength;
        unlockPeriod = _unlockPeriod;
        ticketValidityPeriod = _ticketValidityPeriod;
        reserveRecipients = _reserveRecipients;
    }

    // ---------------------------------------------------------------- rounds

    function currentRound() public view returns (uint256) {
        return block.number / roundLength;
    }

    function currentRoundStartBlock() public view returns (uint256) {
        return currentRound() * roundLength;
    }

    /// @notice Whether initializeRound() stored the current round's block hash. Rounds start by
    /// themselves here; storing the hash only matters for rounds longer than 256 blocks.
    function currentRoundInitialized() external view returns (bool) {
        return storedRoundBlockHashes[currentRound()] != bytes32(0);
    }

    /// @notice The block whose hash identifies `_round`: the last block before the round starts.
    function roundHashBlock(uint256 _round) public view returns (uint256) {
        if (_round == 0) return 0;
        if (_round > type(uint256).max / roundLength) return type(uint256).max;
        return _round * roundLength - 1;
    }

    /// @notice The round's block hash, or zero when it is unknown (a future round, or older than
    /// 256 blocks and never stored by initializeRound()).
    function blockHashForRound(uint256 _round) public view returns (bytes32) {
        bytes32 stored = storedRoundBlockHashes[_round];
        if (stored != bytes32(0)) return stored;
        return blockhash(roundHashBlock(_round));
    }

    /// @notice Stores the current round's block hash so tickets of this round stay redeemable
    /// after the EVM forgets it (256 blocks). Anyone may call it; repeat calls are no-ops.
    function initializeRound() external {
        uint256 round = currentRound();
        if (storedRoundBlockHashes[round] != bytes32(0)) return;
        bytes32 hash = blockhash(roundHashBlock(round));
        if (hash == bytes32(0)) revert RoundBlockHashUnavailable(round);
        storedRoundBlockHashes[round] = hash;
        emit NewRound(round, hash);
    }

    // ---------------------------------------------------------------- funding

    function fundDeposit() external payable {
        _addDeposit(msg.sender, msg.value);
    }

    function fundReserve() external payable {
        _addReserve(msg.sender, msg.value);
    }

    function fundDepositAndReserve(uint256 _depositAmount, uint256 _reserveAmount) external payable {
        fundDepositAndReserveFor(msg.sender, _depositAmount, _reserveAmount);
    }

    function fundDepositAndReserveFor(address _addr, uint256 _depositAmount, uint256 _reserveAmount)
        public
        payable
    {
        if (msg.value != _depositAmount + _reserveAmount) {
            revert DepositReserveValueMismatch(msg.value, _depositAmount, _reserveAmount);
        }
        _addDeposit(_addr, _depositAmount);
        _addReserve(_addr, _reserveAmount);
    }

    function unlock() external {
        Sender storage sender = senders[msg.sender];
        if (sender.deposit == 0 && _reserveOf(msg.sender).funds == 0) revert SenderUnfunded(msg.sender);
        if (sender.withdrawRound != 0) revert UnlockInProgress(sender.withdrawRound);
        uint256 round = currentRound();
        sender.withdrawRound = round + unlockPeriod;
        emit Unlock(msg.sender, round, sender.withdrawRound);
    }

    function cancelUnlock() external {
        _cancelUnlock(msg.sender);
    }

    function withdraw() external {
        Sender storage sender = senders[msg.sender];
        uint256 deposit = sender.deposit;
        uint256 reserve = _reserveOf(msg.sender).funds;
        if (deposit == 0 && reserve == 0) revert SenderUnfunded(msg.sender);
        if (sender.withdrawRound == 0) revert NoUnlockInProgress();
        if (_isLocked(sender)) revert SenderLocked(sender.withdrawRound, currentRound());

        sender.deposit = 0;
        sender.withdrawRound = 0;
        reserveGeneration[msg.sender] += 1;

        _send(msg.sender, deposit + reserve);
        emit Withdrawal(msg.sender, deposit, reserve);
    }

    // ---------------------------------------------------------------- views

    function getSenderInfo(address _sender) external view returns (Sender memory sender, ReserveInfo memory reserve) {
        sender = senders[_sender];
        reserve = getReserveInfo(_sender);
    }

    function getReserveInfo(address _reserveHolder) public view returns (ReserveInfo memory info) {
        Reserve storage reserve = _reserveOf(_reserveHolder);
        info.fundsRemaining = reserve.funds;
        info.claimedInCurrentRound = reserve.claimedForRound[currentRound()];
    }

    /// @notice How much `_claimant` may still take from the reserve this round.
    function claimableReserve(address _reserveHolder, address _claimant) public view returns (uint256) {
        Reserve storage reserve = _reserveOf(_reserveHolder);
        uint256 round = currentRound();
        uint256 share = (reserve.funds + reserve.claimedForRound[round]) / reserveRecipients;
        uint256 taken = reserve.claimedByAddress[round][_claimant];
        return share > taken ? share - taken : 0;
    }

    function claimedReserve(address _reserveHolder, address _claimant) external view returns (uint256) {
        return _reserveOf(_reserveHolder).claimedByAddress[currentRound()][_claimant];
    }

    function isUnlockInProgress(address _sender) external view returns (bool) {
        return senders[_sender].withdrawRound != 0;
    }

    function getTicketHash(Ticket calldata _ticket) public pure returns (bytes32) {
        return keccak256(
            abi.encodePacked(
                _ticket.recipient,
                _ticket.sender,
                _ticket.faceValue,
                _ticket.winProb,
                _ticket.senderNonce,
                _ticket.recipientRandHash,
                _ticket.auxData
            )
        );
    }

    // ---------------------------------------------------------------- redemption

    /// @notice Pays a winning ticket: faceValue from the sender's deposit, any shortfall from the
    /// recipient's share of the sender's reserve. Anyone may submit it; the recipient is paid.
    function redeemWinningTicket(Ticket calldata _ticket, bytes calldata _sig, uint256 _recipientRand) public {
        bytes32 ticketHash = getTicketHash(_ticket);
        _requireValidWinningTicket(_ticket, ticketHash, _sig, _recipientRand);

        Sender storage sender = senders[_ticket.sender];
        if (!_isLocked(sender)) revert SenderUnlocked(_ticket.sender);
        if (sender.deposit == 0 && _reserveOf(_ticket.sender).funds == 0) revert SenderUnfunded(_ticket.sender);

        usedTickets[ticketHash] = true;

        uint256 amount;
        if (_ticket.faceValue > sender.deposit) {
            amount = sender.deposit + _claimFromReserve(_ticket.sender, _ticket.recipient, _ticket.faceValue - sender.deposit);
            sender.deposit = 0;
        } else {
            amount = _ticket.faceValue;
            sender.deposit -= _ticket.faceValue;
        }

        if (amount > 0) {
            _send(_ticket.recipient, amount);
            emit WinningTicketTransfer(_ticket.sender, _ticket.recipient, amount);
        }

        emit WinningTicketRedeemed(
            _ticket.sender,
            _ticket.recipient,
            _ticket.faceValue,
            _ticket.winProb,
            _ticket.senderNonce,
            _recipientRand,
            _ticket.auxData
        );
    }

    /// @notice Redeems each ticket on its own: one that fails is skipped (and reported by a
    /// TicketRedemptionFailed event) without undoing the others.
    function batchRedeemWinningTickets(
        Ticket[] calldata _tickets,
        bytes[] calldata _sigs,
        uint256[] calldata _recipientRands
    ) external {
        if (_tickets.length != _sigs.length || _tickets.length != _recipientRands.length) {
            revert BatchLengthMismatch(_tickets.length, _sigs.length, _recipientRands.length);
        }
        for (uint256 i = 0; i < _tickets.length; i++) {
            // An external self-call gives each ticket its own revert scope.
            try this.redeemWinningTicket(_tickets[i], _sigs[i], _recipientRands[i]) {}
            catch (bytes memory reason) {
                emit TicketRedemptionFailed(getTicketHash(_tickets[i]), reason);
            }
        }
    }

    // ---------------------------------------------------------------- internals

    function _requireValidWinningTicket(
        Ticket calldata _ticket,
        bytes32 _ticketHash,
        bytes calldata _sig,
        uint256 _recipientRand
    ) internal view {
        if (_ticket.recipient == address(0)) revert RecipientIsZero();
        if (_ticket.sender == address(0)) revert SenderIsZero();
        _requireValidAuxData(_ticket.auxData);
        if (keccak256(abi.encodePacked(_recipientRand)) != _ticket.recipientRandHash) revert RecipientRandMismatch();
        if (usedTickets[_ticketHash]) revert TicketUsed(_ticketHash);
        address signer = _recoverSigner(_ticketHash, _sig);
        if (signer != _ticket.sender) revert InvalidSignature(signer, _ticket.sender);
        if (uint256(keccak256(abi.encodePacked(_sig, _recipientRand))) >= _ticket.winProb) revert TicketNotWinning();
    }

    function _requireValidAuxData(bytes calldata _auxData) internal view {
        if (_auxData.length != 64) revert InvalidAuxDataLength(_auxData.length);
        uint256 creationRound = uint256(bytes32(_auxData[0:32]));
        bytes32 creationRoundBlockHash = bytes32(_auxData[32:64]);
        bytes32 expected = blockHashForRound(creationRound);
        if (expected == bytes32(0)) revert UnknownCreationRound(creationRound);
        if (creationRoundBlockHash != expected) revert CreationRoundBlockHashMismatch(creationRound, expected);
        uint256 round = currentRound();
        // creationRound <= round here: a future round has no block hash yet.
        if (creationRound + ticketValidityPeriod <= round) revert TicketExpired(creationRound, round);
    }

    /// @dev EIP-191 personal_sign over the 32-byte ticket hash; 65 bytes r ‖ s ‖ v.
    function _recoverSigner(bytes32 _hash, bytes calldata _sig) internal pure returns (address) {
        if (_sig.length != 65) revert InvalidSignatureLength(_sig.length);
        bytes32 r = bytes32(_sig[0:32]);
        bytes32 s = bytes32(_sig[32:64]);
        uint8 v = uint8(_sig[64]);
        if (uint256(s) > HALF_CURVE_ORDER) revert SignatureMalleable();
        if (v != 27 && v != 28) revert InvalidSignatureV(v);
        bytes32 digest = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", _hash));
        return ecrecover(digest, v, r, s);
    }

    function _claimFromReserve(address _holder, address _claimant, uint256 _amount) internal returns (uint256) {
        uint256 claimable = claimableReserve(_holder, _claimant);
        uint256 claim = _amount > claimable ? claimable : _amount;
        if (claim == 0) return 0;
        Reserve storage reserve = _reserveOf(_holder);
        uint256 round = currentRound();
        reserve.claimedForRound[round] += claim;
        reserve.claimedByAddress[round][_claimant] += claim;
        reserve.funds -= claim;
        emit ReserveClaimed(_holder, _claimant, claim);
        return claim;
    }

    function _addDeposit(address _sender, uint256 _amount) internal {
        Sender storage sender = senders[_sender];
        sender.deposit += _amount;
        _fundingCancelsUnlock(_sender);
        emit DepositFunded(_sender, _amount);
    }

    function _addReserve(address _holder, uint256 _amount) internal {
        _reserveOf(_holder).funds += _amount;
        _fundingCancelsUnlock(_holder);
        emit ReserveFunded(_holder, _amount);
    }

    /// @dev Like Livepeer, a sender funding itself shows intent to keep paying, so it cancels its
    /// pending unlock. Unlike Livepeer, funding by someone else does not: otherwise anyone could
    /// keep a sender from ever withdrawing by sending it 0 wei now and then.
    function _fundingCancelsUnlock(address _sender) internal {
        if (_sender == msg.sender && senders[_sender].withdrawRound != 0) _cancelUnlock(_sender);
    }

    function _cancelUnlock(address _sender) internal {
        Sender storage sender = senders[_sender];
        if (sender.withdrawRound == 0) revert NoUnlockInProgress();
        sender.withdrawRound = 0;
        emit UnlockCancelled(_sender);
    }

    function _isLocked(Sender storage _sender) internal view returns (bool) {
        return _sender.withdrawRound == 0 || currentRound() < _sender.withdrawRound;
    }

    function _reserveOf(address _holder) internal view returns (Reserve storage) {
        return reserves[keccak256(abi.encode(_holder, reserveGeneration[_holder]))];
    }

    function _send(address _to, uint256 _amount) internal {
        (bool ok,) = payable(_to).call{value: _amount}("");
        if (!ok) revert TransferFailed(_to, _amount);
    }
}
