package dist

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fanout/fanout/engine"
	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/internal/simweb"
)

// handBuilt returns n targets over hosts host names of sim, as a caller
// builds them without package input: numbered, with no HostKey.
func handBuilt(sim *simweb.Server, n, hosts int) ([]fetch.Target, []string) {
	urls := manyHosts(sim, n, hosts, time.Millisecond)
	ts := make([]fetch.Target, n)
	for i, u := range urls {
		ts[i] = fetch.Target{Seq: uint64(i), Input: u, URL: u}
	}
	return ts, urls
}

// serveAndCollect runs a worker on run until it is done (within 30 s)
// and checks that each of the n targets has one result, fetched.
func serveAndCollect(t *testing.T, url string, sim *simweb.Server, run string, urls []string) {
	t.Helper()
	w := newWorker(t, url, WorkerConfig{Engine: engineConfig(t, sim, 16, 2), Run: run, ID: "w", ExitWhenDone: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Run(ctx, nil); err != nil {
		t.Fatalf("worker: %v (it fetched %d targets)", err, w.fetched.Load())
	}
	collectOK(t, url, run, urls)
}

// Targets built by hand, without a HostKey, are queued in their host's
// partition, with the HostKey the engine gives them: queued in the
// partition of the empty key, a worker's engine took their key from the
// URL, found that partition not held, and sent the batch back, which came
// again at once, for ever, at a core's worth of CPU.
func TestSubmitFillsHostKey(t *testing.T) {
	url := startNATS(t)
	sim := startSim(t, simweb.Config{})
	c := connect(t, url)
	const n = 40
	ts, urls := handBuilt(sim, n, 5)
	rc := testRun("handbuilt")
	if _, err := Submit(context.Background(), c, rc, engine.SliceSource(ts), nil); err != nil {
		t.Fatalf("Submit: %v", err)
	}

	ctx := context.Background()
	s, err := c.JS.Stream(ctx, targetStream(rc.Name))
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	queued := 0
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Split(m.Subject, ".") // fanout.<run>.t.<partition>.<n>
		p, _ := strconv.Atoi(f[3])
		data := m.Data
		if m.Header.Get(encHeader) == "s2" {
			if data, err = s2.Decode(nil, m.Data); err != nil {
				t.Fatal(err)
			}
		}
		got, err := parseTargets(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range got {
			want := fetch.HostKeyOf(tg.URL)
			if tg.HostKey != want || Partition(tg.HostKey, rc.Partitions) != p {
				t.Fatalf("target %d (%s) queued in partition %d with HostKey %q, want %q in partition %d",
					tg.Seq, tg.URL, p, tg.HostKey, want, Partition(want, rc.Partitions))
			}
			queued++
		}
	}
	if queued != n {
		t.Fatalf("%d targets queued, want %d", queued, n)
	}
	serveAndCollect(t, url, sim, rc.Name, urls)
}

// A worker serves targets queued without a HostKey in the partition of
// the empty key (as a Submit that did not fill it queued them) with that
// partition, which it holds, rather than sending them back for the
// partition of the key its engine takes from the URL, which it does not
// hold: they came back at once, for ever, and the run never ended.
func TestWorkerServesTargetsWithoutHostKey(t *testing.T) {
	url := startNATS(t)
	sim := startSim(t, simweb.Config{})
	c := connect(t, url)
	ctx := context.Background()
	const n = 40
	ts, urls := handBuilt(sim, n, 5)
	rc := testRun("nokey")
	// The run, with nothing queued yet, then its targets as one batch in
	// the empty key's partition, and the metadata saying they were
	// submitted.
	if _, err := Submit(ctx, c, rc, engine.SliceSource(nil), nil); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	var data []byte
	for i := range ts {
		data = appendTarget(data, &ts[i])
	}
	p := Partition("", rc.Partitions)
	var comp compressor
	if _, err := c.JS.PublishMsg(ctx, comp.msg(targetSubject(rc.Name, p, n), data), jetstream.WithMsgID(batchID(rc.Name, p, 0))); err != nil {
		t.Fatal(err)
	}
	runs, err := runsKV(ctx, c.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	meta, rev, err := metaIn(ctx, runs, rc.Name)
	if err != nil {
		t.Fatal(err)
	}
	meta.Submitted = n
	b, _ := json.Marshal(meta)
	if _, err := runs.Update(ctx, rc.Name, b, rev); err != nil {
		t.Fatal(err)
	}
	serveAndCollect(t, url, sim, rc.Name, urls)
}
