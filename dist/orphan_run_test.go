package dist

import (
	"testing"
	"time"

	"github.com/fanout/fanout/internal/simweb"
)

// TestOrphanRunDoesNotHoldWorkers: a run whose submit died (killed, or
// failed) stays "being submitted" with nothing queued. A worker without
// --run took it, the oldest, and waited on it for ever, while a newer
// run's targets waited for a worker. A run with targets queued comes
// first, also for a worker already waiting on the orphan.
func TestOrphanRunDoesNotHoldWorkers(t *testing.T) {
	url := startNATS(t)
	sim := startSim(t, simweb.Config{})
	c := connect(t, url)
	orphan := testRun("orphan")
	orphan.Batch = 100
	src := &failingSource{src: inputOf([]string{"http://127.0.0.1:9/"}), n: 1}
	if _, err := Submit(t.Context(), c, orphan, src, nil); err == nil {
		t.Fatal("Submit of a source that fails: no error")
	}

	w := newWorker(t, url, WorkerConfig{Engine: engineConfig(t, sim, 4, 2), ID: "w"})
	defer runUntilStopped(t, w)()
	time.Sleep(time.Second) // the worker finds the orphan alone
	const n = 20
	submit(t, c, testRun("work"), manyHosts(sim, n, 2, 0))
	start := time.Now()
	for w.Done() < n {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("%d of %d targets of a run submitted after an orphan were done within 30 s", w.Done(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("the run's %d targets were done %v after its submit", n, time.Since(start).Round(time.Millisecond))
}
