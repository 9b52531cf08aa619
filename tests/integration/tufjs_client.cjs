// A second TUF implementation for interop tests: tuf-js's Updater over an
// exported bulwark repository. Loaded from $BW_TUFJS_DIR (a directory
// where `npm install tuf-js` was run); test_cli_repo.py skips without it.
//
// usage: node tufjs_client.cjs ROOT_JSON METADATA_URL TARGETS_URL WORKDIR NAME...
// prints "root <version>" and "ok <name> <size>" per downloaded target.
'use strict';
const fs = require('fs');
const path = require('path');
const { Updater } = require(require.resolve('tuf-js',
  { paths: [process.env.BW_TUFJS_DIR || '.'] }));

async function main() {
  const [root, murl, turl, work, ...names] = process.argv.slice(2);
  const md = path.join(work, 'md');
  const td = path.join(work, 'td');
  fs.mkdirSync(md, { recursive: true });
  fs.mkdirSync(td, { recursive: true });
  fs.copyFileSync(root, path.join(md, 'root.json'));
  const u = new Updater({ metadataBaseUrl: murl, targetBaseUrl: turl,
    metadataDir: md, targetDir: td });
  await u.refresh();
  const r = JSON.parse(fs.readFileSync(path.join(md, 'root.json')));
  console.log('root', r.signed.version);
  for (const n of names) {
    const info = await u.getTargetInfo(n);
    if (!info) throw new Error('no target ' + n);
    const p = await u.downloadTarget(info, path.join(td, path.basename(n)));
    console.log('ok', n, fs.statSync(p).size);
  }
}

main().catch((e) => { console.error(String(e)); process.exit(1); });
