package dist

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fanout/fanout/internal/simweb"
)

// TestStatusExplainsStrandedTargets: after a worker dies, the targets it
// was delivered wait for the run's ack wait before JetStream gives them
// out again, and for that long status showed them pending, held by no
// worker, every rate at 0/s: a hang, to the eye. Status now marks the dead
// worker's row stopped once it misses two heartbeats, leaves its counts
// out of what workers hold, and says how many targets wait for the ack
// wait, delivered to whom, and until when; also once its heartbeat has
// expired and another worker holds the partitions without getting them.
func TestStatusExplainsStrandedTargets(t *testing.T) {
	url := startNATS(t)
	sim := startSim(t, simweb.Config{})
	const n = 40
	urls := manyHosts(sim, n, 8, 500*time.Millisecond)
	rc := testRun("stranded")
	rc.AckWait = 6 * time.Second
	c := connect(t, url)
	submit(t, c, rc, urls)
	cfg := engineConfig(t, sim, 64, 8)

	victimConn := connect(t, url)
	victim, err := NewWorker(victimConn, WorkerConfig{Engine: cfg, Run: rc.Name, ID: "victim", Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(victim.Close)
	ctx, kill := context.WithCancel(context.Background())
	defer kill()
	ran := make(chan error, 1)
	go func() { ran <- victim.Run(ctx, make(chan struct{})) }()
	for deadline := time.Now().Add(10 * time.Second); victim.holding.Load() < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the victim holds %d targets, want %d", victim.holding.Load(), n)
		}
	}
	victimConn.NC.Close() // no ack, nak, renewal or heartbeat any more: a SIGKILL
	kill()
	if err := <-ran; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, nats.ErrConnectionClosed) {
		t.Fatalf("victim: %v", err)
	}
	killed := time.Now()

	status := func(t *testing.T, ok func(Status) bool) (Status, string) {
		t.Helper()
		var st Status
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			var err error
			if st, err = RunStatus(context.Background(), c, rc.Name); err != nil {
				t.Fatal(err)
			}
			if ok(st) || time.Now().After(deadline) {
				break
			}
		}
		var b strings.Builder
		st.Write(&b)
		return st, b.String()
	}
	t.Run("its heartbeat still there", func(t *testing.T) {
		st, out := status(t, func(st Status) bool { return len(st.Workers) == 1 && st.Workers[0].Stopped })
		t.Logf("status:\n%s", out)
		if len(st.Workers) != 1 || !st.Workers[0].Stopped || st.Stranded != n || st.StrandedAbout || st.InFlight != 0 {
			t.Fatalf("workers %+v, stranded %d (about: %v), in flight %d; want the victim stopped, %d stranded, 0 in flight",
				st.Workers, st.Stranded, st.StrandedAbout, st.InFlight, n)
		}
		if by := st.RedeliverBy; by.Before(killed) || by.After(killed.Add(rc.AckWait+time.Second)) {
			t.Errorf("redelivered by %v, want within the ack wait (%v) of the kill at %v", by, rc.AckWait, killed)
		}
		for _, want := range []string{
			"pending      40 (0 held by workers)\n",
			"waiting      40 targets were delivered to a worker that stopped (victim, last report ",
			"JetStream gives them out again by " + st.RedeliverBy.Local().Format(time.TimeOnly) + " (--ack-wait 6s at submit)\n",
			"workers      0 (and 1 stopped: no report for over 1s;",
			"  STOPPED\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("status lacks %q:\n%s", want, out)
			}
		}
	})

	// Once the victim's leases expire another worker takes its
	// partitions, and gets nothing from them until the ack wait is over.
	time.Sleep(time.Until(killed.Add(rc.LeaseTTL)))
	heir := newWorker(t, url, WorkerConfig{Engine: cfg, Run: rc.Name, ID: "heir"})
	stop := make(chan struct{})
	heirDone := make(chan error, 1)
	go func() { heirDone <- heir.Run(context.Background(), stop) }()
	defer func() { close(stop); <-heirDone }()
	t.Run("taken over", func(t *testing.T) {
		st, out := status(t, func(st Status) bool {
			return len(st.Workers) == 1 && !st.Workers[0].Stopped && len(st.Workers[0].Partitions) > 0 && st.Stranded > 0
		})
		if time.Since(killed) >= rc.AckWait {
			t.Skipf("too slow a machine: the ack wait passed before status looked (%v)", time.Since(killed))
		}
		if len(st.Workers) != 1 || st.Workers[0].Stopped || st.Stranded != n {
			t.Fatalf("workers %+v, stranded %d; want the heir alone, live, and %d stranded", st.Workers, st.Stranded, n)
		}
		if want := "waiting      40 targets were delivered to a worker that stopped (its heartbeat has expired) and not acknowledged"; !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	})
	t.Run("given out again", func(t *testing.T) {
		st, out := status(t, func(st Status) bool { return st.Stranded == 0 })
		if st.Stranded != 0 || strings.Contains(out, "waiting") {
			t.Errorf("after the ack wait: stranded %d:\n%s", st.Stranded, out)
		}
	})
}

// TestStatusTextSameIDRestartedAndRebalanced: a worker restarted with the
// same --id leaves its dead instance's heartbeat for a lease TTL: of the
// two "w1" rows, the one that stopped reporting says so, and is not
// counted among the workers. Targets handed back on a rebalance count as
// redelivered, which the line explains rather than alarm.
func TestStatusTextSameIDRestartedAndRebalanced(t *testing.T) {
	t.Parallel()
	now := time.Now()
	st := Status{Meta: Meta{RunConfig: RunConfig{Name: "r", Partitions: 16, LeaseTTL: 30 * time.Second, AckWait: time.Minute}, Submitted: 20000, Complete: true},
		Done: 9373, Pending: 10627, WorkerRedelivered: 2000, Leases: map[int]string{},
		Workers: []WorkerStatus{
			{ID: "w1", Rate: 0, At: now.Add(-20 * time.Second), Stopped: true},
			{ID: "w1", Rate: 150, At: now.Add(-time.Second), Redelivered: 2000},
		}}
	var b strings.Builder
	st.Write(&b)
	out := b.String()
	var rows []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "  w1 ") {
			rows = append(rows, l)
		}
	}
	if len(rows) != 2 || !strings.HasSuffix(rows[0], "reported 20s ago  STOPPED") || strings.Contains(rows[1], "STOPPED") {
		t.Errorf("rows %q: want the first STOPPED, the second not", rows)
	}
	for _, want := range []string{
		"workers      1 (and 1 stopped: no report for over 15s;",
		"redelivered  0 held again now, 2000 received by live workers (handed back when partitions move between workers, or delivered again after --ack-wait)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "waiting") {
		t.Errorf("status speaks of stranded targets with none:\n%s", out)
	}
}
