package dist

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fanout/fanout/engine"
	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/internal/simweb"
)

type cut struct {
	p           int
	first, last uint64
	n           int
	data        string
}

// cuts runs targets over hosts through a batcher and returns its batches.
func cuts(t *testing.T, n, hosts, size, partitions int) []cut {
	t.Helper()
	var got []cut
	bt := newBatcher(size, partitions, func(p int, b *pending) error {
		got = append(got, cut{p, b.first, b.last, b.n, string(b.data)})
		return nil
	})
	for i := range n {
		h := fmt.Sprintf("h%d.example:443", (i*7919)%hosts)
		tg := fetch.Target{Seq: uint64(i), Input: h, URL: "https://" + h + "/", HostKey: h}
		var rec []byte
		bt.record = func(seq uint64, r []byte) {
			if seq != tg.Seq || rec != nil {
				t.Fatalf("record(%d) while adding target %d (a second call: %v)", seq, tg.Seq, rec != nil)
			}
			rec = r
		}
		if err := bt.add(Partition(h, partitions), &tg); err != nil {
			t.Fatal(err)
		}
		if want := appendTarget(nil, &tg); string(rec) != string(want) {
			t.Fatalf("record got %q, want %q", rec, want)
		}
	}
	if err := bt.flushAll(); err != nil {
		t.Fatal(err)
	}
	return got
}

// Batches are a function of the input alone: the same input gives the same
// batches; each holds at most size targets of one partition, each target is
// in exactly one, and a partition's batch never waits past the age limit.
func TestBatchBoundariesDeterministic(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, hosts, size, partitions int }{
		{5000, 64, 100, 64},
		{5000, 3, 100, 16},   // few hosts: full batches
		{20000, 500, 50, 64}, // rare hosts: the age limit cuts
		{10, 10, 100, 4},     // everything at the end
	} {
		t.Run(fmt.Sprint(tc), func(t *testing.T) {
			a := cuts(t, tc.n, tc.hosts, tc.size, tc.partitions)
			if b := cuts(t, tc.n, tc.hosts, tc.size, tc.partitions); !reflect.DeepEqual(a, b) {
				t.Fatal("the same input gave different batches")
			}
			seen := make([]int, tc.n)
			maxAge := uint64(4 * tc.size * tc.partitions)
			for _, c := range a {
				ts, err := parseTargets([]byte(c.data))
				if err != nil {
					t.Fatal(err)
				}
				if len(ts) != c.n || c.n > tc.size || c.n == 0 {
					t.Fatalf("batch of %d targets (n %d), size %d", len(ts), c.n, tc.size)
				}
				for _, tg := range ts {
					seen[tg.Seq]++
					if p := Partition(tg.HostKey, tc.partitions); p != c.p {
						t.Fatalf("target %d of partition %d in a batch of %d", tg.Seq, p, c.p)
					}
				}
				if c.last-c.first > maxAge+uint64(tc.size) {
					t.Errorf("batch %d..%d waited longer than %d positions", c.first, c.last, maxAge)
				}
			}
			for seq, k := range seen {
				if k != 1 {
					t.Fatalf("target %d in %d batches", seq, k)
				}
			}
		})
	}
}

// failingSource fails after n targets, as a submit that crashed.
type failingSource struct {
	src engine.Source
	n   int
}

func (f *failingSource) Next() (fetch.Target, error) {
	if f.n == 0 {
		return fetch.Target{}, errors.New("crash")
	}
	f.n--
	return f.src.Next()
}

// streamTargets reads every target message of run and counts each seq.
func streamTargets(t *testing.T, c *Conn, run string) (map[uint64]int, int) {
	t.Helper()
	ctx := context.Background()
	// A work-queue stream takes only explicitly acknowledging consumers;
	// this one acknowledges nothing, and is deleted after.
	ts, err := c.JS.Stream(ctx, targetStream(run))
	if err != nil {
		t.Fatal(err)
	}
	cons, err := ts.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "reader",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.DeleteConsumer(ctx, "reader")
	count := map[uint64]int{}
	msgs := 0
	for {
		m, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		if errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages) {
			return count, msgs
		}
		if err != nil {
			t.Fatal(err)
		}
		msgs++
		data, err := body(m)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := parseTargets(data)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := subjectCount(m.Subject()), uint64(len(ts)); got != want {
			t.Errorf("subject %s for %d targets", m.Subject(), want)
		}
		for _, tg := range ts {
			count[tg.Seq]++
		}
		if md, _ := m.Metadata(); md != nil && md.NumPending == 0 {
			return count, msgs
		}
	}
}

// A submit that dies part-way and is run again queues each target once:
// the second skips the batches before the checkpoint, and the stream drops
// those it publishes again.
func TestResubmitAfterPartialSubmit(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	c := connect(t, url)
	const n = 5000
	urls := make([]string, n)
	for i := range urls {
		urls[i] = fmt.Sprintf("http://h%d.example/%d", i%40, i)
	}
	rc := testRun("resubmit")
	rc.Batch = 10 // batches fill well before the crash, so some are skipped
	_, err := Submit(context.Background(), c, rc, &failingSource{inputOf(urls), 3500}, nil)
	if err == nil {
		t.Fatal("Submit of a failing source: no error")
	}
	meta, _, err := LoadMeta(context.Background(), c.JS, rc.Name)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Complete || meta.Submitted == 0 || meta.Submitted > 3500 {
		t.Fatalf("after the crash: checkpoint %d complete %v, want 1..3500 and incomplete", meta.Submitted, meta.Complete)
	}
	st := submit(t, c, rc, urls)
	if !st.Resumed || st.Skipped == 0 || st.Skipped+st.Published != n || st.Meta.Submitted != n || !st.Meta.Complete {
		t.Fatalf("re-submit: %+v, want resumed, some skipped, %d in all, complete", st, n)
	}
	count, msgs := streamTargets(t, c, rc.Name)
	for i := range n {
		if count[uint64(i)] != 1 {
			t.Fatalf("target %d queued %d times (%d messages)", i, count[uint64(i)], msgs)
		}
	}
	if len(count) != n {
		t.Fatalf("%d targets queued, want %d", len(count), n)
	}
	status, err := RunStatus(context.Background(), c, rc.Name)
	if err != nil {
		t.Fatal(err)
	}
	if status.Pending != n {
		t.Errorf("status: %d pending, want %d", status.Pending, n)
	}
	t.Logf("checkpoint %d, %d skipped, %d published again, %d messages", meta.Submitted, st.Skipped, st.Published, msgs)
}

// A worker that published a batch's results and died before its ack: the
// batch is delivered again, and its second results message is dropped by
// the results stream (same id), so status counts each target once and
// collect sees no duplicate.
func TestRedeliveredBatchNoDuplicateResults(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	sim := startSim(t, simweb.Config{})
	c := connect(t, url)
	const n = 300
	urls := manyHosts(sim, n, 1, time.Millisecond) // one host: one partition
	rc := testRun("redeliver")
	rc.AckWait = time.Second
	submit(t, c, rc, urls)

	// The dead worker: take the first batch and publish its results, with
	// a status that marks them, without acknowledging the batch.
	ctx := context.Background()
	_, _, m, targets := takeFirstBatch(t, c, rc, urls)
	var out []byte
	for _, tg := range targets {
		out = appendResultLine(out, &fetch.Result{Seq: tg.Seq, Input: tg.Input, URL: tg.URL, Status: 299})
	}
	if _, err := c.JS.PublishMsg(ctx, &nats.Msg{Subject: resultSubject(rc.Name, len(targets)), Data: out},
		jetstream.WithMsgID(m.Headers().Get(jetstream.MsgIDHeader))); err != nil {
		t.Fatal(err)
	}

	w := newWorker(t, url, WorkerConfig{Engine: engineConfig(t, sim, 8, 2), Run: rc.Name, ID: "survivor", ExitWhenDone: true})
	if err := w.Run(ctx, make(chan struct{})); err != nil {
		t.Fatal(err)
	}
	if w.redelivered.Load() < int64(len(targets)) {
		t.Errorf("worker saw %d redelivered targets, want at least %d", w.redelivered.Load(), len(targets))
	}
	if w.fetched.Load() != w.done.Load() || w.done.Load() == 0 {
		t.Errorf("worker fetched %d and stored %d results, want the same, not 0", w.fetched.Load(), w.done.Load())
	}
	st, err := RunStatus(ctx, c, rc.Name)
	if err != nil {
		t.Fatal(err)
	}
	if st.Done != n || st.Pending != 0 {
		t.Errorf("status: done %d pending %d, want %d and 0", st.Done, st.Pending, n)
	}
	// A heartbeat sent before the last results came in: what it held then
	// is done now, and in flight cannot exceed pending.
	kv, err := c.JS.KeyValue(ctx, leaseBucket(rc.Name))
	if err != nil {
		t.Fatal(err)
	}
	stale, _ := json.Marshal(workerStat{ID: "stale", Holding: 450, HoldingRedelivered: 20, At: time.Now().Add(-5 * time.Second)})
	if _, err := kv.Put(ctx, "w.stale", stale); err != nil {
		t.Fatal(err)
	}
	if st, err = RunStatus(ctx, c, rc.Name); err != nil {
		t.Fatal(err)
	}
	if st.InFlight != 0 || st.Redelivered != 0 || len(st.Workers) != 1 {
		t.Errorf("status after a stale heartbeat: %d in flight, %d redelivered held, %d workers; want 0, 0 and 1",
			st.InFlight, st.Redelivered, len(st.Workers))
	}
	var sb strings.Builder
	st.Write(&sb)
	if !strings.Contains(sb.String(), "pending      0 (0 held by workers)") || !strings.Contains(sb.String(), "reported 5s ago") {
		t.Errorf("status printed:\n%s", sb.String())
	}
	if err := kv.Delete(ctx, "w.stale"); err != nil {
		t.Fatal(err)
	}
	col := newCollector()
	cst, err := Collect(ctx, c, rc.Name, CollectOptions{}, col.emit, func() error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	col.check(t, n, urls)
	if cst.Duplicates != 0 {
		t.Errorf("collect skipped %d duplicates, want the stream to have dropped them", cst.Duplicates)
	}
	for _, tg := range targets {
		if got := col.results[tg.Seq].Status; got != 299 {
			t.Fatalf("target %d: status %d, want the first result's 299", tg.Seq, got)
		}
	}
}

// A worker stopped gracefully mid-run hands back what it has not started,
// partly run batches included; another worker finishes. No canceled
// result reaches the output and each target is written once.
func TestGracefulStopHandsBackPartialBatches(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	sim := startSim(t, simweb.Config{})
	const n = 2000
	urls := manyHosts(sim, n, 20, 20*time.Millisecond)
	rc := testRun("handback")
	submit(t, connect(t, url), rc, urls)
	cfg := engineConfig(t, sim, 8, 1)

	var firstLog syncBuffer
	first := newWorker(t, url, WorkerConfig{Engine: cfg, Run: rc.Name, ID: "first", Log: &firstLog})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := first.Run(context.Background(), stop); err != nil {
			t.Errorf("first: %v", err)
		}
	})
	for first.Done() < 100 {
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("first worker stopped after %d results", first.Done())
	// The run is far from done: its log must not say there is no work
	// left, as it did on every stop.
	if log := firstLog.String(); strings.Contains(log, "no work left") || !strings.Contains(log, "run handback: stopped") {
		t.Errorf("first worker's log after a stop mid-run, want it to say it stopped, not that no work is left:\n%s", log)
	}
	if first.holding.Load() != 0 {
		t.Errorf("first worker still holds %d targets after stopping", first.holding.Load())
	}

	second := newWorker(t, url, WorkerConfig{Engine: cfg, Run: rc.Name, ID: "second", ExitWhenDone: true})
	if err := second.Run(context.Background(), make(chan struct{})); err != nil {
		t.Fatal(err)
	}
	col := newCollector()
	if _, err := Collect(context.Background(), connect(t, url), rc.Name, CollectOptions{Follow: true},
		col.emit, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	col.check(t, n, urls)
	for seq, r := range col.results {
		if r.Error != nil || r.Status != 200 {
			t.Fatalf("seq %d: status %d error %v, want 200", seq, r.Status, r.Error)
		}
	}
	if got := first.Done() + second.Done(); got != n {
		t.Errorf("workers stored %d results, want %d", got, n)
	}
}

// takeFirstBatch plays a worker that is about to die: it takes the first
// batch of the partition of urls' first target through that partition's
// consumer, as a worker would, and does not acknowledge it. It returns the
// run's target stream, the partition, the batch's message and its targets.
func takeFirstBatch(t *testing.T, c *Conn, rc RunConfig, urls []string) (jetstream.Stream, int, jetstream.Msg, []fetch.Target) {
	t.Helper()
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
	return ts, p, m, targets
}

// firstTarget is the target the first of urls becomes.
func firstTarget(t *testing.T, urls []string) fetch.Target {
	t.Helper()
	tg, err := inputOf(urls[:1]).Next()
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// The server restarts mid-run (its consumers' state is in memory and is
// lost): the workers reconnect, their partitions' consumers are created
// again, and the run still ends with each target collected once.
func TestServerRestartMidRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, err := StartServer(ServerConfig{Host: "127.0.0.1", Port: -1, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	url := srv.ClientURL()
	port := srv.Addr().(*net.TCPAddr).Port
	sim := startSim(t, simweb.Config{})
	const n = 3000
	urls := manyHosts(sim, n, 50, 5*time.Millisecond)
	rc := testRun("restart")
	submit(t, connect(t, url), rc, urls)

	w := newWorker(t, url, WorkerConfig{Engine: engineConfig(t, sim, 8, 2), Run: rc.Name, ID: "w", ExitWhenDone: true})
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background(), make(chan struct{})) }()
	for w.Done() < 300 {
		time.Sleep(5 * time.Millisecond)
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	t.Logf("server stopped after %d results", w.Done())
	if srv, err = StartServer(ServerConfig{Host: "127.0.0.1", Port: port, StoreDir: dir}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })

	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the worker did not finish the run after the restart")
	}
	col := newCollector()
	if _, err := Collect(context.Background(), connect(t, url), rc.Name, CollectOptions{Follow: true},
		col.emit, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	col.check(t, n, urls)
}

// A run submitted by a fanout from before batches is refused everywhere
// with a message that says what to do, and listed still (to be deleted).
func TestOldLayoutRunRefused(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	c := connect(t, url)
	ctx := context.Background()
	kv, err := runsKV(ctx, c.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	old := `{"Name":"old","Partitions":16,"Replicas":1,"LeaseTTL":2000000000,"AckWait":3000000000,` +
		`"DupWindow":600000000000,"created":"2026-11-01T00:00:00Z","submitted":10,"complete":true}`
	if _, err := kv.Create(ctx, "old", []byte(old)); err != nil {
		t.Fatal(err)
	}
	_, err = Submit(ctx, c, testRun("old"), inputOf([]string{"http://a.example/"}), nil)
	if !errors.Is(err, ErrOldLayout) {
		t.Errorf("Submit: %v, want ErrOldLayout", err)
	}
	_, err = Collect(ctx, c, "old", CollectOptions{}, func(*fetch.Result) error { return nil }, func() error { return nil })
	if !errors.Is(err, ErrOldLayout) {
		t.Errorf("Collect: %v, want ErrOldLayout", err)
	}
	if _, err := RunStatus(ctx, c, "old"); !errors.Is(err, ErrOldLayout) {
		t.Errorf("RunStatus: %v, want ErrOldLayout", err)
	}
	w, err := NewWorker(c, WorkerConfig{Engine: engine.DefaultConfig(), Run: "old", ExitWhenDone: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Run(ctx, make(chan struct{})); !errors.Is(err, ErrOldLayout) {
		t.Errorf("worker: %v, want ErrOldLayout", err)
	}
	if metas, err := Runs(ctx, c.JS); err != nil || len(metas) != 1 {
		t.Errorf("Runs: %d runs, %v; want the old one listed", len(metas), err)
	}
}

// Once a run is submitted in full, workers lease only partitions with
// targets queued: a run over three hosts costs three consumers and leases,
// not one per partition.
func TestWorkersLeaseOnlyBusyPartitions(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	sim := startSim(t, simweb.Config{})
	c := connect(t, url)
	const n = 600
	urls := manyHosts(sim, n, 3, 5*time.Millisecond)
	rc := testRun("busy")
	submit(t, c, rc, urls)
	want := map[int]bool{}
	for _, u := range urls[:3] {
		want[Partition(firstTarget(t, []string{u}).HostKey, rc.Partitions)] = true
	}
	w := newWorker(t, url, WorkerConfig{Engine: engineConfig(t, sim, 8, 1), Run: rc.Name, ID: "w", ExitWhenDone: true})
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background(), make(chan struct{})) }()
	for w.Done() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	st, err := RunStatus(context.Background(), c, rc.Name)
	if err != nil {
		t.Fatal(err)
	}
	for p := range st.Leases {
		if !want[p] {
			t.Errorf("partition %d leased, but only %v have targets", p, want)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestStatusCountsFetchedResults: results are stored a batch at a time, so
// during a slow batch status showed done 0 and a rate of 0/s; the workers'
// heartbeats now carry what they fetched, which status shows beside done.
func TestStatusCountsFetchedResults(t *testing.T) {
	t.Parallel()
	c := connect(t, startNATS(t))
	ctx := context.Background()
	rc := testRun("fetched")
	var input []string
	for i := range 100 {
		input = append(input, fmt.Sprintf("http://h%d.example/%d", i%8, i))
	}
	submit(t, c, rc, input)
	kv, err := c.JS.KeyValue(ctx, leaseBucket(rc.Name))
	if err != nil {
		t.Fatal(err)
	}
	beat, _ := json.Marshal(workerStat{ID: "w1", Holding: 40, Fetched: 30, Rate: 12, At: time.Now()})
	if _, err := kv.Put(ctx, "w.w1", beat); err != nil {
		t.Fatal(err)
	}
	st, err := RunStatus(ctx, c, rc.Name)
	if err != nil {
		t.Fatal(err)
	}
	if st.Done != 0 || st.InFlight != 40 || st.Unstored != 30 || len(st.Workers) != 1 || st.Workers[0].Fetched != 30 {
		t.Fatalf("status: done %d, in flight %d, unstored %d, workers %+v; want 0, 40, 30 and w1 with 30 fetched",
			st.Done, st.InFlight, st.Unstored, st.Workers)
	}
	var sb strings.Builder
	st.Write(&sb)
	for _, want := range []string{"done         0 (and 30 fetched, stored when their batches complete)",
		"pending      100 (40 held by workers)", "12.0/s  fetched 30 "} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, sb.String())
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a worker's log written from its
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Two workers given the same --id share one heartbeat key: one of them
// must say so, while a worker alone never does (its own heartbeats are
// its own).
func TestSameWorkerIDWarns(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	sim := startSim(t, simweb.Config{})
	// 80 targets a second at most (20 hosts, one request each, four at a
	// time, 50 ms each): plenty is left when b starts, whatever the load,
	// so a is still there to be seen. (At 20 ms, a loaded machine once
	// let a finish while b was starting, and neither warned.)
	const n = 600
	urls := manyHosts(sim, n, 20, 50*time.Millisecond)
	rc := testRun("twins")
	submit(t, connect(t, url), rc, urls)
	cfg := engineConfig(t, sim, 4, 1)
	const warning = "another worker is running with --id twin"

	var logA, logB syncBuffer
	a := newWorker(t, url, WorkerConfig{Engine: cfg, Run: rc.Name, ID: "twin", ExitWhenDone: true, Log: &logA})
	b := newWorker(t, url, WorkerConfig{Engine: cfg, Run: rc.Name, ID: "twin", ExitWhenDone: true, Log: &logB})
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := a.Run(context.Background(), make(chan struct{})); err != nil {
			t.Errorf("a: %v", err)
		}
	})
	// Alone past its first heartbeats (every LeaseTTL/4), a must not warn.
	start := time.Now()
	for a.Done() < 100 || time.Since(start) < rc.LeaseTTL {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("worker a stored %d results in 10s", a.Done())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if strings.Contains(logA.String(), warning) {
		t.Fatalf("a worker alone warned of another with its id:\n%s", logA.String())
	}
	wg.Go(func() {
		if err := b.Run(context.Background(), make(chan struct{})); err != nil {
			t.Errorf("b: %v", err)
		}
	})
	wg.Wait()
	if !strings.Contains(logA.String()+logB.String(), warning) {
		t.Errorf("two workers with --id twin, neither warned:\n%s\n%s", logA.String(), logB.String())
	}
	if got := a.Done() + b.Done(); got != n {
		t.Errorf("workers stored %d results, want %d", got, n)
	}
}

// Two workers given the same --id are two workers all the same: status
// lists both, and the one that leaves takes only its own heartbeat with
// it. (They shared one heartbeat key, so status showed one worker, and
// the first to stop deleted the other's heartbeat too: status showed the
// one still fetching as gone until its next beat, a quarter of the TTL.)
func TestSameWorkerIDBeatsApart(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	sim := startSim(t, simweb.Config{})
	rc := testRun("twinbeats")
	// A heartbeat every 15 s: what status shows below is the heartbeats
	// put when the workers started, none renewed.
	rc.LeaseTTL, rc.AckWait = time.Minute, time.Minute
	c := connect(t, url)
	submit(t, c, rc, manyHosts(sim, 200, 20, 200*time.Millisecond))
	// One partition each, so that neither takes the other's when it
	// leaves, which would make the survivor say so in a new heartbeat.
	cfg := WorkerConfig{Engine: engineConfig(t, sim, 1, 1), Run: rc.Name, ID: "twin", MaxPartitions: 1}
	a, b := newWorker(t, url, cfg), newWorker(t, url, cfg)
	stopA, stopB := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	doneA := make(chan struct{})
	for _, w := range []struct {
		w    *Worker
		stop chan struct{}
		done chan struct{}
	}{{a, stopA, doneA}, {b, stopB, nil}} {
		wg.Go(func() {
			if w.done != nil {
				defer close(w.done)
			}
			if err := w.w.Run(context.Background(), w.stop); err != nil {
				t.Errorf("worker: %v", err)
			}
		})
	}
	defer func() {
		close(stopB)
		wg.Wait()
	}()
	ctx := context.Background()
	var st Status
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		var err error
		if st, err = RunStatus(ctx, c, rc.Name); err != nil {
			t.Fatal(err)
		}
		if len(st.Leases) == 2 {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("the two workers hold %d partitions after 20s, want 2", len(st.Leases))
		}
	}
	if len(st.Workers) != 2 {
		t.Errorf("two workers with --id twin serving: status shows %d workers (%+v), want 2", len(st.Workers), st.Workers)
	}
	close(stopA)
	<-doneA
	st, err := RunStatus(ctx, c, rc.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Workers) != 1 || st.Workers[0].ID != "twin" || len(st.Workers[0].Partitions) != 1 {
		t.Errorf("one of two twins left: status shows workers %+v, want twin with its partition", st.Workers)
	}
}
