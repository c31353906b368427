package dist

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fanout/fanout/internal/simweb"
	"github.com/nats-io/nats.go/jetstream"
)

// A worker that cannot open its run's lease bucket, for a reason that may
// pass (here a bucket that is not one, in a cluster a timeout while a
// server fails over), tries again, saying so once, and serves the run once
// it can. It used to log "no work left" and, with --run and
// --exit-when-done, exit with nothing done.
func TestWorkerRetriesRunItCannotOpen(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	sim := startSim(t, simweb.Config{})
	const n = 200
	urls := manyHosts(sim, n, 10, 0)
	rc := testRun("reopen")
	c := connect(t, url)
	submit(t, c, rc, urls)
	ctx := context.Background()
	breakLeaseBucket(t, c, rc)
	var log syncBuffer
	w := newWorker(t, url, WorkerConfig{Engine: engineConfig(t, sim, 8, 2), Run: rc.Name, ID: "patient",
		ExitWhenDone: true, Log: &log})
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, make(chan struct{})) }()
	select {
	case err := <-done:
		t.Fatalf("worker returned (%v) while its run could not be opened, with %d of %d done:\n%s", err, w.Done(), n, log.String())
	case <-time.After(1500 * time.Millisecond):
	}
	// Repaired in place (ensureRun updates the stream to the bucket's
	// configuration): deleted first, the bucket would be missing for a
	// moment, and a worker looking then would rightly take the run for
	// deleted and leave it.
	if err := ensureRun(ctx, c.JS, rc); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not finish the run within 30s of its bucket's repair")
	}
	if w.Done() != n {
		t.Errorf("worker stored %d results, want %d", w.Done(), n)
	}
	out := log.String()
	if strings.Count(out, "trying again") != 1 || strings.Count(out, "serving run") != 1 {
		t.Errorf("log, want the failure said once and the run served once:\n%s", out)
	}
	t.Logf("%s", out)
}

// Status says the workers are unknown when it cannot read the lease
// bucket (here a bucket that is not one; in a cluster, a timeout while its
// server fails over) instead of "0 leased" and "workers 0", which read as
// no worker serving the run.
func TestStatusSaysLeasesUnknown(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	rc := testRun("unknownleases")
	c := connect(t, url)
	submit(t, c, rc, []string{"http://a.example/", "http://b.example/"})
	ctx := context.Background()
	breakLeaseBucket(t, c, rc)
	st, err := RunStatus(ctx, c, rc.Name)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	st.Write(&b)
	if out := b.String(); st.LeasesErr == nil || !strings.Contains(out, "workers      unknown") || strings.Contains(out, "workers      0") {
		t.Errorf("status with an unreadable lease bucket, want the workers unknown:\n%s", out)
	}
}

// A worker with --run and --exit-when-done does not try again for ever:
// after RunWait of failing to open its run, it fails with the reason.
func TestWorkerGivesUpOnRunItNeverOpens(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	sim := startSim(t, simweb.Config{})
	rc := testRun("neveropen")
	c := connect(t, url)
	submit(t, c, rc, manyHosts(sim, 20, 2, 0))
	ctx := context.Background()
	breakLeaseBucket(t, c, rc)
	var log syncBuffer
	w := newWorker(t, url, WorkerConfig{Engine: engineConfig(t, sim, 8, 2), Run: rc.Name, ID: "bounded",
		ExitWhenDone: true, RunWait: time.Second, Log: &log})
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, make(chan struct{})) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "could not open its streams") {
			t.Fatalf("worker returned %v, want the open failure:\n%s", err, log.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("worker still trying 20s after a RunWait of 1s")
	}
}

// breakLeaseBucket makes rc's lease bucket a stream that is no bucket:
// KeyValue says ErrBadBucket, which is not a deleted run.
func breakLeaseBucket(t *testing.T, c *Conn, rc RunConfig) {
	t.Helper()
	ctx := context.Background()
	if err := c.JS.DeleteKeyValue(ctx, leaseBucket(rc.Name)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "KV_" + leaseBucket(rc.Name),
		Subjects: []string{"$KV." + leaseBucket(rc.Name) + ".>"}}); err != nil {
		t.Fatal(err)
	}
}
