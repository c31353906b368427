package dist

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/internal/simweb"
)

// logBuffer keeps a worker's log lines for the test to read, and logs
// them to the test too.
type logBuffer struct {
	t  testing.TB
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.t.Logf("%s", strings.TrimSpace(string(p)))
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A run deleted while workers serve it and collect follows it: each
// worker leaves it, releasing what it held, without an error a heartbeat
// (it used to log "listing workers: nats: stream not found" forever and
// serve nothing else); the one serving every run goes on to the next run
// submitted, the one with --run and --exit-when-done returns; collect
// ends with ErrRunDeleted, having flushed what it wrote.
func TestRunDeletedWhileServed(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	sim := startSim(t, simweb.Config{})
	c := connect(t, url)
	rc := testRun("r4")
	rc.Batch = 5                                                   // results come back as the run goes
	submit(t, c, rc, manyHosts(sim, 400, 8, 500*time.Millisecond)) // 25s of work with one request per host
	cfg := engineConfig(t, sim, 8, 1)

	var any, only logBuffer
	any.t, only.t = t, t
	wAny, err := NewWorker(connect(t, url), WorkerConfig{Engine: cfg, ID: "any", Log: &any})
	if err != nil {
		t.Fatal(err)
	}
	defer wAny.Close()
	wOnly, err := NewWorker(connect(t, url), WorkerConfig{Engine: cfg, ID: "only", Run: rc.Name, ExitWhenDone: true, Log: &only})
	if err != nil {
		t.Fatal(err)
	}
	defer wOnly.Close()
	stopAny := make(chan struct{})
	anyDone, onlyDone := make(chan error, 1), make(chan error, 1)
	go func() { anyDone <- wAny.Run(context.Background(), stopAny) }()
	go func() { onlyDone <- wOnly.Run(context.Background(), make(chan struct{})) }()

	var mu sync.Mutex
	var emitted, flushed int
	type collected struct {
		st  CollectStats
		err error
	}
	colDone := make(chan collected, 1)
	go func() {
		st, err := Collect(context.Background(), connect(t, url), rc.Name, CollectOptions{Follow: true},
			func(*fetch.Result) error { mu.Lock(); emitted++; mu.Unlock(); return nil },
			func() error { mu.Lock(); flushed = emitted; mu.Unlock(); return nil })
		colDone <- collected{st, err}
	}()

	deadline := time.Now().Add(30 * time.Second)
	for wAny.Done()+wOnly.Done() < 16 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := DeleteRun(context.Background(), c.JS, rc.Name); err != nil {
		t.Fatalf("DeleteRun: %v", err)
	}
	t.Logf("deleted run %s after %d results", rc.Name, wAny.Done()+wOnly.Done())
	next := testRun("r5")
	submit(t, c, next, manyHosts(sim, 20, 4, time.Millisecond))

	select {
	case err := <-onlyDone:
		if err != nil {
			t.Errorf("worker with --run %s --exit-when-done: %v, want nil once the run is deleted", rc.Name, err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("worker with --run %s --exit-when-done still running 30s after the run was deleted", rc.Name)
	}
	select {
	case got := <-colDone:
		if !errors.Is(got.err, ErrRunDeleted) {
			t.Errorf("Collect: %v, want ErrRunDeleted", got.err)
		}
		mu.Lock()
		if got.st.Written == 0 || flushed != emitted || uint64(emitted) != got.st.Written {
			t.Errorf("Collect: %d written, %d emitted, %d flushed; want some, all flushed", got.st.Written, emitted, flushed)
		}
		mu.Unlock()
	case <-time.After(30 * time.Second):
		t.Errorf("Collect --follow still running 30s after the run was deleted")
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		st, err := RunStatus(context.Background(), c, next.Name)
		if err == nil && st.Done >= 20 && st.Pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s not served 30s after run %s was deleted: %+v, %v", next.Name, rc.Name, st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stopAny)
	select {
	case err := <-anyDone:
		if err != nil {
			t.Errorf("worker serving every run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("worker serving every run still running 30s after stop")
	}
	for name, l := range map[string]*logBuffer{"any": &any, "only": &only} {
		log := l.String()
		if n := strings.Count(log, "run r4 was deleted: leaving it"); n != 1 {
			t.Errorf("worker %s said the run was deleted %d times, want once", name, n)
		}
		if strings.Contains(log, "not found") {
			t.Errorf("worker %s logged errors about the deleted run's streams:\n%s", name, log)
		}
	}
	if h := wAny.holding.Load() + wOnly.holding.Load(); h != 0 {
		t.Errorf("workers still hold %d targets", h)
	}
}
