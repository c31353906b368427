package dist

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fanout/fanout/internal/simweb"
)

// TestGivenBackPartitionTakenAgain: a partition a worker gave back is its
// own again a second later if no other worker took it, not at its next
// heartbeat. Near the end of a run the fair share shrinks while a given
// back partition drains, the worker it was given back for may be at its
// share by then, and the partition sat idle until the giver's heartbeat:
// up to 7.5 s with every worker waiting. Here a heartbeat that no worker
// stands behind makes worker a give back half its partitions; once they
// are free, the heartbeat goes, and a, alone again, must take them back
// long before its next heartbeat (a minute, with a 4 min lease TTL).
func TestGivenBackPartitionTakenAgain(t *testing.T) {
	url := startNATS(t)
	sim := startSim(t, simweb.Config{})
	urls := manyHosts(sim, 4000, 64, 50*time.Millisecond) // ~12 s of work
	rc := testRun("giveback")
	rc.LeaseTTL, rc.AckWait = 4*time.Minute, 5*time.Minute
	c := connect(t, url)
	submit(t, c, rc, urls)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	w := newWorker(t, url, WorkerConfig{Engine: engineConfig(t, sim, 16, 2), Run: rc.Name, ID: "a", ExitWhenDone: true})
	wg.Go(func() {
		if err := w.Run(context.Background(), stop); err != nil {
			t.Errorf("worker a: %v", err)
		}
	})
	// held waits until ok accepts the number of leases a holds.
	held := func(ok func(int) bool) int {
		return leasesWhen(t, c, rc.Name, 20*time.Second, 300*time.Millisecond,
			func(h map[string]int) bool { return ok(h["a"]) })["a"]
	}
	all := held(func(n int) bool { return n >= 12 })
	if all < 12 {
		t.Fatalf("worker a alone holds %d partitions, want (nearly) all 16", all)
	}
	kv := ghostHeartbeat(t, c, rc.Name)
	if n := held(func(n int) bool { return n < all }); n >= all {
		t.Fatalf("with a second heartbeat, a still holds %d of %d partitions", n, all)
	}
	if err := kv.Delete(context.Background(), ghostKey); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if n := held(func(n int) bool { return n >= all }); n < all {
		t.Fatalf("alone again, a holds %d partitions after %v, want %d", n, time.Since(t0).Round(time.Millisecond), all)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("alone again, a took its partitions back after %v, want about a second", d.Round(time.Millisecond))
	}
	t.Logf("a took its partitions back %v after the other heartbeat went", time.Since(t0).Round(time.Millisecond))
}

// TestIdleWorkerTakesUnservedPartition: a worker whose partitions ran dry
// takes a partition with work that nobody serves within about a second,
// not at its next heartbeat (a minute here). A heartbeat that no worker
// stands behind halves worker a's share of the run's two partitions, so
// a serves one and the other waits for whoever is free first.
func TestIdleWorkerTakesUnservedPartition(t *testing.T) {
	url := startNATS(t)
	sim := startSim(t, simweb.Config{})
	urls := manyHosts(sim, 200, 16, 0)
	rc := testRun("idle")
	rc.Partitions = 2
	rc.LeaseTTL, rc.AckWait = 4*time.Minute, 5*time.Minute
	c := connect(t, url)
	submit(t, c, rc, urls)
	ghostHeartbeat(t, c, rc.Name)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait() // after close(stop): a failed test does not leave a running
	defer close(stop)
	w := newWorker(t, url, WorkerConfig{Engine: engineConfig(t, sim, 16, 2), Run: rc.Name, ID: "a", ExitWhenDone: true})
	t0 := time.Now()
	done := make(chan error, 1)
	wg.Go(func() { done <- w.Run(context.Background(), stop) })
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("worker a: %v", err)
		}
	case <-time.After(20 * time.Second):
		st, _ := RunStatus(context.Background(), c, rc.Name)
		t.Fatalf("after 20 s the run is not done (%d of %d targets pending; leases %v)", st.Pending, len(urls), st.Leases)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("the run took %v, want a few seconds", d.Round(time.Millisecond))
	}
	if got := w.Done(); got != int64(len(urls)) {
		t.Errorf("worker a did %d targets, want all %d", got, len(urls))
	}
	t.Logf("run of %d targets over 2 partitions done by one worker in %v", len(urls), time.Since(t0).Round(time.Millisecond))
}
