package dist

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/internal/simweb"
)

// A server restart loses the consumers' state, so a batch not yet
// acknowledged is delivered again with a delivery count of 1. A worker
// before the restart ran it in part and got its results stored but not
// the work message of the rest (the server died between the two). The
// worker after the restart runs it in part too, with other targets done:
// its results must not be dropped as a duplicate of the first worker's,
// or the targets only it fetched are lost.
func TestPartialBatchAgainAfterRestartKeepsResults(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	sim := startSim(t, simweb.Config{})
	c := connect(t, url)
	const n = 300
	urls := manyHosts(sim, n, 1, 10*time.Millisecond) // one host: one partition, one batch
	rc := testRun("partialagain")
	submit(t, c, rc, urls)

	ctx := context.Background()
	ts, p, m, targets := takeFirstBatch(t, c, rc, urls)
	// The first worker's results for its first 10 targets, under the id
	// of a first delivery run in part; the rest was never queued again.
	var out []byte
	for _, tg := range targets[:10] {
		out = appendResultLine(out, &fetch.Result{Seq: tg.Seq, Input: tg.Input, URL: tg.URL, Status: 299})
	}
	if _, err := c.JS.PublishMsg(ctx, &nats.Msg{Subject: resultSubject(rc.Name, 10), Data: out},
		jetstream.WithMsgID(m.Headers().Get(jetstream.MsgIDHeader)+".d1")); err != nil {
		t.Fatal(err)
	}
	// The restart: the consumer's state is gone.
	if err := ts.DeleteConsumer(ctx, consumerName(p)); err != nil {
		t.Fatal(err)
	}

	// The second worker runs the batch (delivered once again) in part.
	cfg := engineConfig(t, sim, 1, 1)
	second := newWorker(t, url, WorkerConfig{Engine: cfg, Run: rc.Name, ID: "second"})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := second.Run(ctx, stop); err != nil {
			t.Errorf("second: %v", err)
		}
	})
	deadline := time.Now().Add(time.Minute)
	for second.fetched.Load() < 40 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	third := newWorker(t, url, WorkerConfig{Engine: cfg, Run: rc.Name, ID: "third", ExitWhenDone: true})
	if err := third.Run(ctx, make(chan struct{})); err != nil {
		t.Fatal(err)
	}
	col := newCollector()
	if _, err := Collect(ctx, c, rc.Name, CollectOptions{}, col.emit, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	col.check(t, n, urls)
}

// TestBackKey: the ids of a batch run in part name the targets that went
// back, so two partial runs share ids (and the second's results are
// dropped as duplicates) only when they left the same targets, in any
// order; any other set, a subset included, gets ids of its own.
func TestBackKey(t *testing.T) {
	t.Parallel()
	key := func(seqs ...uint64) string { return (&batch{back: seqs}).backKey() }
	if a, b := key(10, 11, 12), key(12, 10, 11); a != b {
		t.Errorf("the same targets in another order: %q and %q, want one key", a, b)
	}
	seen := map[string][]uint64{}
	for _, set := range [][]uint64{{10, 11, 12}, {10, 11}, {11, 12}, {10, 11, 13}, {1}, {2}, {0}, {}} {
		k := key(set...)
		if other, dup := seen[k]; dup {
			t.Errorf("%v and %v share the key %q", set, other, k)
		}
		seen[k] = set
	}
}
