// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title AnchorRegistry
/// @notice Public anchor for the portal's transparency log: the operator records
///         signed tree heads (RFC 9162 section 4.10) as (tree size, root hash)
///         pairs. A new checkpoint is accepted only with an RFC 9162 consistency
///         proof (section 2.1.4) from the latest one, verified here, so the log
///         recorded on chain can only grow: it cannot fork, drop or rewrite an
///         entry, whoever holds the sender key.
contract AnchorRegistry {
    /// @notice Who may hand anchoring over to another sender, change the growth
    ///         limit, or pass ownership on.
    address public owner;

    /// @notice The only account allowed to anchor.
    address public sender;

    /// @notice Largest number of entries one checkpoint may add: a stolen sender
    ///         key cannot jump the size to 2^64 - 1 and so end the log.
    uint64 public maxGrowth;

    /// @notice Largest tree size anchored so far (0 before the first anchor).
    uint64 public latestSize;

    /// @notice Root hash of the latest checkpoint (zero before the first anchor).
    bytes32 public latestRoot;

    /// @notice Root hash anchored for a tree size (zero if never anchored).
    mapping(uint64 => bytes32) public rootAt;

    /// @notice Block timestamp at which a tree size was anchored (zero if never).
    mapping(uint64 => uint256) public anchoredAt;

    event CheckpointAnchored(uint64 indexed treeSize, bytes32 root, uint256 timestamp);
    event SenderChanged(address indexed previousSender, address indexed newSender);
    event OwnerChanged(address indexed previousOwner, address indexed newOwner);
    event MaxGrowthChanged(uint64 maxGrowth);

    constructor(uint64 initialMaxGrowth) {
        require(initialMaxGrowth > 0, "AnchorRegistry: growth limit must be positive");
        owner = msg.sender;
        sender = msg.sender;
        maxGrowth = initialMaxGrowth;
    }

    modifier onlyOwner() {
        require(msg.sender == owner, "AnchorRegistry: not owner");
        _;
    }

    /// @notice Record the root hash of the log at `treeSize` entries.
    /// @param consistency the RFC 9162 consistency proof from the latest
    ///        checkpoint to this one (empty for the first checkpoint).
    /// @dev Reverts unless called by the sender with a larger size, no more than
    ///      `maxGrowth` entries more, a non-zero root, and a valid proof.
    function anchor(uint64 treeSize, bytes32 root, bytes32[] calldata consistency) external {
        require(msg.sender == sender, "AnchorRegistry: not sender");
        require(treeSize > latestSize, "AnchorRegistry: size must grow");
        require(treeSize - latestSize <= maxGrowth, "AnchorRegistry: growth above limit");
        require(root != bytes32(0), "AnchorRegistry: empty root");
        if (latestSize == 0) {
            require(consistency.length == 0, "AnchorRegistry: first checkpoint takes no proof");
        } else {
            require(
                verifyConsistency(latestSize, treeSize, latestRoot, root, consistency),
                "AnchorRegistry: not consistent with the latest checkpoint"
            );
        }
        latestSize = treeSize;
        latestRoot = root;
        rootAt[treeSize] = root;
        anchoredAt[treeSize] = block.timestamp;
        emit CheckpointAnchored(treeSize, root, block.timestamp);
    }

    /// @notice Hand anchoring over to another account (a rotated sender key).
    function setSender(address newSender) external onlyOwner {
        require(newSender != address(0), "AnchorRegistry: zero sender");
        emit SenderChanged(sender, newSender);
        sender = newSender;
    }

    /// @notice Pass ownership to another account.
    function transferOwnership(address newOwner) external onlyOwner {
        require(newOwner != address(0), "AnchorRegistry: zero owner");
        emit OwnerChanged(owner, newOwner);
        owner = newOwner;
    }

    /// @notice Change the largest number of entries one checkpoint may add.
    function setMaxGrowth(uint64 newMaxGrowth) external onlyOwner {
        require(newMaxGrowth > 0, "AnchorRegistry: growth limit must be positive");
        maxGrowth = newMaxGrowth;
        emit MaxGrowthChanged(newMaxGrowth);
    }

    /// @notice RFC 9162 section 2.1.4.2: whether `proof` shows that the tree of
    ///         `first` entries with root `firstRoot` is a prefix of the tree of
    ///         `second` entries with root `secondRoot`. Interior nodes are
    ///         SHA-256(0x01 || left || right) (section 2.1.1).
    function verifyConsistency(
        uint64 first,
        uint64 second,
        bytes32 firstRoot,
        bytes32 secondRoot,
        bytes32[] calldata proof
    ) public pure returns (bool) {
        if (first == 0 || first > second) {
            return false;
        }
        if (first == second) {
            return proof.length == 0 && firstRoot == secondRoot;
        }
        if (proof.length == 0 || proof.length > 128) {
            return false;
        }
        uint256 fn = first - 1;
        uint256 sn = second - 1;
        // A first tree whose size is a power of two is itself a node of the
        // second: the proof starts with it implicitly (step 2 of 2.1.4.2).
        uint256 start = 0;
        bytes32 fr;
        if (first & (first - 1) == 0) {
            fr = firstRoot;
        } else {
            fr = proof[0];
            start = 1;
        }
        bytes32 sr = fr;
        while (fn & 1 == 1) {
            fn >>= 1;
            sn >>= 1;
        }
        for (uint256 i = start; i < proof.length; i++) {
            bytes32 c = proof[i];
            if (sn == 0) {
                return false;
            }
            if (fn & 1 == 1 || fn == sn) {
                fr = sha256(abi.encodePacked(bytes1(0x01), c, fr));
                sr = sha256(abi.encodePacked(bytes1(0x01), c, sr));
                if (fn & 1 == 0) {
                    while (fn & 1 == 0 && fn != 0) {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            } else {
                sr = sha256(abi.encodePacked(bytes1(0x01), sr, c));
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && fr == firstRoot && sr == secondRoot;
    }
}
