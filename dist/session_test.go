package dist

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/fanout/fanout/fetch"
)

// The engine gets one target of each held batch in turn, from the start:
// batches of different partitions hold different hosts, and a local run's
// input interleaves the hosts too.
func TestNextInterleavesBatches(t *testing.T) {
	t.Parallel()
	s := &session{feed: make(chan *batch), srcStop: make(chan struct{}), balanced: make(chan struct{}),
		held: map[uint64]*batch{}, extra: map[uint64][]*batch{}}
	s.nparts.Store(3)
	go func() {
		seq := uint64(0)
		for _, h := range []string{"a", "b", "c"} {
			b := &batch{p: &partition{}}
			for range 3 {
				b.ts = append(b.ts, fetch.Target{Seq: seq, HostKey: h})
				seq++
			}
			b.left = len(b.ts)
			s.feed <- b
		}
	}()
	close(s.balanced)
	var got strings.Builder
	for range 9 {
		tg, err := s.Next()
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		got.WriteString(tg.HostKey)
	}
	if want := "abcabcabc"; got.String() != want {
		t.Errorf("hosts in the order handed out: got %s, want %s", got.String(), want)
	}
	if n := len(s.held); n != 9 {
		t.Errorf("targets held: got %d, want 9", n)
	}
	close(s.srcStop)
	if _, err := s.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("Next after the source stopped: got %v, want io.EOF", err)
	}
}

// TestStatusDoneAboveSubmitted: after a worker died, its redelivered
// targets may have two stored results; status says so rather than show
// more done than submitted without a word.
func TestStatusDoneAboveSubmitted(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	Status{Meta: Meta{RunConfig: RunConfig{Name: "r"}, Submitted: 5000, Complete: true}, Done: 5750}.Write(&b)
	if out := b.String(); !strings.Contains(out, "done         5750 results (at least 750 of them second results") {
		t.Errorf("status:\n%s", out)
	}
	b.Reset()
	Status{Meta: Meta{RunConfig: RunConfig{Name: "r"}, Submitted: 5000, Complete: true}, Done: 4000}.Write(&b)
	if out := b.String(); !strings.Contains(out, "done         4000\n") {
		t.Errorf("status:\n%s", out)
	}
}
