package dist

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fanout/fanout/engine"
	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/input"
	"github.com/fanout/fanout/internal/simweb"
)

// startNATS runs an embedded JetStream server on a free loopback port.
func startNATS(t testing.TB) string {
	t.Helper()
	return startNATSServer(t).ClientURL()
}

// startNATSServer is startNATS, for a test that reads the server's counters.
func startNATSServer(t testing.TB) *server.Server {
	t.Helper()
	srv, err := StartServer(ServerConfig{Host: "127.0.0.1", Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv
}

func connect(t testing.TB, url string) *Conn {
	t.Helper()
	c, err := Connect(context.Background(), Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !c.NC.IsClosed() {
			c.Close()
		}
	})
	return c
}

func startSim(t testing.TB, cfg simweb.Config) *simweb.Server {
	t.Helper()
	if cfg.MaxLifetime == 0 {
		cfg.MaxLifetime = 5 * time.Minute
	}
	s, err := simweb.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// engineConfig reaches s for every host name.
func engineConfig(t testing.TB, s *simweb.Server, concurrency, perHost int) engine.Config {
	t.Helper()
	c := engine.DefaultConfig()
	c.Limits.Concurrency, c.Limits.PerHost = concurrency, perHost
	c.Request.Timeout = 10 * time.Second
	for _, a := range s.ResolveArgs() {
		r, err := fetch.ParseResolve(a)
		if err != nil {
			t.Fatal(err)
		}
		c.Request.Resolve = append(c.Request.Resolve, r)
	}
	return c
}

// manyHosts returns n URLs over hosts host names, each answering after d.
func manyHosts(s *simweb.Server, n, hosts int, d time.Duration) []string {
	urls := make([]string, n)
	for i := range urls {
		urls[i] = s.URL(fmt.Sprintf("h%d.sim", i%hosts), fmt.Sprintf("/delay/%v?n=%d", d, i))
	}
	return urls
}

func testRun(name string) RunConfig {
	rc := DefaultRunConfig()
	rc.Name = name
	rc.Partitions = 16
	rc.LeaseTTL = 2 * time.Second
	rc.AckWait = 3 * time.Second
	return rc
}

func submit(t testing.TB, c *Conn, rc RunConfig, urls []string) SubmitStats {
	t.Helper()
	r := input.NewReader(input.Options{Dedupe: true}, input.Args(urls))
	st, err := Submit(context.Background(), c, rc, r, nil)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	return st
}

// collector gathers a run's results, counting writes per seq.
type collector struct {
	mu      sync.Mutex
	count   map[uint64]int
	results map[uint64]fetch.Result
}

func newCollector() *collector {
	return &collector{count: map[uint64]int{}, results: map[uint64]fetch.Result{}}
}

func (c *collector) emit(r *fetch.Result) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count[r.Seq]++
	c.results[r.Seq] = *r
	return nil
}

// check fails unless every seq below n was written exactly once.
func (c *collector) check(t testing.TB, n int, urls []string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var bad []string
	for i := range n {
		if c.count[uint64(i)] != 1 {
			bad = append(bad, fmt.Sprintf("seq %d written %d times", i, c.count[uint64(i)]))
		}
	}
	if len(c.count) != n {
		bad = append(bad, fmt.Sprintf("%d distinct seqs, want %d", len(c.count), n))
	}
	if len(bad) > 0 {
		t.Fatalf("collected output is not each target once: %s", strings.Join(bad[:min(len(bad), 10)], "; "))
	}
	for i := range n {
		r := c.results[uint64(i)]
		if r.Input != urls[i] {
			t.Fatalf("seq %d: input %q, want %q", i, r.Input, urls[i])
		}
	}
}

type tlog struct{ t testing.TB }

func (l tlog) Write(b []byte) (int, error) {
	l.t.Logf("%s", strings.TrimSpace(string(b)))
	return len(b), nil
}

func testLog(t testing.TB) tlog { return tlog{t} }

// newWorker makes a Worker with its own connection to url, logging to the
// test, and closes it when the test ends.
func newWorker(t testing.TB, url string, cfg WorkerConfig) *Worker {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = testLog(t)
	}
	w, err := NewWorker(connect(t, url), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

func inputOf(urls []string) *input.Reader {
	return input.NewReader(input.Options{Dedupe: true}, input.Args(urls))
}

// leasesWhen polls run's leases, counted by worker, until ok accepts them
// and they have not changed for settle (a balance takes its leases one by
// one), or within passes. A run that ends first fails the test: its
// leases no longer say anything.
func leasesWhen(t testing.TB, c *Conn, run string, within, settle time.Duration, ok func(held map[string]int) bool) map[string]int {
	t.Helper()
	var held map[string]int
	since := time.Now()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		st, err := RunStatus(context.Background(), c, run)
		if err != nil {
			t.Fatal(err)
		}
		if st.Pending == 0 {
			t.Fatalf("the run ended first (leases %v)", held)
		}
		now := map[string]int{}
		for _, w := range st.Leases {
			now[w]++
		}
		if !maps.Equal(now, held) {
			held, since = now, time.Now()
		}
		if ok(held) && time.Since(since) >= settle {
			break
		}
	}
	return held
}

// ghostHeartbeat writes a worker's heartbeat into run's lease bucket that
// no worker stands behind, which halves the live workers' fair share, and
// returns the bucket to delete it from.
func ghostHeartbeat(t testing.TB, c *Conn, run string) jetstream.KeyValue {
	t.Helper()
	kv, err := c.JS.KeyValue(context.Background(), leaseBucket(run))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), ghostKey, []byte(`{"id":"ghost"}`)); err != nil {
		t.Fatal(err)
	}
	return kv
}

// ghostKey is ghostHeartbeat's key.
const ghostKey = "w.ghost.1"

// jsAPICalls is the number of JetStream API requests srv has served (KV
// direct gets, such as metadata reads, are not among them).
func jsAPICalls(t testing.TB, srv *server.Server) uint64 {
	t.Helper()
	v, err := srv.Varz(nil)
	if err != nil || v.JetStream.Stats == nil {
		t.Fatalf("server counters: %v", err)
	}
	return v.JetStream.Stats.API.Total
}
