package output

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fanout/fanout/fetch"
)

func TestReorderShuffled(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		window int // how far a result may move from its place; 0 = anywhere
	}{{"full shuffle", 0}, {"window 64", 64}, {"in order", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const n = 10000
			rs := make([]*fetch.Result, n)
			for i := range rs {
				rs[i] = &fetch.Result{Seq: uint64(i)}
			}
			rng := rand.New(rand.NewPCG(1, uint64(tc.window)))
			if tc.window == 0 {
				rng.Shuffle(n, func(i, j int) { rs[i], rs[j] = rs[j], rs[i] })
			} else {
				for start := 0; start < n; start += tc.window {
					end := min(start+tc.window, n)
					rng.Shuffle(end-start, func(i, j int) { rs[start+i], rs[start+j] = rs[start+j], rs[start+i] })
				}
			}
			var got []uint64
			o := NewReorder(func(r *fetch.Result) error { got = append(got, r.Seq); return nil })
			maxPending := 0
			for _, r := range rs {
				if err := o.Push(r); err != nil {
					t.Fatal(err)
				}
				maxPending = max(maxPending, o.Pending())
			}
			if len(got) != n || o.Pending() != 0 || o.Next() != n {
				t.Fatalf("released %d, pending %d, next %d; want %d, 0, %d", len(got), o.Pending(), o.Next(), n, n)
			}
			for i, s := range got {
				if s != uint64(i) {
					t.Fatalf("release %d has seq %d", i, s)
				}
			}
			if tc.window > 0 && maxPending >= tc.window {
				t.Errorf("max pending %d with results at most %d out of place", maxPending, tc.window)
			}
			if tc.window > 0 && len(o.ring) > 2*max(tc.window, 64) {
				t.Errorf("ring grew to %d slots for a window of %d", len(o.ring), tc.window)
			}
		})
	}
}

func TestReorderErrors(t *testing.T) {
	t.Parallel()
	o := NewReorder(func(*fetch.Result) error { return nil })
	if err := o.Push(&fetch.Result{Seq: 0}); err != nil {
		t.Fatal(err)
	}
	if err := o.Push(&fetch.Result{Seq: 0}); err == nil {
		t.Error("pushing a released seq again: no error")
	}
	if err := o.Push(&fetch.Result{Seq: 5}); err != nil {
		t.Fatal(err)
	}
	if err := o.Push(&fetch.Result{Seq: 5}); err == nil {
		t.Error("pushing a pending seq again: no error")
	}
	if err := o.Push(&fetch.Result{Seq: 1 << 40}); err == nil {
		t.Error("a result 2^40 ahead: no error")
	}
	boom := errors.New("boom")
	o2 := NewReorder(func(r *fetch.Result) error {
		if r.Seq == 2 {
			return boom
		}
		return nil
	})
	_ = o2.Push(&fetch.Result{Seq: 2})
	_ = o2.Push(&fetch.Result{Seq: 1})
	if err := o2.Push(&fetch.Result{Seq: 0}); !errors.Is(err, boom) {
		t.Errorf("emit error not returned: %v", err)
	}
}

func BenchmarkReorder(b *testing.B) {
	const window = 1024
	rs := make([]*fetch.Result, 64*window)
	for i := range rs {
		rs[i] = &fetch.Result{Seq: uint64(i)}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for start := 0; start < len(rs); start += window {
		rng.Shuffle(window, func(i, j int) { rs[start+i], rs[start+j] = rs[start+j], rs[start+i] })
	}
	b.ReportAllocs()
	for b.Loop() {
		o := NewReorder(func(*fetch.Result) error { return nil })
		for _, r := range rs {
			_ = o.Push(r)
		}
	}
}

// TestReorderSkipping: Seqs that will never come (a resume's targets that
// already have results: a prefix and scattered others) hold nothing back,
// and the rest come out in order.
func TestReorderSkipping(t *testing.T) {
	t.Parallel()
	const n = 5000
	rng := rand.New(rand.NewPCG(7, 8))
	skip := map[uint64]bool{}
	for i := range uint64(300) {
		skip[i] = true // the prefix a first session wrote
	}
	for range 500 {
		skip[uint64(rng.IntN(n))] = true
	}
	var rs []*fetch.Result
	for i := range uint64(n) {
		if !skip[i] {
			rs = append(rs, &fetch.Result{Seq: i})
		}
	}
	for i := range rs { // out of order within a window
		j := min(len(rs)-1, i+rng.IntN(50))
		rs[i], rs[j] = rs[j], rs[i]
	}
	var got []uint64
	o := NewReorderSkipping(func(r *fetch.Result) error { got = append(got, r.Seq); return nil },
		func(seq uint64) bool { return skip[seq] })
	for _, r := range rs {
		if err := o.Push(r); err != nil {
			t.Fatal(err)
		}
	}
	if o.Pending() != 0 || len(got) != len(rs) {
		t.Fatalf("%d released, %d pending; want %d and 0", len(got), o.Pending(), len(rs))
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("released %d after %d", got[i], got[i-1])
		}
	}
}

// A nil emit is the caller's slip: the constructor panics, in the caller's
// goroutine and naming it, rather than the first Push in order with a nil
// dereference (in the CLI, on the goroutine that reads the results).
func TestNewReorderNilEmitPanics(t *testing.T) {
	for name, build := range map[string]func(){
		"NewReorder":                 func() { NewReorder(nil) },
		"NewReorderSkipping":         func() { NewReorderSkipping(nil, nil) },
		"NewReorderSkipping, a skip": func() { NewReorderSkipping(nil, func(uint64) bool { return false }) },
	} {
		t.Run(name, func(t *testing.T) {
			var p any
			func() {
				defer func() { p = recover() }()
				build()
			}()
			if msg, _ := p.(string); !strings.Contains(msg, "nil emit") {
				t.Errorf("recovered %v, want a panic that names the nil emit", p)
			}
		})
	}
}
