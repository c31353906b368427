package dist

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fanout/fanout/internal/simweb"
)

// TestWorkerStopsWhenItCannotSave: a worker that cannot save a body (its
// disk full, its --save directory gone) stops and says why, and that
// target and those it had not done go back to the stream: another worker
// fetches them all, and no result is of kind local. (It went on before,
// and each target after the first got a result of kind local, quickly,
// so that it took ever more of the run.)
func TestWorkerStopsWhenItCannotSave(t *testing.T) {
	url := startNATS(t)
	sim := startSim(t, simweb.Config{})
	const n = 40
	urls := manyHosts(sim, n, 4, time.Millisecond)
	rc := testRun("savefail")
	submit(t, connect(t, url), rc, urls)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	bad := engineConfig(t, sim, 8, 2)
	bad.Request.SaveDir = filepath.Join(t.TempDir(), "bodies")
	w := newWorker(t, url, WorkerConfig{Engine: bad, Run: rc.Name, ID: "full", ExitWhenDone: true})
	if err := os.RemoveAll(bad.Request.SaveDir); err != nil { // as a disk that fills up under the run
		t.Fatal(err)
	}
	err := w.Run(ctx, make(chan struct{}))
	if err == nil || !strings.Contains(err.Error(), "could not be saved") || !strings.Contains(err.Error(), "go back to the stream") {
		t.Fatalf("worker that cannot save: Run = %v, want it stopped saying why", err)
	}

	good := engineConfig(t, sim, 8, 2)
	good.Request.SaveDir = t.TempDir()
	w2 := newWorker(t, url, WorkerConfig{Engine: good, Run: rc.Name, ID: "roomy", ExitWhenDone: true})
	if err := w2.Run(ctx, make(chan struct{})); err != nil {
		t.Fatalf("second worker: %v", err)
	}
	col := newCollector()
	if _, err := Collect(ctx, connect(t, url), rc.Name, CollectOptions{}, col.emit, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	col.check(t, n, urls)
	for seq, r := range col.results {
		if r.Error != nil || !r.Saved || r.Worker != "roomy" {
			t.Errorf("result %d: error %+v, saved %v, worker %q; want it fetched and saved by the second worker", seq, r.Error, r.Saved, r.Worker)
		}
	}
}
