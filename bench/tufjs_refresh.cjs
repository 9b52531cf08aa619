// tuf-js's Updater.refresh() (root, timestamp, snapshot, targets) for
// bench/tuf_refresh, loaded from $BW_TUFJS_DIR.
// usage: node tufjs_refresh.cjs ROOT_JSON METADATA_URL METADATA_DIR
'use strict';
const fs = require('fs');
const path = require('path');
const { Updater } = require(require.resolve('tuf-js',
  { paths: [process.env.BW_TUFJS_DIR || '.'] }));

(async () => {
  const [root, murl, md] = process.argv.slice(2);
  fs.mkdirSync(md, { recursive: true });
  fs.copyFileSync(root, path.join(md, 'root.json'));
  const u = new Updater({ metadataBaseUrl: murl, metadataDir: md,
    targetBaseUrl: murl, targetDir: md });
  await u.refresh();
})().catch((e) => { console.error('error: ' + e.message); process.exit(1); });
