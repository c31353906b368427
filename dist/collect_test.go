package dist

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/internal/simweb"
)

// TestReaderRestartsAtItsPosition checks collect's remedy for a stuck
// ordered consumer: restartIfStalled starts a new reader at the stream
// sequence after the last message taken, so nothing is skipped or read
// twice, and leaves the reader alone when the stream holds nothing newer.
func TestReaderRestartsAtItsPosition(t *testing.T) {
	c := connect(t, startNATS(t))
	ctx := t.Context()
	rc := testRun("stall")
	if err := ensureRun(ctx, c.JS, rc); err != nil {
		t.Fatal(err)
	}
	publish := func(n int) {
		for i := range n {
			if _, err := c.JS.PublishMsg(ctx, (&compressor{}).msg(resultSubject(rc.Name, 1), []byte{byte(i)})); err != nil {
				t.Fatal(err)
			}
		}
	}
	take := func(rd *reader) uint64 {
		t.Helper()
		select {
		case m := <-rd.msgs:
			md, err := m.Metadata()
			if err != nil {
				t.Fatal(err)
			}
			rd.next = md.Sequence.Stream + 1 // as Collect does
			return md.Sequence.Stream
		case <-time.After(10 * time.Second):
			t.Fatal("no message from the reader")
			return 0
		}
	}
	publish(3)
	rd, err := startReader(ctx, c, rc.Name, 1)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := take(rd), take(rd); a != 1 || b != 2 {
		t.Fatalf("first reader gave stream sequences %d, %d; want 1, 2", a, b)
	}
	next, err := rd.restartIfStalled(ctx)
	if err != nil || next == rd {
		t.Fatalf("restartIfStalled with message 3 unread: same reader %v, err %v; want a new reader", next == rd, err)
	}
	rd = next
	defer func() { rd.stop() }()
	if got := take(rd); got != 3 {
		t.Fatalf("the new reader started at stream sequence %d, want 3 (the one after the last taken)", got)
	}
	if same, err := rd.restartIfStalled(ctx); err != nil || same != rd {
		t.Fatalf("restartIfStalled with nothing newer in the stream replaced the reader (err %v)", err)
	}
	publish(1)
	if got := take(rd); got != 4 {
		t.Fatalf("after a new message: stream sequence %d, want 4", got)
	}
}

// A collect that fails on a malformed message still writes what it took
// before it: its output is cut short at the failure, and exit 3 says so.
func TestCollectFailureKeepsWhatItTook(t *testing.T) {
	c := connect(t, startNATS(t))
	ctx := t.Context()
	rc := testRun("cut")
	submit(t, c, rc, []string{"http://a.test/1", "http://a.test/2", "http://a.test/3"})
	var good []byte
	for seq := range uint64(2) {
		good = appendResultLine(good, &fetch.Result{Seq: seq, Input: "x", Status: 200})
	}
	for _, data := range [][]byte{good, []byte("not a result line\n")} {
		if _, err := c.JS.PublishMsg(ctx, (&compressor{}).msg(resultSubject(rc.Name, 2), data)); err != nil {
			t.Fatal(err)
		}
	}
	var emitted, written []uint64
	emit := func(r *fetch.Result) error { emitted = append(emitted, r.Seq); return nil }
	flush := func() error { written = append(written, emitted...); emitted = nil; return nil }
	_, err := Collect(ctx, c, rc.Name, CollectOptions{FlushEvery: time.Hour}, emit, flush)
	if err == nil {
		t.Fatal("Collect of a malformed message: no error")
	}
	if len(written) != 2 {
		t.Errorf("after %v: written %v, want the 2 results before the malformed message", err, written)
	}
}

// TestCollectOutputErrorSaidOnce: an output that cannot be written fails
// the result's emit and then the flush with one sticky error (the
// encoders' way), which Collect's error says once, not twice.
func TestCollectOutputErrorSaidOnce(t *testing.T) {
	c := connect(t, startNATS(t))
	ctx := t.Context()
	rc := testRun("epipe")
	submit(t, c, rc, []string{"http://a.test/1"})
	line := appendResultLine(nil, &fetch.Result{Seq: 0, Input: "x", Status: 200})
	if _, err := c.JS.PublishMsg(ctx, (&compressor{}).msg(resultSubject(rc.Name, 1), line)); err != nil {
		t.Fatal(err)
	}
	outErr := fmt.Errorf("write output: %w", syscall.EPIPE)
	emit := func(*fetch.Result) error { return outErr }
	flush := func() error { return outErr }
	_, err := Collect(ctx, c, rc.Name, CollectOptions{FlushEvery: time.Hour}, emit, flush)
	if !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("Collect into a closed output: error %v, want EPIPE", err)
	}
	if got := strings.Count(err.Error(), "write output"); got != 1 {
		t.Errorf("error %q says the output error %d times, want once", err, got)
	}
}

// TestCollectSaysNoWorker: collect --follow of a run no worker serves
// says so, once, instead of waiting in silence; a worker that starts then
// brings the results, and the notice is not repeated.
func TestCollectSaysNoWorker(t *testing.T) {
	url := startNATS(t)
	sim := startSim(t, simweb.Config{})
	urls := manyHosts(sim, 20, 2, 0)
	rc := testRun("alone")
	submit(t, connect(t, url), rc, urls)

	told := make(chan uint64, 4)
	col := newCollector()
	done := make(chan error, 1)
	go func() {
		_, err := Collect(t.Context(), connect(t, url), rc.Name, CollectOptions{Follow: true,
			NoWorker: func(n uint64) { told <- n }}, col.emit, func() error { return nil })
		done <- err
	}()
	select {
	case n := <-told:
		if n != 20 {
			t.Errorf("NoWorker(%d), want the 20 targets waiting", n)
		}
	case err := <-done:
		t.Fatalf("Collect ended without a worker: %v", err)
	case <-time.After(readerStall + 10*time.Second):
		t.Fatal("no notice that no worker serves the run")
	}
	w := newWorker(t, url, WorkerConfig{Engine: engineConfig(t, sim, 8, 2), Run: rc.Name, ExitWhenDone: true})
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- w.Run(ctx, make(chan struct{})) }()
	defer func() { // its logging must end with the test: at once if the test failed
		if t.Failed() {
			cancel()
		}
		if err := <-ran; err != nil && ctx.Err() == nil {
			t.Errorf("worker: %v", err)
		}
		cancel()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("collect did not end after a worker started")
	}
	col.check(t, 20, urls)
	if len(told) > 0 {
		t.Errorf("NoWorker called again (%d) although a worker came", <-told)
	}
}

// TestCollectTellsEarlierFromDuplicates: a collect that continues an
// earlier one (Seen: the targets the store has) counts the results it
// meets again of those targets as Earlier, once each, not as duplicates:
// a re-run after a collect that died said "1000 duplicate results
// dropped" of the 1000 results the first had stored. Second results of
// a target are still duplicates, whether it was seen before or not.
func TestCollectTellsEarlierFromDuplicates(t *testing.T) {
	url := startNATS(t)
	sim := startSim(t, simweb.Config{})
	const n, before = 20, 5
	urls := manyHosts(sim, n, 4, time.Millisecond)
	rc := testRun("again")
	c := connect(t, url)
	submit(t, c, rc, urls)
	w := newWorker(t, url, WorkerConfig{Engine: engineConfig(t, sim, 8, 2), Run: rc.Name, ExitWhenDone: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := w.Run(ctx, make(chan struct{})); err != nil {
		t.Fatalf("worker: %v", err)
	}
	for _, seq := range []uint64{0, 10} { // second results: one of a target stored before, one not
		line := appendResultLine(nil, &fetch.Result{Seq: seq, Input: urls[seq], URL: urls[seq], Status: 200})
		if _, err := c.JS.PublishMsg(ctx, (&compressor{}).msg(resultSubject(rc.Name, 1), line)); err != nil {
			t.Fatal(err)
		}
	}
	col := newCollector()
	st, err := Collect(ctx, c, rc.Name, CollectOptions{Seen: func(seq uint64) bool { return seq < before }},
		col.emit, func() error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if st.Written != n-before || st.Earlier != before || st.Duplicates != 2 || !st.All {
		t.Errorf("written %d, earlier %d, duplicates %d, all %v; want %d, %d, 2, true",
			st.Written, st.Earlier, st.Duplicates, st.All, n-before, before)
	}
}
