package dist

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A re-submit to an existing run is refused (ErrOtherInput, nothing
// queued) unless its input is the one the run was submitted from, as far
// as it was submitted: the same input after a crash continues the run,
// and again after the end queues nothing. A different input used to be
// taken for the same: its batches' ids were the run's, so it queued
// nothing, or after a crash a mix of both. A run submitted before
// fingerprints takes any input, as it did.
func TestResubmitOtherInputRefused(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	c := connect(t, url)
	ctx := context.Background()
	list := func(n int, path string) []string {
		urls := make([]string, n)
		for i := range urls {
			urls[i] = fmt.Sprintf("http://h%d.example/%s/%d", i%40, path, i)
		}
		return urls
	}
	const n = 5000
	input := list(n, "a")
	for i, tc := range []struct {
		name    string
		crashAt int  // the first submit dies after this many targets (0: it finishes)
		old     bool // the run's metadata has no fingerprint, as an older fanout's
		again   []string
		refused bool
		batch   int // 0: 10, so that batches are cut early
	}{
		{"same input after the end", 0, false, input, false, 0},
		{"same input after a crash", 3500, false, input, false, 0},
		{"same input and more after a crash", 3500, false, append(list(n, "a"), list(100, "more")...), false, 0},
		{"other input after the end", 0, false, list(n, "b"), true, 0},
		{"other input after a crash", 3500, false, list(n, "b"), true, 0},
		{"longer input after the end", 0, false, append(list(n, "a"), list(100, "more")...), true, 0},
		{"shorter input after the end", 0, false, input[:n-1], true, 0},
		{"shorter input after a crash", 3500, false, input[:1000], true, 0},
		{"last target other after the end", 0, false, append(list(n-1, "a"), "http://h0.example/b"), true, 0},
		{"other input after an older fanout's end", 0, true, list(n, "b"), false, 0},
		// With the default batch of 500 no partition has sent a batch by
		// 3500 targets, so the checkpoint mark is still 0: the fingerprint
		// must be saved all the same.
		{"other input after an early crash, default batches", 3500, false, list(n, "b"), true, DefaultRunConfig().Batch},
		{"same input after an early crash, default batches", 3500, false, input, false, DefaultRunConfig().Batch},
		// Batches were queued before the first checkpoint: the fingerprint
		// is saved before the first of them.
		{"other input after a crash before the first checkpoint", 500, false, list(n, "b"), true, 0},
		{"same input after a crash before the first checkpoint", 500, false, input, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := testRun(fmt.Sprintf("other%d", i))
			rc.Batch = cmp.Or(tc.batch, 10)
			if tc.crashAt > 0 {
				if _, err := Submit(ctx, c, rc, &failingSource{inputOf(input), tc.crashAt}, nil); err == nil {
					t.Fatal("Submit of a failing source: no error")
				}
				// It returned without waiting for its last publishes.
				select {
				case <-c.JS.PublishAsyncComplete():
				case <-time.After(10 * time.Second):
					t.Fatal("the crashed submit's publishes still pending after 10s")
				}
			} else {
				submit(t, c, rc, input)
			}
			if tc.old {
				forgetFingerprint(t, c, rc.Name)
			}
			before := streamMsgs(t, c, rc.Name)
			st, err := Submit(ctx, c, rc, inputOf(tc.again), nil)
			if tc.refused {
				if !errors.Is(err, ErrOtherInput) {
					t.Fatalf("re-submit: %+v, %v; want ErrOtherInput", st, err)
				}
				if after := streamMsgs(t, c, rc.Name); after != before || st.Published != 0 {
					t.Errorf("refused re-submit queued %d targets, %d messages", st.Published, after-before)
				}
				return
			}
			if err != nil {
				t.Fatalf("re-submit: %v", err)
			}
			want := uint64(len(tc.again))
			if tc.old {
				want = n // the run is the first input's
			}
			if !st.Meta.Complete || st.Meta.Submitted != want || st.Skipped+st.Published != want {
				t.Errorf("re-submit: %d queued before, %d now, %d in the run, complete %v; want %d in all",
					st.Skipped, st.Published, st.Meta.Submitted, st.Meta.Complete, want)
			}
			if tc.crashAt == 0 && st.Published != 0 {
				t.Errorf("re-submit of a finished run queued %d targets", st.Published)
			}
		})
	}
}

// streamMsgs returns the number of work messages in run's targets stream.
func streamMsgs(t *testing.T, c *Conn, run string) uint64 {
	t.Helper()
	return msgsIn(t, c, targetStream(run))
}

// msgsIn returns the number of messages in the stream named stream.
func msgsIn(t testing.TB, c *Conn, stream string) uint64 {
	t.Helper()
	s, err := c.JS.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// forgetFingerprint makes run's metadata look written by a fanout from
// before input fingerprints.
func forgetFingerprint(t *testing.T, c *Conn, run string) {
	t.Helper()
	ctx := context.Background()
	kv, err := runsKV(ctx, c.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := metaIn(ctx, kv, run)
	if err != nil {
		t.Fatal(err)
	}
	m.InputTargets, m.InputHash = 0, ""
	b, _ := json.Marshal(m)
	if _, err := kv.Put(ctx, run, b); err != nil {
		t.Fatal(err)
	}
}

// Submits of the same input to the same run, started at once (a script on
// several machines, or a retry while the first still runs): the run's
// metadata is saved by one at a time, so the others fail with
// ErrConcurrentSubmit, which says to submit again once the other is done,
// and nothing is queued twice. They used to fail with the key-value
// store's raw "wrong last sequence: key exists" or "key revision mismatch".
func TestConcurrentSubmitsOfOneRun(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	ctx := context.Background()
	urls := make([]string, 20000)
	for i := range urls {
		urls[i] = fmt.Sprintf("http://h%d.example/%d", i%30, i)
	}
	for round := range 3 {
		rc := testRun(fmt.Sprintf("together%d", round))
		rc.Batch = 10 // checkpoints early and often
		const n = 6
		errs := make(chan error, n)
		for range n {
			c := connect(t, url)
			go func() {
				_, err := Submit(ctx, c, rc, inputOf(urls), nil)
				errs <- err
			}()
		}
		ok := 0
		for range n {
			switch err := <-errs; {
			case err == nil:
				ok++
			case !errors.Is(err, ErrConcurrentSubmit):
				t.Errorf("round %d: Submit: %v, want nil or ErrConcurrentSubmit", round, err)
			}
		}
		if ok == 0 {
			t.Errorf("round %d: no submit succeeded", round)
		}
		c := connect(t, url)
		// Once they are done, the same input again is all queued.
		if st := submit(t, c, rc, urls); !st.Finished || st.Published != 0 {
			t.Errorf("round %d: submit again: %+v, want finished before and nothing published", round, st)
		}
		st, err := RunStatus(ctx, c, rc.Name)
		if err != nil {
			t.Fatal(err)
		}
		if st.Pending != uint64(len(urls)) || st.Meta.Submitted != uint64(len(urls)) || !st.Meta.Complete {
			t.Errorf("round %d: %d targets queued, %d submitted (complete %v), want %d", round,
				st.Pending, st.Meta.Submitted, st.Meta.Complete, len(urls))
		}
	}
}

// TestSubmitBadMetadataIsAnError: a run whose metadata cannot be read (it
// does not parse here; a timeout in a failover is the same) is not taken
// for a new run: that reconfigured the run's streams to this submit's
// settings and then blamed another submit.
func TestSubmitBadMetadataIsAnError(t *testing.T) {
	t.Parallel()
	c := connect(t, startNATS(t))
	ctx := context.Background()
	rc := testRun("badmeta")
	runs, err := runsKV(ctx, c.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runs.Create(ctx, rc.Name, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	_, err = Submit(ctx, c, rc, inputOf([]string{"http://127.0.0.1:9/a"}), nil)
	if err == nil || !strings.Contains(err.Error(), "bad metadata") || errors.Is(err, ErrConcurrentSubmit) {
		t.Fatalf("Submit over bad metadata: %v", err)
	}
	if _, err := c.JS.Stream(ctx, targetStream(rc.Name)); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("the run's target stream was made (%v)", err)
	}
}

// --replicas above 1 on a server outside a cluster is refused with
// ErrReplicas, which says what to do, whether the runs bucket exists yet or
// not; it used to be JetStream's error 10074 with "submit the same input
// again to continue", which fails the same way.
func TestSubmitReplicasWithoutCluster(t *testing.T) {
	t.Parallel()
	c := connect(t, startNATS(t))
	urls := []string{"http://h1.example/a", "http://h2.example/b"}
	for _, name := range []string{"first", "second"} { // second: the runs bucket exists
		rc := testRun("r3-" + name)
		rc.Replicas = 3
		_, err := Submit(context.Background(), c, rc, inputOf(urls), nil)
		if !errors.Is(err, ErrReplicas) {
			t.Fatalf("%s: Submit with --replicas 3 on one server: %v, want ErrReplicas", name, err)
		}
		if name == "first" {
			submit(t, c, testRun("r1"), urls)
		}
	}
}

// JetStream's "no suitable peers for placement" says what to do: wait for
// the cluster's servers or lower --replicas. It stays a retryable error,
// not ErrReplicas, since the same submit succeeds once the servers are up.
func TestReplicasErrNoPeers(t *testing.T) {
	t.Parallel()
	api := &jetstream.APIError{Code: 400, ErrorCode: jsErrNoPeers, Description: "no suitable peers for placement"}
	err := replicasErr(3, fmt.Errorf("create stream x: %w", api))
	if errors.Is(err, ErrReplicas) {
		t.Errorf("%v: is ErrReplicas, want a retryable error", err)
	}
	if !errors.Is(err, api) || !strings.Contains(err.Error(), "fewer than 3 JetStream servers") || !strings.Contains(err.Error(), "--replicas") {
		t.Errorf("replicasErr = %q, want the API error with a hint naming 3 servers and --replicas", err)
	}
	other := &jetstream.APIError{Code: 500, ErrorCode: 10999, Description: "other"}
	if err := replicasErr(3, other); err != error(other) {
		t.Errorf("replicasErr(other) = %v, want it unchanged", err)
	}
}
