package dist

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fanout/fanout/internal/simweb"
)

// Two workers share a run; one dies mid-run (its connection drops without
// an ack or a lease release, as in a SIGKILL). The collector, running
// meanwhile, still writes each target exactly once, with a real result.
func TestWorkerDiesMidRun(t *testing.T) {
	url := startNATS(t)
	sim := startSim(t, simweb.Config{})
	const n = 3000
	urls := manyHosts(sim, n, 200, 2*time.Millisecond)
	rc := testRun("kill")
	st := submit(t, connect(t, url), rc, urls)
	if st.Meta.Submitted != n || !st.Meta.Complete || st.Published != n {
		t.Fatalf("submit: %+v, want %d published and complete", st, n)
	}

	cfg := engineConfig(t, sim, 16, 2)
	var wg sync.WaitGroup
	start := func(id string, ctx context.Context, stop chan struct{}) (*Conn, *Worker) {
		c := connect(t, url)
		w, err := NewWorker(c, WorkerConfig{Engine: cfg, Run: rc.Name, ID: id, ExitWhenDone: true, Log: testLog(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Close)
		wg.Go(func() {
			// The victim's connection is closed before its context is
			// cancelled: Run may return for either.
			if err := w.Run(ctx, stop); err != nil && ctx.Err() == nil && !errors.Is(err, nats.ErrConnectionClosed) {
				t.Errorf("worker %s: %v", id, err)
			}
		})
		return c, w
	}
	killCtx, kill := context.WithCancel(context.Background())
	defer kill()
	victimConn, victim := start("victim", killCtx, make(chan struct{}))
	start("survivor", context.Background(), make(chan struct{}))

	col := newCollector()
	colDone := make(chan error, 1)
	go func() {
		_, err := Collect(context.Background(), connect(t, url), rc.Name, CollectOptions{Follow: true}, col.emit, func() error { return nil })
		colDone <- err
	}()

	t0 := time.Now()
	// Kill the victim once it has done some of the work.
	deadline := time.Now().Add(30 * time.Second)
	for victim.Done() < 200 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	victimConn.NC.Close() // no more acks, naks or lease renewals
	kill()
	t.Logf("victim killed after %d results at %v", victim.Done(), time.Since(t0))

	select {
	case err := <-colDone:
		if err != nil {
			t.Fatalf("Collect: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("collect --follow did not finish")
	}
	t.Logf("collected at %v", time.Since(t0))
	wg.Wait()
	t.Logf("workers ended at %v", time.Since(t0))
	col.check(t, n, urls)
	for seq, r := range col.results {
		if r.Error != nil || r.Status != 200 {
			t.Fatalf("seq %d: status %d error %v, want 200", seq, r.Status, r.Error)
		}
	}
}

// TestSecondWorkerGetsItsShare: a worker that joins a run just after
// another took every partition gets about half of them within seconds,
// although heartbeats come only every LeaseTTL/4 (7.5 s here): its first
// heartbeat makes the other give back what it holds above the fair share
// at once, and each freed lease is claimed as soon as it is deleted. (Two
// worker processes started together are this case: the first to register
// finds itself alone.) Before, one partition came back per heartbeat, each
// after up to LeaseTTL/2, and was claimed at the next heartbeat: in 40 s
// the second worker got at most 2 or 3.
func TestSecondWorkerGetsItsShare(t *testing.T) {
	url := startNATS(t)
	sim := startSim(t, simweb.Config{})
	// ~12 s of work for one worker; the test fails if the run ends first.
	// The giving worker's engine has queued every target of the partitions
	// it gives back: it drops them at once (DropQueued), or the hand-over
	// would take about half the run, those targets waiting for slots
	// behind the live ones only to come back canceled.
	urls := manyHosts(sim, 4000, 64, 50*time.Millisecond)
	rc := testRun("share")
	rc.LeaseTTL, rc.AckWait = 30*time.Second, time.Minute // in-progress signals come every LeaseTTL/4
	c := connect(t, url)
	submit(t, c, rc, urls)

	cfg := engineConfig(t, sim, 16, 2)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	start := func(id string) {
		w := newWorker(t, url, WorkerConfig{Engine: cfg, Run: rc.Name, ID: id, ExitWhenDone: true})
		wg.Go(func() {
			if err := w.Run(context.Background(), stop); err != nil {
				t.Errorf("worker %s: %v", id, err)
			}
		})
	}
	leases := func(ok func(held map[string]int) bool) map[string]int {
		return leasesWhen(t, c, rc.Name, 40*time.Second, 0, ok)
	}
	// Hosts hash to partitions, so some of the 16 may have no targets;
	// the fair share is of the others.
	start("a")
	if held := leases(func(h map[string]int) bool { return h["a"] >= 12 }); held["a"] < 12 {
		t.Fatalf("worker a alone holds %v, want (nearly) all 16 partitions", held)
	}
	// Its heartbeat lists them at once, not a heartbeat (7.5 s) later.
	var listed []int
	for deadline := time.Now().Add(2 * time.Second); len(listed) < 12 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		st, err := RunStatus(context.Background(), c, rc.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range st.Workers {
			if w.ID == "a" {
				listed = w.Partitions
			}
		}
	}
	if len(listed) < 12 {
		t.Errorf("2 s after worker a took its leases, its heartbeat lists partitions %v", listed)
	}
	start("b")
	t0 := time.Now()
	held := leases(func(h map[string]int) bool { return h["a"] >= 5 && h["b"] >= 5 })
	if held["a"] < 5 || held["b"] < 5 {
		t.Fatalf("40 s after worker b joined: leases %v, want at least 5 of 16 each", held)
	}
	t.Logf("leases %v %v after b joined", held, time.Since(t0).Round(time.Millisecond))
}

// TestHeartbeatCountsItsRun: a worker's heartbeat sits in one run's lease
// bucket, and its figures are that run's: a worker that finished another
// run before must not show that run's results in this one's status (it
// showed "done 1708" beside a run of 1,000 with none stored).
func TestHeartbeatCountsItsRun(t *testing.T) {
	url := startNATS(t)
	sim := startSim(t, simweb.Config{})
	c := connect(t, url)
	first, second := testRun("beat-a"), testRun("beat-b")
	submit(t, c, first, manyHosts(sim, 40, 4, 0))
	w := newWorker(t, url, WorkerConfig{Engine: engineConfig(t, sim, 8, 2), ID: "w"})
	stop := make(chan struct{})
	ended := make(chan error, 1)
	go func() { ended <- w.Run(context.Background(), stop) }()
	defer func() {
		close(stop)
		if err := <-ended; err != nil {
			t.Errorf("worker: %v", err)
		}
	}()
	status := func(run string) Status {
		st, err := RunStatus(context.Background(), c, run)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	for deadline := time.Now().Add(30 * time.Second); status(first.Name).Pending > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first run did not finish")
		}
	}
	// The second run's targets take 2 s each: none is stored while the
	// worker's first heartbeat in it is read.
	submit(t, c, second, manyHosts(sim, 16, 4, 2*time.Second))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st := status(second.Name)
		if len(st.Workers) == 1 {
			if hb := st.Workers[0]; hb.Done > int64(st.Done) || hb.Redelivered != 0 {
				t.Fatalf("heartbeat in the second run: done %d, redelivered %d; the run has %d results stored",
					hb.Done, hb.Redelivered, st.Done)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker never reported in the second run")
		}
	}
}
