package dist

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fanout/fanout/internal/simweb"
)

// quietRun is a test run whose workers hear from each other only through
// the lease bucket: n targets over hosts, each answered after delay, in
// parts partitions (0: testRun's 16), with a 4 min lease TTL, so that a
// heartbeat is a minute away and what a test sees is the balance it means.
type quietRun struct {
	name            string
	n, hosts, parts int
	delay           time.Duration
}

// submit starts simweb and submits the run to the server at url.
func (q quietRun) submit(t *testing.T, url string) (sim *simweb.Server, rc RunConfig, c *Conn, urls []string) {
	sim = startSim(t, simweb.Config{})
	urls = manyHosts(sim, q.n, q.hosts, q.delay)
	rc = testRun(q.name)
	if q.parts > 0 {
		rc.Partitions = q.parts
	}
	rc.LeaseTTL, rc.AckWait = 4*time.Minute, 5*time.Minute
	c = connect(t, url)
	submit(t, c, rc, urls)
	return sim, rc, c, urls
}

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
	sim, rc, c, _ := quietRun{name: "giveback", n: 4000, hosts: 64, delay: 50 * time.Millisecond}.submit(t, url) // ~12 s of work

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
	sim, rc, c, urls := quietRun{name: "idle", n: 200, hosts: 16, parts: 2}.submit(t, url)
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

// TestCappedWorkerShareGoesToOthers: the partitions a worker capped by
// --max-partitions cannot take go to the uncapped ones. The fair share
// counted every live worker alike, so with a worker capped at 2 of 16
// partitions the other took its half, 8, and 6 partitions waited until
// either worker's own ran dry: a run as long again as it needed to be.
func TestCappedWorkerShareGoesToOthers(t *testing.T) {
	url := startNATS(t)
	// b alone: 25 s at 16 in flight
	sim, rc, c, urls := quietRun{name: "capped", n: 4000, hosts: 64, delay: 100 * time.Millisecond}.submit(t, url)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	for _, cfg := range []WorkerConfig{
		// a is slow too: its two partitions must not run dry (a drained
		// partition no longer counts against a share) before b has had
		// every chance to take the rest.
		{Engine: engineConfig(t, sim, 1, 1), Run: rc.Name, ID: "a", ExitWhenDone: true, MaxPartitions: 2},
		{Engine: engineConfig(t, sim, 16, 2), Run: rc.Name, ID: "b", ExitWhenDone: true},
	} {
		w := newWorker(t, url, cfg)
		wg.Go(func() {
			if err := w.Run(context.Background(), stop); err != nil {
				t.Errorf("worker %s: %v", cfg.ID, err)
			}
		})
	}
	// Workers share the partitions with targets queued: with 64 hosts
	// hashed over 16 partitions, one may get none.
	busy := map[int]bool{}
	for r := inputOf(urls); ; {
		tg, err := r.Next()
		if err != nil {
			break
		}
		busy[Partition(tg.HostKey, rc.Partitions)] = true
	}
	// Within 5 s: b's first 8 partitions take it ~12 s to drain, after
	// which it would take the rest anyway.
	held := leasesWhen(t, c, rc.Name, 5*time.Second, 300*time.Millisecond,
		func(h map[string]int) bool { return h["a"] == 2 && h["b"] == len(busy)-2 })
	if held["a"] != 2 || held["b"] != len(busy)-2 {
		t.Fatalf("leases held %v, want a (capped at 2) 2 and b the other %d of the %d partitions with targets",
			held, len(busy)-2, len(busy))
	}
}

func TestFairShare(t *testing.T) {
	for _, tc := range []struct {
		want int
		caps []int // of every live worker, own included
		own  int
		out  int
	}{
		{16, []int{0}, 0, 16},
		{16, []int{0, 0}, 0, 8},
		{16, []int{0, 0, 0}, 0, 6}, // rounded up, as before caps counted
		{0, []int{0, 0}, 0, 0},
		{16, []int{2, 0}, 0, 14}, // the capped worker's remainder falls to the other
		{16, []int{2, 0}, 2, 2},
		{16, []int{1, 0, 0}, 0, 8},
		{16, []int{10, 0}, 10, 8}, // a cap above the share changes nothing
		{16, []int{10, 0}, 0, 8},
		{16, []int{2, 3}, 3, 3}, // the caps cannot cover the run: each takes its cap
		{16, []int{2, 3}, 2, 2},
		{3, []int{0, 0, 0, 0, 0}, 0, 1},
	} {
		if got := fairShare(tc.want, tc.caps, tc.own); got != tc.out {
			t.Errorf("fairShare(%d, %v, %d) = %d, want %d", tc.want, tc.caps, tc.own, got, tc.out)
		}
	}
}

func TestCapOf(t *testing.T) {
	w := &Worker{cfg: WorkerConfig{ID: "a", MaxPartitions: 3}, instance: "XYZ"}
	uncapped := &Worker{cfg: WorkerConfig{ID: "b"}, instance: "XYZ"}
	for key, want := range map[string]int{
		w.beatKey():         3,
		uncapped.beatKey():  0,
		ghostKey:            0,
		"w.a.XYZ.mx":        0,
		"w.a.XYZ.m-1":       0,
		"w.a.XYZ.something": 0,
	} {
		if got := capOf(key); got != want {
			t.Errorf("capOf(%q) = %d, want %d", key, got, want)
		}
	}
}

// TestIdleWorkersLookSeldom: workers with nothing to do look at the run
// less and less often, and a change in the lease bucket brings them back
// at once. Each idle worker looked every 250 ms (the run's metadata and a
// stream info) and listed the leases every second (an ordered consumer
// created and deleted on the server): twenty idle workers took 9% of a
// core from the server. Here a lease nobody stands behind holds the run's
// one partition, so three workers sit idle; then the lease goes, which
// every worker sees, one of them runs the partition, and all must leave
// within 2 s, where at the pace of 12 s idle they would look every 3 s.
// (The server's API count leaves out direct gets, the metadata reads.)
func TestIdleWorkersLookSeldom(t *testing.T) {
	srv := startNATSServer(t)
	url := srv.ClientURL()
	sim, rc, c, urls := quietRun{name: "seldom", n: 200, hosts: 16, parts: 1}.submit(t, url)
	kv, err := c.JS.KeyValue(context.Background(), leaseBucket(rc.Name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(context.Background(), partitionKey(0), []byte("ghost")); err != nil {
		t.Fatal(err)
	}
	apiCalls := func() uint64 { return jsAPICalls(t, srv) }

	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	const workers = 3
	exited := make(chan time.Time, workers)
	for _, id := range []string{"a", "b", "c"} {
		w := newWorker(t, url, WorkerConfig{Engine: engineConfig(t, sim, 4, 2), Run: rc.Name, ID: id, ExitWhenDone: true})
		wg.Go(func() {
			if err := w.Run(context.Background(), stop); err != nil {
				t.Errorf("worker %s: %v", id, err)
			}
			exited <- time.Now()
		})
	}
	time.Sleep(5 * time.Second)
	from, t0 := apiCalls(), time.Now()
	time.Sleep(7 * time.Second)
	rate := float64(apiCalls()-from) / time.Since(t0).Seconds() / workers
	t.Logf("idle for 5 to 12 s, a worker made %.1f JetStream API calls a second", rate)
	if rate > 2 {
		t.Errorf("idle for 5 to 12 s, a worker made %.1f JetStream API calls a second, want at most 2", rate)
	}

	if err := kv.Delete(context.Background(), partitionKey(0)); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	for range workers {
		select {
		case at := <-exited:
			// Idle for 12 s, the two that do not get the partition
			// would look every 3 s; the lease's deletion woke them.
			if d := at.Sub(freed); d > 2*time.Second {
				t.Errorf("a worker left %v after the partition was freed (200 fast targets), want within 2 s", d.Round(time.Millisecond))
			}
		case <-time.After(20 * time.Second):
			st, _ := RunStatus(context.Background(), c, rc.Name)
			t.Fatalf("20 s after the partition was freed, a worker still runs (%d of %d targets pending)", st.Pending, len(urls))
		}
	}
}

// TestUnleased: an idle worker's partition search lists the leases only
// for a partition with work that has no lease it knows of, or whose lease
// has not been renewed for a while (its worker may be dead: an expiring
// lease leaves no event in the watch, and listings show it until then).
func TestUnleased(t *testing.T) {
	m := newMembership("w.self.X", time.Second)
	m.listed(map[string]bool{partitionKey(0): true, partitionKey(1): true, partitionKey(5): true})
	m.leases[partitionKey(5)] = time.Now().Add(-time.Hour) // first seen an hour ago, never renewed since
	held := map[int]*partition{2: {}}
	for _, tc := range []struct {
		name string
		busy []int
		want bool
	}{
		{"every busy partition leased", []int{0, 1}, false},
		{"held here", []int{0, 2}, false},
		{"one without a lease", []int{0, 3}, true},
		{"a lease not renewed for longer than stale", []int{5}, true},
		{"the same after a later listing", []int{5}, true},
		{"the same once the watch sees it renewed", []int{5}, false},
		{"nothing busy", nil, false},
		{"a lease deleted since the listing", []int{1}, true},
		{"a lease taken since the listing", []int{4}, false},
	} {
		switch tc.name {
		case "the same after a later listing":
			m.listed(map[string]bool{partitionKey(0): true, partitionKey(1): true, partitionKey(5): true})
		case "the same once the watch sees it renewed":
			m.changed(entry{partitionKey(5), jetstream.KeyValuePut})
		case "a lease deleted since the listing":
			m.changed(entry{partitionKey(1), jetstream.KeyValueDelete})
		case "a lease taken since the listing":
			m.changed(entry{partitionKey(4), jetstream.KeyValuePut})
		}
		busy := map[int]bool{}
		for _, n := range tc.busy {
			busy[n] = true
		}
		if got := m.unleased(busy, held, time.Minute); got != tc.want {
			t.Errorf("%s: unleased = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// entry is a lease bucket's watch entry: a key and an operation.
type entry struct {
	key string
	op  jetstream.KeyValueOp
}

func (e entry) Bucket() string                  { return "" }
func (e entry) Key() string                     { return e.key }
func (e entry) Value() []byte                   { return nil }
func (e entry) Revision() uint64                { return 0 }
func (e entry) Created() time.Time              { return time.Time{} }
func (e entry) Delta() uint64                   { return 0 }
func (e entry) Operation() jetstream.KeyValueOp { return e.op }

// TestIdlePace: an idle worker looks at its run every quarter of the time
// it has been idle, between 250 ms and a heartbeat, and at least every
// second until the run is submitted in full.
func TestIdlePace(t *testing.T) {
	ttl := 30 * time.Second // a heartbeat of 7.5 s
	for _, tc := range []struct {
		idleFor   time.Duration
		submitted bool
		want      time.Duration
	}{
		{0, true, 250 * time.Millisecond},
		{2 * time.Second, true, 500 * time.Millisecond},
		{12 * time.Second, true, 3 * time.Second},
		{time.Hour, true, 7500 * time.Millisecond},
		{0, false, 250 * time.Millisecond},
		{12 * time.Second, false, time.Second},
		{time.Hour, false, time.Second},
	} {
		if got := idlePace(tc.idleFor, ttl, tc.submitted); got != tc.want {
			t.Errorf("idlePace(%v, %v, submitted %v) = %v, want %v", tc.idleFor, ttl, tc.submitted, got, tc.want)
		}
	}
	if got := idlePace(time.Hour, 400*time.Millisecond, true); got != 250*time.Millisecond {
		t.Errorf("idlePace with a 400 ms lease TTL = %v, want the 250 ms floor", got)
	}
}
