//go:build linux

package cli

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fanout/fanout/output"
	"github.com/fanout/fanout/store"
)

// TestCollectsStartedTogetherRecordOneRun: two collects of one NATS run
// into one --db, started at once, must not each create a run of their
// own: one records, the other is refused. (Two open databases in one
// process stand for two processes: Linux's open file description locks
// keep them apart.) Both used to find no run for the NATS run, create one
// each and record the same results twice.
func TestCollectsStartedTogetherRecordOneRun(t *testing.T) {
	for try := range 30 {
		path := filepath.Join(t.TempDir(), "runs.db")
		db, err := store.Open(path) // made beforehand: the race is in choosing the run
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		const n = 4
		recs := make([]*distRecording, n)
		errs := make([]error, n)
		var start, wg sync.WaitGroup
		start.Add(1)
		for i := range n {
			wg.Go(func() {
				f := &flags{db: path, format: "jsonl"}
				start.Wait()
				recs[i], errs[i] = openDistRecording(f, "twins", output.Accept{}, nil)
			})
		}
		start.Done()
		wg.Wait()
		ok, ids := 0, map[int64]bool{}
		for i := range n {
			if errs[i] != nil {
				if !strings.Contains(errs[i].Error(), "being recorded by another collect") {
					t.Errorf("try %d: collect %d: %v", try, i, errs[i])
				}
				continue
			}
			ok++
			ids[recs[i].runID] = true
		}
		for _, r := range recs {
			if r != nil {
				r.rec.Close(nil)
				r.db.Close()
			}
		}
		if ok != 1 {
			t.Fatalf("try %d: %d collects recorded (runs %v), want 1", try, ok, ids)
		}
	}
}

// TestWorkerTakesEngineFlags: a worker takes every flag of the main
// command that shapes the engine (engineFlagNames), --cert and --key
// among them, and checks them as the main command does, before it connects
// to NATS (nothing listens on port 1 here).
func TestWorkerTakesEngineFlags(t *testing.T) {
	_, out, _ := runCLI(t, "", "worker", "--help")
	for _, name := range engineFlagNames {
		if !strings.Contains(out, "--"+name+" ") {
			t.Errorf("fanout worker --help does not list --%s", name)
		}
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	code, _, errOut := runCLI(t, "", "worker", "--nats", "nats://127.0.0.1:1", "--exit-when-done", "--cert", missing)
	if code != ExitUsage || !strings.Contains(errOut, "--cert "+missing+": no such file") {
		t.Errorf("worker --cert %s: exit %d, stderr %q; want a usage error naming it", missing, code, errOut)
	}
}
