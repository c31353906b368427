package dist

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fanout/fanout/fetch"
)

// --batch 10000 against a server whose max_payload a batch's work message
// exceeds: Submit splits the batch into messages that fit, where it failed
// with "maximum payload exceeded" and left the run stuck (its batch size
// is fixed when it is created). The run then completes.
func TestSubmitSplitsBatchOverMaxPayload(t *testing.T) {
	t.Parallel()
	const limit = 16 << 10
	url := startNATSMaxPayload(t, limit)
	c := connect(t, url)
	site := startCountingSite(t, 8)
	const n = 1500
	// Paths that barely compress: ~100 KB of records in one batch.
	urls := make([]string, n)
	for i := range urls {
		h := sha256.Sum256(fmt.Appendf(nil, "%d", i))
		urls[i] = fmt.Sprintf("%s/p/%x/%d", site.URL, h[:16], i)
	}
	rc := testRun("bigbatch")
	rc.Partitions, rc.Batch = 1, 10_000
	st := submit(t, c, rc, urls)
	if st.Published != n || st.Meta.Batch != 10_000 || !st.Meta.Complete {
		t.Fatalf("submit: published %d, batch %d, complete %v; want %d, 10000, true",
			st.Published, st.Meta.Batch, st.Meta.Complete, n)
	}
	// Every message fits, and together they hold each target once.
	ts, err := c.JS.Stream(context.Background(), targetStream(rc.Name))
	if err != nil {
		t.Fatal(err)
	}
	info, err := ts.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("one batch of %d targets queued in %d messages of at most %d bytes", n, info.State.Msgs, limit)
	if info.State.Msgs < 2 {
		t.Fatalf("%d work messages: the batch was not split", info.State.Msgs)
	}
	seen := map[uint64]int{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := ts.GetMsg(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		if size := len(m.Data) + len(m.Header.Get(jetstream.MsgIDHeader)) + msgOverhead; size > limit {
			t.Errorf("work message %d: %d bytes with its headers, over %d", seq, size, limit)
		}
		data, err := decodeBody(m.Header, m.Data)
		if err != nil {
			t.Fatal(err)
		}
		tgs, err := parseTargets(data)
		if err != nil {
			t.Fatal(err)
		}
		if subjectCount(m.Subject) != uint64(len(tgs)) {
			t.Errorf("work message %d: subject %s for %d targets", seq, m.Subject, len(tgs))
		}
		if want := fmt.Sprintf("%s.s%d", batchID(rc.Name, 0, tgs[0].Seq), len(tgs)); m.Header.Get(jetstream.MsgIDHeader) != want {
			t.Errorf("work message %d: id %q, want %q", seq, m.Header.Get(jetstream.MsgIDHeader), want)
		}
		for _, tg := range tgs {
			seen[tg.Seq]++
		}
	}
	for i := range uint64(n) {
		if seen[i] != 1 {
			t.Fatalf("target %d queued %d times", i, seen[i])
		}
	}
	serveToEnd(t, url, site, rc.Name, urls, 60*time.Second)
}

// A batch too large for a message splits at a record boundary into two
// pieces that hold its records, in order, and know their first and last.
func TestPendingHalves(t *testing.T) {
	t.Parallel()
	for _, n := range []int{2, 3, 7, 10} {
		var b pending
		for i := range n {
			seq := uint64(100 + 3*i)
			u := fmt.Sprintf("http://127.0.0.1/%d", i)
			b.data = appendTarget(b.data, &fetch.Target{Seq: seq, Input: u, URL: u, HostKey: "127.0.0.1"})
			if i == 0 {
				b.first = seq
			}
			b.n, b.last = i+1, seq
		}
		lo, hi := b.halves()
		if !bytes.Equal(append(slices.Clip(lo.data), hi.data...), b.data) || lo.n+hi.n != n || lo.n != n/2 {
			t.Fatalf("n=%d: halves of %d and %d records do not make the batch", n, lo.n, hi.n)
		}
		for _, h := range []pending{lo, hi} {
			ts, err := parseTargets(h.data)
			if err != nil || len(ts) != h.n || ts[0].Seq != h.first || ts[len(ts)-1].Seq != h.last || !h.piece {
				t.Fatalf("n=%d: piece %+v: %d targets (%v), first %d last %d", n, h, len(ts), err, ts[0].Seq, ts[len(ts)-1].Seq)
			}
		}
	}
}
