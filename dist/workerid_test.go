package dist

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/internal/simweb"
)

// TestResultsNameTheirWorker: each result a worker publishes names it, so
// that with worker --save one knows which machine holds the body: in the
// jsonl record collect writes through (after "saved", before
// "redirects"), and in the result it decodes for the other formats and
// --db.
func TestResultsNameTheirWorker(t *testing.T) {
	url := startNATS(t)
	sim := startSim(t, simweb.Config{})
	const n = 20
	urls := manyHosts(sim, n, 4, time.Millisecond)
	rc := testRun("named")
	submit(t, connect(t, url), rc, urls)
	cfg := engineConfig(t, sim, 8, 2)
	cfg.Request.SaveDir = t.TempDir()
	w := newWorker(t, url, WorkerConfig{Engine: cfg, Run: rc.Name, ID: "w7", ExitWhenDone: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := w.Run(ctx, make(chan struct{})); err != nil {
		t.Fatalf("worker: %v", err)
	}

	raw := 0
	_, err := Collect(ctx, connect(t, url), rc.Name, CollectOptions{Raw: func(_ *fetch.Result, rec []byte) error {
		raw++
		if !bytes.Contains(rec, []byte(`,"saved":true,"worker":"w7","redirects":`)) {
			t.Errorf("record %s: want \"worker\":\"w7\" after saved", rec)
		}
		return nil
	}}, nil, func() error { return nil })
	if err != nil || raw != n {
		t.Fatalf("collect -f jsonl's records: %d, %v; want %d", raw, err, n)
	}

	col := newCollector()
	if _, err := Collect(ctx, connect(t, url), rc.Name, CollectOptions{}, col.emit, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	col.check(t, n, urls)
	for seq, r := range col.results {
		if r.Worker != "w7" {
			t.Errorf("result %d decoded: worker %q, want w7", seq, r.Worker)
		}
		if b, _ := json.Marshal(r); !bytes.Contains(b, []byte(`"worker":"w7"`)) {
			t.Errorf("result %d: %s", seq, b)
		}
	}
}
