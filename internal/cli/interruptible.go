package cli

import (
	"errors"
	"sync/atomic"

	"github.com/fanout/fanout/engine"
	"github.com/fanout/fanout/fetch"
)

// errInterrupted ends a source read by stoppable after the first Ctrl-C.
var errInterrupted = errors.New("interrupted")

// stoppableChunk is how many targets stoppable's reader hands over at
// once: a channel operation per target would cost more than reading it.
const stoppableChunk = 256

// stoppable reads src in a goroutine of its own and stops at stop: its
// Next returns errInterrupted once stop is closed, also while src's Next
// is blocked (stdin from a producer that has not written more), and at
// src's end if stop is closed by then (a producer in the same process
// group gets the Ctrl-C too, and its death is an EOF that is not the end of
// the list). The goroutine blocked in src is abandoned: the process exits.
//
// dups is src's count of duplicate lines dropped, which the reading goroutine
// asks as it hands over each chunk (Duplicates gives the last count);
// close ends that goroutine once no more is wanted.
func stoppable(src engine.Source, dups func() uint64, stop <-chan struct{}) *stoppableSource {
	s := &stoppableSource{stop: stop, done: make(chan struct{}), chunks: make(chan stoppableRead, 2)}
	go s.read(src, dups)
	return s
}

type stoppableRead struct {
	ts  []fetch.Target
	err error // after ts: io.EOF or src's error
}

type stoppableSource struct {
	stop   <-chan struct{}
	done   chan struct{} // closed by close
	dups   atomic.Uint64
	chunks chan stoppableRead
	cur    []fetch.Target
	err    error // the last chunk's, once cur is used up
}

func (s *stoppableSource) read(src engine.Source, dups func() uint64) {
	for {
		ts := make([]fetch.Target, 0, stoppableChunk)
		var err error
		for len(ts) < stoppableChunk {
			var t fetch.Target
			if t, err = src.Next(); err != nil {
				break
			}
			ts = append(ts, t)
		}
		s.dups.Store(dups())
		select {
		case s.chunks <- stoppableRead{ts, err}:
		case <-s.stop:
			return
		case <-s.done:
			return
		}
		if err != nil {
			return
		}
	}
}

func (s *stoppableSource) Next() (fetch.Target, error) {
	select {
	case <-s.stop:
		return fetch.Target{}, errInterrupted
	default:
	}
	for len(s.cur) == 0 {
		if s.err != nil {
			select {
			case <-s.stop:
				return fetch.Target{}, errInterrupted
			default:
				return fetch.Target{}, s.err
			}
		}
		select {
		case <-s.stop:
			return fetch.Target{}, errInterrupted
		case c := <-s.chunks:
			s.cur, s.err = c.ts, c.err
		}
	}
	t := s.cur[0]
	s.cur = s.cur[1:]
	return t, nil
}

// Duplicates is the source's count of duplicates as of the last chunk read.
func (s *stoppableSource) Duplicates() uint64 { return s.dups.Load() }

// close ends the reading goroutine, unless it is blocked in src's Next.
func (s *stoppableSource) close() { close(s.done) }

// isClosed reports whether c is closed (an Interrupt that fired).
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
