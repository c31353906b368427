package engine

import (
	"io"

	"github.com/fanout/fanout/fetch"
)

// SliceSource returns a Source over ts, in order. It is meant for tests and
// small programs; large inputs should stream (input.Reader).
//
// The targets are passed on as they are: each result carries its target's
// Seq, and hand-built targets all have Seq 0 unless set. Give each its own
// Seq, from 0 in order, as input.Reader does, for results that are to be
// recorded (store.Recorder refuses a second result for a Seq) or put in
// order (output.Reorder).
func SliceSource(ts []fetch.Target) Source { return &sliceSource{ts: ts} }

type sliceSource struct {
	ts []fetch.Target
	i  int
}

func (s *sliceSource) Next() (fetch.Target, error) {
	if s.i >= len(s.ts) {
		return fetch.Target{}, io.EOF
	}
	s.i++
	return s.ts[s.i-1], nil
}

// FuncSource adapts a function to a Source.
type FuncSource func() (fetch.Target, error)

// Next calls f.
func (f FuncSource) Next() (fetch.Target, error) { return f() }
