package dist

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fanout/fanout/internal/simweb"
)

// TestIdleWorkerBetweenRuns: a worker serving every run that has none
// left to serve looks for runs seldom once it has been idle a while, and
// its cost does not grow with the finished runs the server keeps (each
// used to cost two API requests four times a second); a run submitted
// then still starts at once, as the runs bucket's watch wakes it.
func TestIdleWorkerBetweenRuns(t *testing.T) {
	srv := startNATSServer(t)
	url := srv.ClientURL()
	sim := startSim(t, simweb.Config{})
	c := connect(t, url)
	const finished = 6
	for i := range finished {
		submit(t, c, testRun(fmt.Sprint("done", i)), manyHosts(sim, 5, 2, 0))
	}
	apiCalls := func() uint64 { return jsAPICalls(t, srv) }

	w := newWorker(t, url, WorkerConfig{Engine: engineConfig(t, sim, 4, 2), ID: "idle"})
	defer runUntilStopped(t, w)()
	for deadline := time.Now().Add(30 * time.Second); w.Done() < finished*5; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the worker did %d of the %d targets of %d runs within 30 s", w.Done(), finished*5, finished)
		}
	}

	time.Sleep(8 * time.Second)
	from, t0 := apiCalls(), time.Now()
	time.Sleep(6 * time.Second)
	rate := float64(apiCalls()-from) / time.Since(t0).Seconds()
	t.Logf("idle for 8 to 14 s with %d finished runs, the worker made %.1f JetStream API calls a second", finished, rate)
	if rate > 3 {
		t.Errorf("idle for 8 to 14 s with %d finished runs, the worker made %.1f JetStream API calls a second, want at most 3", finished, rate)
	}

	before := w.Done()
	submit(t, c, testRun("late"), manyHosts(sim, 5, 2, 0))
	submitted := time.Now()
	for w.Done() == before {
		if time.Since(submitted) > 1500*time.Millisecond {
			t.Fatalf("a run submitted after 14 s of idleness had no result after %v (the worker looks every 2 s by then; a submit should wake it)",
				time.Since(submitted).Round(time.Millisecond))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("the late run's first result came %v after its submit", time.Since(submitted).Round(time.Millisecond))
}

// TestIdleWorkerBeforeAnyRun: before the first submit there is no runs
// bucket to watch; a worker then looks every 250 ms, one bucket lookup
// each, and tries to start its watch only every watchRetry, not at every
// look as well.
func TestIdleWorkerBeforeAnyRun(t *testing.T) {
	srv := startNATSServer(t)
	w := newWorker(t, srv.ClientURL(), WorkerConfig{Engine: engineConfig(t, startSim(t, simweb.Config{}), 4, 2), ID: "early"})
	defer runUntilStopped(t, w)()
	time.Sleep(time.Second)
	from, t0 := jsAPICalls(t, srv), time.Now()
	time.Sleep(3 * time.Second)
	rate := float64(jsAPICalls(t, srv)-from) / time.Since(t0).Seconds()
	t.Logf("with no run ever submitted, the worker made %.1f JetStream API calls a second", rate)
	if rate > 5 {
		t.Errorf("with no run ever submitted, the worker made %.1f JetStream API calls a second, want at most 5 (one a look)", rate)
	}
}

func TestPickPace(t *testing.T) {
	for _, c := range []struct {
		idle     time.Duration
		watching bool
		want     time.Duration
	}{
		{0, true, 250 * time.Millisecond},
		{2 * time.Second, true, 500 * time.Millisecond},
		{20 * time.Second, true, 2 * time.Second},
		{20 * time.Second, false, 250 * time.Millisecond}, // no watch to wake it: a submit must not wait
	} {
		if got := pickPace(c.idle, c.watching); got != c.want {
			t.Errorf("pickPace(%v, %v) = %v, want %v", c.idle, c.watching, got, c.want)
		}
	}
}

// runUntilStopped runs w, which serves every run; the function it returns
// stops it and waits for it.
func runUntilStopped(t *testing.T, w *Worker) func() {
	stop := make(chan struct{})
	ran := make(chan error, 1)
	go func() { ran <- w.Run(context.Background(), stop) }()
	return func() {
		close(stop)
		if err := <-ran; err != nil {
			t.Errorf("worker: %v", err)
		}
	}
}
