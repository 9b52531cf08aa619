#!/usr/bin/env python3
"""Mutation check of the TUF client's defences.

usage: scripts/tuf-mutations.py WORKTREE OUT.md

WORKTREE is a scratch checkout (git worktree add --detach ...) with a
`make build` done: each defence in turn is disabled in its source, the tree
is rebuilt, test_updater and the tuf_gen scenarios meant to catch it run,
and a table row records what failed (or **NOT CAUGHT**); the source is
restored. Takes about a minute per defence. Never run it in a tree with
uncommitted work: it edits the sources.
"""
import os, re, subprocess, sys, time
WT = sys.argv[1]
OUT = sys.argv[2]
U = "src/lib/tuf/updater.c"; M = "src/lib/tuf/metadata.c"; L = "src/lib/tuf/lookup.c"
T = "src/lib/tuf/targets.c"; D = "src/lib/tuf/delegation.c"
MUTS = [
 ("5.3.4 new root signed by the trusted root keys", U, r"rc = bw_tuf__verify_sigs\(md, &u->root->keyring,\s*&u->root->roles\[BW_TUF_ROOT\],", "rc = 0 * bw_tuf__verify_sigs(md, &u->root->keyring, &u->root->roles[BW_TUF_ROOT],", ["root_rotation_unsigned_by_old"]),
 ("5.3.4 new root signed by its own keys", U, r"rc = bw_tuf__verify_sigs\(md, &md->keyring,\s*&md->roles\[BW_TUF_ROOT\],", "rc = 0 * bw_tuf__verify_sigs(md, &md->keyring, &md->roles[BW_TUF_ROOT],", ["root_rotation_threshold_unmet"]),
 ("5.3.5 root version exactly N+1", U, r"if \(rc == 0 && md->version != next\)", "if (0 && md->version != next)", ["root_version_skip"]),
 ("5.3.10 final root not expired", U, r"rc = bw_tuf__check_expiry\(u, u->root, \"root\", err\);", "rc = 0;", ["root_expired"]),
 ("5.3.11 drop cached timestamp/snapshot on key rotation", U, r"remove_local\(u, \"timestamp.json\"\);\s*remove_local\(u, \"snapshot.json\"\);", ";", ["rotate_timestamp_snapshot_keys"]),
 ("5.4.2 timestamp signed by its keys", U, r"rc = bw_tuf__verify_sigs\(md, &u->root->keyring, rk, \"timestamp\",\s*err\);", "rc = 0;", ["timestamp_signed_by_targets_key"]),
 ("5.4.3.1 timestamp version not below trusted", U, r"if \(md->version < trusted->version\) \{", "if (0) {", ["rollback_timestamp"]),
 ("5.4.3.2 listed snapshot version not below trusted", U, r"if \(n->version < a->version\) \{", "if (0) {", ["rollback_snapshot"]),
 ("5.4.4 timestamp not expired", U, r"rc = bw_tuf__check_expiry\(u, md, \"timestamp\", err\);", "rc = 0;", ["expired_timestamp"]),
 ("5.5.2 snapshot length and hashes", U, r"rc = bw_tuf__check_length_hashes\(b.data, b.len, sm->length, sm->hashes,\s*sm->nhashes, \"snapshot\", err\);", "rc = 0;", ["timestamp_snapshot_hash_mismatch", "timestamp_snapshot_length_mismatch"]),
 ("5.5.3 snapshot signed by its keys", U, r"rc = bw_tuf__verify_sigs\(md, &u->root->keyring, rk, \"snapshot\",\s*err\);", "rc = 0;", ["snapshot_duplicate_keyid", "rotate_timestamp_snapshot_keys"]),
 ("5.5.4 snapshot version as timestamp lists", U, r"if \(rc == 0 && md->version != sm->version\)", "if (0)", ["snapshot_version_mismatch"]),
 ("5.5.5 no targets role vanishes or goes back", U, r"rc = check_snapshot_rollback\(old, md, err\);", "rc = 0;", ["rollback_targets"]),
 ("5.5.6 snapshot not expired", U, r"rc = bw_tuf__check_expiry\(u, md, \"snapshot\", err\);", "rc = 0;", ["expired_snapshot"]),
 ("5.6.2 targets length and hashes", T, r"if \(rc == 0 && mf != NULL\)\s*rc = check_listed\(&s.r, mf, what, err\);", ";", ["snapshot_targets_hash_mismatch"]),
 ("5.6.3 targets signed by the delegator's keys", U, r"/\* TUF 5.6.3: signed by the threshold of the delegating role's keys. \*/\s*rc = bw_tuf__verify_sigs\(md, kr, rk, role, err\);", "rc = 0;", ["targets_threshold_unmet", "delegated_role_bad_signature"]),
 ("5.6.4 targets version as snapshot lists", U, r"if \(rc == 0 && md->version != mf->version\)", "if (0)", ["mix_and_match_targets", "delegated_role_version_mismatch"]),
 ("5.6.5 targets not expired", U, r"/\* TUF 5.6.5: freeze attack. \*/\s*if \(rc == 0\)\s*rc = bw_tuf__check_expiry\(u, md, role, err\);", ";", ["expired_targets", "delegated_role_expired"]),
 ("threshold counts distinct key material", M, r"if \(counted\[j\] == key \|\|\s*bw_key_same_material\(counted\[j\], key\)\)", "if (0)", ["targets_one_key_two_keyids", "targets_duplicate_signature"]),
 ("key id is the hash of its key", M, r"if \(strcmp\(k->keyid, keyid\) != 0\)", "if (0)", ["root_one_key_two_keyids"]),
 ("TUF 4.2 key id unique in signatures", M, r"rc = check_unique_keyids\(md->signatures, what, err\);", "rc = 0;", ["snapshot_duplicate_keyid"]),
 ("threshold >= 1", M, r"rc = get_posint\(o, \"threshold\", 1, &rk->threshold, what, err\);", "rc = get_posint(o, \"threshold\", 0, &rk->threshold, what, err);", ["root_threshold_zero"]),
 ("spec_version major 1", M, r"rc = check_spec_version\(spec, err\);", "rc = 0;", ["unsupported_spec_version"]),
 ("_type is the expected role", M, r"if \(strcmp\(type, what\) != 0\)", "if (0)", ["snapshot_wrong_type"]),
 ("timestamp lists snapshot.json", M, r"if \(rc == 0 && bw_tuf__md_meta\(md, \"snapshot.json\"\) == NULL\)", "if (0)", ["timestamp_without_snapshot"]),
 ("delegation paths matched", D, r"if \(path_matches\(r->paths\[i\], path\)\)\s*return 1;\s*return 0;", "(void)path_matches; return 1;", ["delegations", "delegation_glob_patterns"]),
 ("terminating role ends the search", L, r"if \(r->terminating\)\s*break;", ";", ["delegations"]),
 ("visited set (cycles)", L, r"if \(seen\(visited, nvisited, p.name\)\)\s*continue;", ";", ["delegation_cycle"]),
 ("delegated role listed in snapshot", U, r"mf = bw_tuf__md_meta\(u->snapshot, metaname\);\s*if \(mf == NULL\) \{", "mf = bw_tuf__md_meta(u->snapshot, metaname);\n\tif (0) {", ["delegated_role_not_in_snapshot"]),
 ("diamond: re-verify for this delegator", L, r"rc = bw_tuf__verify_sigs\(md, &p->delegator->deleg->keyring,\s*p->keys, p->name, err\);", "rc = 0;", []),
 ("target hashes checked", L, r"CRYPTO_memcmp\(d, v->t->hashes\[i\].digest,\s*v->t->hashes\[i\].len\) != 0\)", "0)", ["target_hash_mismatch"]),
 ("target length bound", L, r"if \(v->got != v->t->length\)", "if (0)", ["target_length_mismatch", "target_length_shorter"]),
 ("target path safety", L, r"if \(!bw_tuf_target_path_is_safe\(path, strlen\(path\)\)\)", "if (0)", ["bad_target_paths"]),
 ("strict JSON: duplicate keys", "src/lib/json/parse.c", r"JSON_REJECT_DUPLICATES \| JSON_DECODE_ANY", "JSON_DECODE_ANY", ["timestamp_duplicate_json_key"]),
 ("streamed targets: duplicate keys", "src/lib/json/stream.c", r"if \(c == 0\)\s*return fail\(ps, BW_EFORMAT, \"duplicate JSON object key\"\);", ";", []),
 ("streamed targets: entry length required", T, r"if \(!w->has_length\)", "if (0)", []),
]

def sh(cmd, cwd=WT, timeout=900):
    return subprocess.run(cmd, cwd=cwd, shell=True, capture_output=True, text=True, timeout=timeout)

env = dict(os.environ, BW_SOURCE_DIR=WT, BW_BINARY_DIR=WT + "/build", BW_VECTORS=WT + "/tests/vectors")
with open(OUT, "w") as log:
    log.write("| defence | mutation caught by |\n|---|---|\n")
    for name, f, pat, rep, scen in MUTS:
        p = os.path.join(WT, f)
        src = open(p).read()
        new, n = re.subn(pat, lambda m: rep, src, count=1)
        if n != 1:
            log.write("| %s | PATTERN NOT FOUND |\n" % name); log.flush(); continue
        open(p, "w").write(new)
        try:
            b = sh("make build > /tmp/mut-b.log 2>&1")
            if b.returncode != 0:
                log.write("| %s | BUILD FAILED |\n" % name); log.flush(); continue
            caught = []
            u = subprocess.run([WT + "/build/tests/test_updater"], cwd=WT, capture_output=True, text=True, timeout=300, env=env)
            for line in u.stdout.splitlines():
                m = re.match(r"\[  FAILED  \] (test_\w+)$", line.strip())
                if m and m.group(1) not in caught:
                    caught.append("unit:" + m.group(1))
            for sc in scen:
                r = subprocess.run(["python3", "tests/integration/test_tuf_scenarios.py", "GeneratedScenarios.test_" + sc], cwd=WT, capture_output=True, text=True, timeout=600, env=env)
                if r.returncode != 0:
                    caught.append("tuf_gen:" + sc.replace("_", "-"))
            if name.startswith("streamed") or name.startswith("strict"):
                fz = sh("./build/fuzz/fuzz_json_stream fuzz/corpus/json_stream")
                if fz.returncode != 0:
                    caught.append("fuzz_json_stream_replay")
            log.write("| %s | %s |\n" % (name, ", ".join(sorted(set(caught))) or "**NOT CAUGHT**")); log.flush()
        finally:
            open(p, "w").write(src)
    sh("make build > /tmp/mut-b.log 2>&1")
