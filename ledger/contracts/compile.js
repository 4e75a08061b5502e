#!/usr/bin/env node
// Compile AnchorRegistry.sol into the committed AnchorRegistry.json artifact.
//
//   node ledger/contracts/compile.js            write the artifact
//   node ledger/contracts/compile.js --check    fail if the committed artifact is stale
//
// Options --source PATH and --artifact PATH override the default files (both
// default to this directory). The output is deterministic: the same source and
// compiler always produce a byte-identical artifact, so --check can compare bytes.
//
// solcjs has no --evm-version flag, hence the standard-JSON input. We pin
// "prague": the compiler default is newer than the EVM the Python tooling runs.
"use strict";

const fs = require("fs");
const path = require("path");
const solc = require("solc");

const CONTRACT_NAME = "AnchorRegistry";
const EVM_VERSION = "prague";
const OPTIMIZER = { enabled: true, runs: 200 };

function parseArgs(argv) {
  const options = {
    check: false,
    source: path.join(__dirname, `${CONTRACT_NAME}.sol`),
    artifact: path.join(__dirname, `${CONTRACT_NAME}.json`),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--check") {
      options.check = true;
    } else if (arg === "--source" || arg === "--artifact") {
      const value = argv[++i];
      if (value === undefined) {
        fail(`${arg} needs a path`);
      }
      options[arg.slice(2)] = path.resolve(value);
    } else {
      fail(`unknown argument: ${arg}\nusage: compile.js [--check] [--source PATH] [--artifact PATH]`);
    }
  }
  return options;
}

function fail(message) {
  process.stderr.write(`compile.js: ${message}\n`);
  process.exit(1);
}

function compile(sourcePath) {
  let content;
  try {
    content = fs.readFileSync(sourcePath, "utf8");
  } catch (err) {
    fail(`cannot read ${sourcePath}: ${err.message}`);
  }
  // The source unit name ends up in the contract metadata (and so in the
  // bytecode's metadata hash): use the bare file name, never a machine path.
  const unitName = path.basename(sourcePath);
  const input = {
    language: "Solidity",
    sources: { [unitName]: { content } },
    settings: {
      evmVersion: EVM_VERSION,
      optimizer: OPTIMIZER,
      outputSelection: { [unitName]: { [CONTRACT_NAME]: ["abi", "evm.bytecode.object"] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const diagnostics = output.errors || [];
  const errors = diagnostics.filter((d) => d.severity === "error");
  for (const d of diagnostics) {
    process.stderr.write(d.formattedMessage || `${d.severity}: ${d.message}\n`);
  }
  if (errors.length > 0) {
    fail(`${errors.length} compile error(s) in ${unitName}`);
  }
  const contract = ((output.contracts || {})[unitName] || {})[CONTRACT_NAME];
  if (!contract || !contract.evm.bytecode.object) {
    fail(`${unitName} does not define contract ${CONTRACT_NAME}`);
  }
  return {
    contractName: CONTRACT_NAME,
    compiler: solc.version(),
    evmVersion: EVM_VERSION,
    optimizer: OPTIMIZER,
    abi: contract.abi,
    bytecode: `0x${contract.evm.bytecode.object}`,
  };
}

function main() {
  const options = parseArgs(process.argv.slice(2));
  const text = `${JSON.stringify(compile(options.source), null, 2)}\n`;
  const shownArtifact = path.relative(process.cwd(), options.artifact) || options.artifact;
  const shownSource = path.relative(process.cwd(), options.source) || options.source;

  if (options.check) {
    let committed = null;
    try {
      committed = fs.readFileSync(options.artifact, "utf8");
    } catch (err) {
      fail(`cannot read ${shownArtifact}: ${err.message}`);
    }
    if (committed !== text) {
      fail(
        `${shownArtifact} does not match ${shownSource} compiled with solc ${solc.version()}; ` +
          "run `node ledger/contracts/compile.js` and commit the result",
      );
    }
    process.stdout.write(`${shownArtifact} is up to date\n`);
    return;
  }

  fs.writeFileSync(options.artifact, text);
  process.stdout.write(`wrote ${shownArtifact}\n`);
}

main();
