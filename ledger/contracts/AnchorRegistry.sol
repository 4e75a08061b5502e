// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title AnchorRegistry
/// @notice Public anchor for the portal's transparency log: the operator records
///         signed tree heads (RFC 9162 section 4.10) as (tree size, root hash)
///         pairs. Sizes only grow, so a recorded checkpoint can never be
///         replaced or rolled back, and anyone can read it back by tree size.
contract AnchorRegistry {
    /// @notice The deployer; the only account allowed to anchor.
    address public immutable owner;

    /// @notice Largest tree size anchored so far (0 before the first anchor).
    uint64 public latestSize;

    /// @notice Root hash anchored for a tree size (zero if never anchored).
    mapping(uint64 => bytes32) public rootAt;

    /// @notice Block timestamp at which a tree size was anchored (zero if never).
    mapping(uint64 => uint256) public anchoredAt;

    event CheckpointAnchored(uint64 indexed treeSize, bytes32 root, uint256 timestamp);

    constructor() {
        owner = msg.sender;
    }

    /// @notice Record the root hash of the log at `treeSize` entries.
    /// @dev Reverts unless called by the owner with a size larger than any
    ///      anchored before and a non-zero root.
    function anchor(uint64 treeSize, bytes32 root) external {
        require(msg.sender == owner, "AnchorRegistry: not owner");
        require(treeSize > latestSize, "AnchorRegistry: size must grow");
        require(root != bytes32(0), "AnchorRegistry: empty root");

        latestSize = treeSize;
        rootAt[treeSize] = root;
        anchoredAt[treeSize] = block.timestamp;
        emit CheckpointAnchored(treeSize, root, block.timestamp);
    }
}
