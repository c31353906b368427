package output

import (
	"fmt"

	"github.com/fanout/fanout/fetch"
)

// maxReorderAhead bounds how far ahead of the next expected sequence number
// a result may arrive: 16M slots (128 MiB of pointers). The engine's window
// keeps the real distance far below; a larger gap means a lost result or a
// bug, and is reported rather than allocated.
const maxReorderAhead = 1 << 24

// Reorder releases results in Seq order starting at 0, whatever order they
// are pushed in. Results that arrive early wait in a ring indexed by Seq, so
// memory is bounded by how far ahead results arrive. One goroutine owns a
// Reorder. Make it with NewReorder or NewReorderSkipping, with an emit that
// is not nil: the zero Reorder has nowhere to send results.
type Reorder struct {
	emit    func(*fetch.Result) error
	skip    func(seq uint64) bool // Seqs that will never be pushed; may be nil
	next    uint64                // Seq of the next result to release
	ring    []*fetch.Result       // len is a power of two; slot Seq & (len-1)
	pending int
}

// NewReorder returns a Reorder that passes results to emit in order. It
// panics if emit is nil.
func NewReorder(emit func(*fetch.Result) error) *Reorder {
	return NewReorderSkipping(emit, nil)
}

// NewReorderSkipping returns a Reorder that passes results to emit in
// order, passing over the Seqs for which skip is true: they will never be
// pushed (a resumed run does not fetch the targets it already has results
// for), and waiting for them would hold every later result back. A nil
// skip skips nothing; a nil emit panics.
func NewReorderSkipping(emit func(*fetch.Result) error, skip func(seq uint64) bool) *Reorder {
	if emit == nil {
		// Here, at the mistake: else the first Push in order panics with
		// a nil dereference, often on a goroutine far from this call.
		panic("output: NewReorder with a nil emit function")
	}
	o := &Reorder{emit: emit, skip: skip}
	o.passSkipped()
	return o
}

// passSkipped moves next past the Seqs that will never be pushed.
func (o *Reorder) passSkipped() {
	if o.skip == nil {
		return
	}
	for o.skip(o.next) {
		o.next++
	}
}

// Push accepts one result and calls emit for every result now in order. It
// returns emit's first error, or an error for a result whose Seq was already
// pushed or is implausibly far ahead.
func (o *Reorder) Push(r *fetch.Result) error {
	if r.Seq < o.next {
		return fmt.Errorf("reorder: result %d pushed twice (next expected is %d)", r.Seq, o.next)
	}
	if r.Seq == o.next && o.pending == 0 {
		o.next++ // the common case when results come in order: no storing
		o.passSkipped()
		return o.emit(r)
	}
	ahead := r.Seq - o.next
	if ahead >= maxReorderAhead {
		return fmt.Errorf("reorder: result %d is %d ahead of the next expected %d", r.Seq, ahead, o.next)
	}
	if ahead >= uint64(len(o.ring)) {
		o.grow(ahead + 1)
	}
	slot := &o.ring[r.Seq&uint64(len(o.ring)-1)]
	if *slot != nil {
		return fmt.Errorf("reorder: result %d pushed twice", r.Seq)
	}
	*slot = r
	o.pending++
	for o.pending > 0 {
		slot := &o.ring[o.next&uint64(len(o.ring)-1)]
		x := *slot
		if x == nil {
			break
		}
		*slot = nil
		o.pending--
		o.next++
		o.passSkipped()
		if err := o.emit(x); err != nil {
			return err
		}
	}
	return nil
}

// grow resizes the ring to hold at least n results from next on.
func (o *Reorder) grow(n uint64) {
	size := max(len(o.ring), 64)
	for uint64(size) < n {
		size *= 2
	}
	ring := make([]*fetch.Result, size)
	for _, x := range o.ring {
		if x != nil {
			ring[x.Seq&uint64(size-1)] = x
		}
	}
	o.ring = ring
}

// Pending returns the number of results waiting for an earlier one.
func (o *Reorder) Pending() int { return o.pending }

// Next returns the sequence number of the next result to be released; every
// result before it has been passed to emit.
func (o *Reorder) Next() uint64 { return o.next }
