// tlogverify checks bulwark's transparency log with an implementation
// bulwark did not write: golang.org/x/mod/sumdb/note (signed notes) and
// golang.org/x/mod/sumdb/tlog (RFC 9162 tree hashing and proofs).
//
// Usage: tlogverify CASE.json
//
// CASE.json: {"vkeys": ["NAME+HASH+KEY", ...], "checkpoint": "<note>",
// "entries": ["<base64>", ...], "inclusion": [{"index", "size", "hashes"}],
// "consistency": [{"old", "size", "hashes"}], "signers": n}
// It prints OK and exits 0 when the note carries a valid signature by
// each key (at least "signers" of them), the entries hash to the
// checkpoint's root, and every proof verifies against roots computed here
// from the entries; otherwise it prints what failed and exits 1.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type proof struct {
	Index  int64    `json:"index"`
	Old    int64    `json:"old"`
	Size   int64    `json:"size"`
	Hashes []string `json:"hashes"`
}

type testCase struct {
	VKeys       []string `json:"vkeys"`
	Checkpoint  string   `json:"checkpoint"`
	Entries     []string `json:"entries"`
	Inclusion   []proof  `json:"inclusion"`
	Consistency []proof  `json:"consistency"`
	Signers     int      `json:"signers"`
}

func fail(format string, a ...interface{}) {
	fmt.Printf("FAIL: "+format+"\n", a...)
	os.Exit(1)
}

func hashes(in []string) []tlog.Hash {
	out := make([]tlog.Hash, len(in))
	for i, s := range in {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != tlog.HashSize {
			fail("proof hash %d: %q", i, s)
		}
		copy(out[i][:], b)
	}
	return out
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: tlogverify CASE.json")
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	var c testCase
	if err := json.Unmarshal(raw, &c); err != nil {
		fail("case: %v", err)
	}
	var vs []note.Verifier
	for _, k := range c.VKeys {
		v, err := note.NewVerifier(k)
		if err != nil {
			fail("verifier key %q: %v", k, err)
		}
		vs = append(vs, v)
	}
	n, err := note.Open([]byte(c.Checkpoint), note.VerifierList(vs...))
	if err != nil {
		fail("checkpoint: %v", err)
	}
	if len(n.Sigs) < c.Signers {
		fail("checkpoint: %d verified signatures, want %d", len(n.Sigs), c.Signers)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		fail("checkpoint body: %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("checkpoint size: %v", err)
	}
	root := hashes([]string{lines[2]})[0]
	if int64(len(c.Entries)) != size {
		fail("%d entries for a tree of %d", len(c.Entries), size)
	}

	// The tree, built here from the entries alone.
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	leaves := make([]tlog.Hash, size)
	for i, e := range c.Entries {
		data, err := base64.StdEncoding.DecodeString(e)
		if err != nil {
			fail("entry %d: %v", i, err)
		}
		leaves[i] = tlog.RecordHash(data)
		hs, err := tlog.StoredHashes(int64(i), data, reader)
		if err != nil {
			fail("entry %d: %v", i, err)
		}
		stored = append(stored, hs...)
	}
	th, err := tlog.TreeHash(size, reader)
	if err != nil {
		fail("tree hash: %v", err)
	}
	if th != root {
		fail("the entries hash to %v, the checkpoint says %v", th, root)
	}
	rootOf := func(t int64) tlog.Hash {
		h, err := tlog.TreeHash(t, reader)
		if err != nil {
			fail("tree hash %d: %v", t, err)
		}
		return h
	}
	for _, p := range c.Inclusion {
		if p.Size > size || p.Index >= p.Size {
			fail("inclusion proof (%d, %d) out of range", p.Index, p.Size)
		}
		if err := tlog.CheckRecord(hashes(p.Hashes), p.Size, rootOf(p.Size), p.Index, leaves[p.Index]); err != nil {
			fail("inclusion proof of entry %d in tree %d: %v", p.Index, p.Size, err)
		}
	}
	for _, p := range c.Consistency {
		if p.Size > size || p.Old > p.Size {
			fail("consistency proof (%d, %d) out of range", p.Old, p.Size)
		}
		if err := tlog.CheckTree(hashes(p.Hashes), p.Size, rootOf(p.Size), p.Old, rootOf(p.Old)); err != nil {
			fail("consistency proof %d -> %d: %v", p.Old, p.Size, err)
		}
	}
	fmt.Printf("OK %d entries, %d inclusion and %d consistency proofs, %d signatures\n",
		size, len(c.Inclusion), len(c.Consistency), len(n.Sigs))
}
