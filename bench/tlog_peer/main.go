// The peer of bench_tlog: Go's golang.org/x/mod/sumdb/tlog (the Go
// checksum database's log) on the same workload, with its hashes kept in
// memory. Prints one line of figures for bench_tlog to show beside its own.
//
// Usage: tlog_peer ENTRIES PROOFS
package main

import (
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

func main() {
	n, _ := strconv.ParseInt(os.Args[1], 10, 64)
	proofs, _ := strconv.Atoi(os.Args[2])
	var stored []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		e := fmt.Sprintf(`{"action":"bench.append","by":"server","objects":{"n":%d},"time":1800000000,"v":1}`, i)
		hs, err := tlog.StoredHashes(i, []byte(e), r)
		if err != nil {
			panic(err)
		}
		stored = append(stored, hs...)
	}
	appends := float64(n) / time.Since(t0).Seconds()
	rng := rand.New(rand.NewSource(1))
	t0 = time.Now()
	for i := 0; i < proofs; i++ {
		if _, err := tlog.ProveRecord(n, rng.Int63n(n), r); err != nil {
			panic(err)
		}
	}
	inc := time.Since(t0).Seconds() / float64(proofs) * 1e6
	t0 = time.Now()
	for i := 0; i < proofs; i++ {
		if _, err := tlog.ProveTree(n, 1+rng.Int63n(n-1), r); err != nil {
			panic(err)
		}
	}
	con := time.Since(t0).Seconds() / float64(proofs) * 1e6
	fmt.Printf("%.0f %.1f %.1f\n", appends, inc, con)
}
