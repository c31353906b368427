package dist

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// A publish of results that fails for another reason than size (here the
// results stream refuses messages over 64 bytes, as a full or misconfigured
// stream would) is told in the log, once per batch, and the batch goes back
// after a delay that grows: it went back at once, without a word, and its
// targets were fetched again and again as fast as their hosts answered.
func TestResultPublishFailureBacksOff(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	c := connect(t, url)
	site := startCountingSite(t, 8)
	const n = 20
	urls := site.urls(n, "")
	rc := testRun("pubfail")
	rc.Partitions, rc.Batch = 1, n
	submit(t, c, rc, urls)
	setResultMaxMsgSize(t, c, rc.Name, 64)

	var log syncBuf
	w := newWorker(t, url, WorkerConfig{Engine: siteEngine(), Run: rc.Name, ID: "backoff-w", ExitWhenDone: true, Log: &log})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- w.Run(ctx, nil) }()

	// Delivered at 0, then after 2 s and 2+4 s: within 5 s, two rounds.
	time.Sleep(5 * time.Second)
	lines := log.count("cannot store the results of batch") // first: a line follows its round's requests
	got := site.requests()
	t.Logf("in 5 s: %d requests for %d targets, %d log lines", got, n, lines)
	if got > 3*n {
		t.Errorf("%d requests for %d targets in 5 s: the failing batch came back at once", got, n)
	}
	if got < n {
		t.Fatalf("%d requests for %d targets in 5 s: the worker did not run", got, n)
	}
	if lines < 1 || lines > got/n {
		t.Errorf("%d log lines of failed batches for %d rounds of fetches, want one per round:\n%s", lines, got/n, log.String())
	}
	if s := log.String(); !strings.Contains(s, "backoff-w") || !strings.Contains(s, "message size exceeds maximum allowed") {
		t.Errorf("the log names neither the worker nor the error:\n%s", s)
	}

	setResultMaxMsgSize(t, c, rc.Name, -1)
	if err := <-ran; err != nil {
		t.Fatalf("worker: %v", err)
	}
	col := newCollector()
	if _, err := Collect(ctx, c, rc.Name, CollectOptions{Follow: true}, col.emit, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	col.check(t, n, urls)
}

// The delay before a batch whose results failed comes again grows with its
// deliveries, to a bound.
func TestPublishRetryDelayGrows(t *testing.T) {
	t.Parallel()
	prev := time.Duration(0)
	for n := uint64(0); n < 100; n++ {
		d := publishRetryDelay(n)
		if d < publishRetryBase || d > publishRetryMax || d < prev {
			t.Fatalf("delivery %d: %v (after %v)", n, d, prev)
		}
		prev = d
	}
	if publishRetryDelay(1) != publishRetryBase || publishRetryDelay(2) != 2*publishRetryBase || publishRetryDelay(99) != publishRetryMax {
		t.Errorf("delays %v, %v, %v", publishRetryDelay(1), publishRetryDelay(2), publishRetryDelay(99))
	}
}

func setResultMaxMsgSize(t testing.TB, c *Conn, run string, size int32) {
	t.Helper()
	ctx := context.Background()
	s, err := c.JS.Stream(ctx, resultStream(run))
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.MaxMsgSize = size
	if _, err := c.JS.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
}

// syncBuf is a log the worker's goroutines write to at once.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuf) count(sub string) int { return strings.Count(s.String(), sub) }
