package dist

import (
	"context"
	"sync"
	"testing"
	"time"

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
			if err := w.Run(ctx, stop); err != nil && ctx.Err() == nil {
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
