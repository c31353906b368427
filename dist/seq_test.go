package dist

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fanout/fanout/engine"
	"github.com/fanout/fanout/fetch"
)

// Submit refuses a source whose targets are not numbered 0, 1, 2, ... in
// its order, naming the first that is not: it trusted their Seq, and
// collect, which keeps one result per Seq, dropped all but one of the
// targets sharing one (fetch.Target{URL: u} has Seq 0) and reported
// success, or waited for ever for a Seq nobody had.
func TestSubmitRefusesBadSeq(t *testing.T) {
	t.Parallel()
	c := connect(t, startNATS(t))
	targets := func(seqs ...uint64) []fetch.Target {
		ts := make([]fetch.Target, len(seqs))
		for i, seq := range seqs {
			u := fmt.Sprintf("http://127.0.0.1:9/%d", i)
			ts[i] = fetch.Target{Seq: seq, Input: u, URL: u}
		}
		return ts
	}
	count := func(from, n uint64) []uint64 {
		var seqs []uint64
		for i := range n {
			seqs = append(seqs, from+i)
		}
		return seqs
	}
	for i, tc := range []struct {
		name  string
		seqs  []uint64
		badAt int // the target the error names; -1: no error
		says  string
	}{
		{"numbered from 0", count(0, 20), -1, ""},
		{"all 0", make([]uint64, 20), 1, "Seq 0, which target 0 had already"},
		{"numbered from 1", count(1, 20), 0, "Seq 1, skipping 0"},
		{"a gap", append(count(0, 10), count(11, 10)...), 10, "Seq 11, skipping 10"},
		// After the first batch (500 targets of the one host) is queued.
		{"a repeat after a batch", append(count(0, 600), 599), 600, "Seq 599, which target 599 had already"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := testRun(fmt.Sprintf("seq%d", i))
			_, err := Submit(context.Background(), c, rc, engine.SliceSource(targets(tc.seqs...)), nil)
			if tc.badAt < 0 {
				if err != nil {
					t.Fatalf("Submit: %v", err)
				}
				return
			}
			want := fmt.Sprintf("target %d (%q) has %s", tc.badAt, fmt.Sprintf("http://127.0.0.1:9/%d", tc.badAt), tc.says)
			if !errors.Is(err, ErrSeq) || !strings.Contains(err.Error(), want) {
				t.Fatalf("Submit: %v, want ErrSeq saying %q", err, want)
			}
		})
	}
}
