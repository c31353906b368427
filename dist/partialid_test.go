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
	p := Partition(firstTarget(t, urls).HostKey, rc.Partitions)
	ts, err := c.JS.Stream(ctx, targetStream(rc.Name))
	if err != nil {
		t.Fatal(err)
	}
	cons, err := ts.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: consumerName(p),
		FilterSubject: partitionFilter(rc.Name, p), AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: rc.AckWait, MaxDeliver: -1, MemoryStorage: true})
	if err != nil {
		t.Fatal(err)
	}
	m, err := cons.Next()
	if err != nil {
		t.Fatal(err)
	}
	data, err := body(m)
	if err != nil {
		t.Fatal(err)
	}
	targets, err := parseTargets(data)
	if err != nil {
		t.Fatal(err)
	}
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
