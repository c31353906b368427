package dist

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go"

	"github.com/fanout/fanout/fetch"
)

// startNATSMaxPayload is startNATS with the server's max_payload set to
// limit bytes, as a stock nats-server's 1 MiB, only smaller.
func startNATSMaxPayload(t testing.TB, limit int32) string {
	t.Helper()
	srv, err := StartServer(ServerConfig{Host: "127.0.0.1", Port: -1, StoreDir: t.TempDir(), MaxPayload: limit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv.ClientURL()
}

// A batch whose results make a message larger than the server's
// max_payload is published in parts that fit. Its single results message
// failed with "maximum payload exceeded", the batch went back at once, and
// every target was fetched again, in a loop as fast as the host answered
// (a reviewer saw 18,000 requests a second to one host, with a stock
// nats-server's 1 MiB and --batch 10000).
func TestResultsOverMaxPayloadArePublishedInParts(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	url := startNATSMaxPayload(t, limit)
	c := connect(t, url)
	site := startCountingSite(t, 1000)
	const n, batch = 400, 200
	urls := site.urls(n, "")
	rc := testRun("bigresults")
	rc.Partitions, rc.Batch = 1, batch
	submit(t, c, rc, urls)

	w := serveToEnd(t, url, site, rc.Name, urls, 30*time.Second)
	if got := w.done.Load(); got != n {
		t.Errorf("worker done %d, want %d", got, n)
	}
	// Each part counts its own results: status adds them up to n.
	st, err := RunStatus(context.Background(), c, rc.Name)
	if err != nil {
		t.Fatal(err)
	}
	if st.Done != n || st.Pending != 0 {
		t.Errorf("status: done %d pending %d, want %d and 0", st.Done, st.Pending, n)
	}
	// ~1.2 KB a result: each batch's results took several messages.
	msgs := msgsIn(t, c, resultStream(rc.Name))
	t.Logf("%d results of %d batches in %d messages of at most %d bytes", n, n/batch, msgs, limit)
	if msgs <= n/batch {
		t.Errorf("%d result messages for %d batches: the results were not split, and the test shows nothing", msgs, n/batch)
	}
}

// The parts of a batch's results depend on which targets they hold, not on
// the order their results came in: a batch delivered again, whose parts
// have the ids of parts stored before, holds the same targets in each, so
// that dropping them as duplicates loses no result.
func TestResultPartsHoldTheSameTargetsInAnyOrder(t *testing.T) {
	t.Parallel()
	url := startNATSMaxPayload(t, 16<<10)
	c := connect(t, url)
	rc := testRun("parts")
	rc.Partitions = 1
	if err := ensureRun(context.Background(), c.JS, rc); err != nil {
		t.Fatal(err)
	}
	w := &Worker{c: c}
	s := &session{w: w, meta: Meta{RunConfig: rc}}
	site := startCountingSite(t, 1)
	const n = 60
	b := &batch{id: "parts.0.0"}
	var lines [][]byte
	for i := range n {
		u := fmt.Sprintf("%s/%d", site.URL, i)
		b.ts = append(b.ts, fetch.Target{Seq: uint64(i), Input: u, URL: u, HostKey: fetch.HostKeyOf(u)})
		title := strings.Repeat(fmt.Sprintf("%x", sha256.Sum256([]byte(u))), 20)
		lines = append(lines, appendResultLine(nil, &fetch.Result{Seq: uint64(i), Input: u, URL: u, Status: 200, Title: title}))
	}
	partsOf := func(order []int) map[string][]uint64 {
		b.out = b.out[:0]
		for _, i := range order {
			b.out = append(b.out, lines[i]...)
		}
		got := map[string][]uint64{}
		size := len((&compressor{}).msg("x", b.out).Data)
		msgs, ids, err := s.splitResults(b, b.id, c.NC.MaxPayload(), size)
		if err != nil {
			t.Fatal(err)
		}
		for j, m := range msgs {
			data, err := decodeBody(m.Header, m.Data)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Data)+len(ids[j])+msgOverhead > int(c.NC.MaxPayload()) {
				t.Errorf("part %s: %d bytes, over the limit", ids[j], len(m.Data))
			}
			var seqs []uint64
			var l resultLine
			for len(data) > 0 {
				if data, err = nextResultLine(data, &l); err != nil {
					t.Fatal(err)
				}
				seqs = append(seqs, l.seq)
			}
			if subjectCount(m.Subject) != uint64(len(seqs)) {
				t.Errorf("part %s: subject %s for %d results", ids[j], m.Subject, len(seqs))
			}
			slices.Sort(seqs)
			got[ids[j]] = seqs
		}
		return got
	}
	fwd, rev := make([]int, n), make([]int, n)
	for i := range n {
		fwd[i], rev[i] = i, n-1-i
	}
	a, z := partsOf(fwd), partsOf(rev)
	if len(a) < 2 {
		t.Fatalf("%d parts: the results were not split", len(a))
	}
	total := 0
	for id, seqs := range a {
		total += len(seqs)
		if fmt.Sprint(z[id]) != fmt.Sprint(seqs) {
			t.Errorf("part %s holds %v in one order, %v in another", id, seqs, z[id])
		}
	}
	if total != n || len(z) != len(a) {
		t.Errorf("%d results in %d parts (and %d parts the other way), want %d", total, len(a), len(z), n)
	}
}

// decodeBody is body, for a message read from the stream or built to be
// published.
func decodeBody(h nats.Header, data []byte) ([]byte, error) {
	if h.Get(encHeader) == "s2" {
		return s2.Decode(nil, data)
	}
	return data, nil
}

// A result too large for a message of its own (a server with a small
// max_payload) is stored as a result saying so, in its target's place: its
// batch went back, after the growing delay, for ever, and each of its
// targets was fetched again every minute.
func TestResultAloneOverMaxPayload(t *testing.T) {
	t.Parallel()
	const limit = 1200 // below one result with a 1,024-digit title, above the rest of the traffic
	url := startNATSMaxPayload(t, limit)
	c := connect(t, url)
	site := startCountingSite(t, 1024)
	const n = 6
	urls := site.urls(n, "alone")
	rc := testRun("alone")
	rc.Partitions, rc.Batch = 1, 3
	submit(t, c, rc, urls)
	w := newWorker(t, url, WorkerConfig{Engine: siteEngine(), Run: rc.Name, ID: "w1", ExitWhenDone: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Run(ctx, nil); err != nil {
		t.Fatalf("worker: %v (the site served %d requests for %d targets)", err, site.requests(), n)
	}
	site.checkOnce(t, urls)
	col := newCollector()
	if _, err := Collect(ctx, c, rc.Name, CollectOptions{Follow: true}, col.emit, func() error { return nil }); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	col.check(t, n, urls)
	for seq, r := range col.results {
		if r.Error == nil || r.Error.Kind != fetch.KindOther || !strings.Contains(r.Error.Message, "larger than the NATS server's max_payload") {
			t.Errorf("seq %d: %+v, want an error saying the result was too large", seq, r.Error)
		}
	}
}
