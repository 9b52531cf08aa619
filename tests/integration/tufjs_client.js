// tuf-js behind bulwark-tuf-client's command-line interface, to check
// bulwark's test expectations against an independent TUF client:
//
//   (cd /tmp/tufjs && npm install tuf-js@6)
//   printf '#!/bin/sh\nNODE_PATH=/tmp/tufjs/node_modules exec node %s "$@"\n' \
//       "$PWD/tests/integration/tufjs_client.js" > /tmp/tufjs/client.sh
//   chmod +x /tmp/tufjs/client.sh
//   BW_TUF_CLIENT=/tmp/tufjs/client.sh BW_BINARY_DIR=build \
//       python3 tests/integration/test_tuf_scenarios.py GeneratedScenarios
//
// Not run by CTest. Where bulwark is stricter than tuf-js 6.0.2 the
// scenarios say so (bad-target-paths, *-one-key-two-keyids,
// timestamp-duplicate-json-key, target-special-chars).
const fs = require('fs'), path = require('path');
const { Updater } = require('tuf-js');
const a = process.argv.slice(2); const o = { names: [] }; const pos = [];
for (let i = 0; i < a.length; i++) {
  const k = a[i];
  if (k === '--metadata-dir') o.md = a[++i];
  else if (k === '--metadata-url') o.mu = a[++i];
  else if (k === '--target-name') o.names.push(a[++i]);
  else if (k === '--target-base-url') o.tu = a[++i];
  else if (k === '--target-dir') o.td = a[++i];
  else if (k === '--low-speed-time') o.lst = a[++i];
  else pos.push(k);
}
function quote(p) { return encodeURIComponent(p).replace(/[!'()*]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase()); }
(async () => {
  try {
    if (pos[0] === 'init') { fs.copyFileSync(pos[1], path.join(o.md, 'root.json')); process.exit(0); }
    const u = new Updater({ metadataDir: o.md, metadataBaseUrl: o.mu, targetDir: o.td, targetBaseUrl: o.tu,
                            config: { fetchTimeout: (o.lst ? +o.lst : 30) * 1000, fetchRetries: 0 } });
    await u.refresh();
    if (pos[0] === 'download') {
      for (const n of o.names) {
        const info = await u.getTargetInfo(n);
        if (!info) throw new Error('not found: ' + n);
        const fp = path.join(o.td, quote(n));
        if (await u.findCachedTarget(info, fp)) continue;
        await u.downloadTarget(info, fp);
      }
    }
    process.exit(0);
  } catch (e) { console.error('error: ' + e.name + ': ' + e.message); process.exit(1); }
})();
