// Copy the browser libraries the pages use from node_modules into static/vendor/, where
// Django serves them as the portal's own static files (the CSP allows no CDN). Run by
// scripts/lib.sh after npm installs; static/vendor/ is generated, never committed.
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const target = path.join(root, "static", "vendor");
const files = [
  ["cytoscape/dist/cytoscape.min.js", "cytoscape.min.js"],
  ["cytoscape/LICENSE", "cytoscape.LICENSE.txt"],
];

fs.mkdirSync(target, { recursive: true });
for (const [source, name] of files) {
  fs.copyFileSync(path.join(root, "node_modules", source), path.join(target, name));
}
console.log(`vendored ${files.length} files into static/vendor/`);
