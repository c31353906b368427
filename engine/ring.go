package engine

// ring is a FIFO that can also push at the front (for retries that are due
// again). It grows by doubling and never shrinks below its peak, which the
// window bounds.
type ring[T any] struct {
	buf  []T
	head int
	n    int
}

func (q *ring[T]) len() int { return q.n }

func (q *ring[T]) grow() {
	if q.n < len(q.buf) {
		return
	}
	nb := make([]T, max(4, 2*len(q.buf)))
	for i := 0; i < q.n; i++ {
		nb[i] = q.buf[(q.head+i)%len(q.buf)]
	}
	q.buf, q.head = nb, 0
}

func (q *ring[T]) pushBack(v T) {
	q.grow()
	q.buf[(q.head+q.n)%len(q.buf)] = v
	q.n++
}

func (q *ring[T]) pushFront(v T) {
	q.grow()
	q.head = (q.head - 1 + len(q.buf)) % len(q.buf)
	q.buf[q.head] = v
	q.n++
}

func (q *ring[T]) front() T { return q.buf[q.head] }

func (q *ring[T]) popFront() T {
	var zero T
	v := q.buf[q.head]
	q.buf[q.head] = zero // let the garbage collector have it
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	if q.n == 0 {
		q.head = 0
	}
	return v
}

// release drops the backing array once the queue is empty, so a host that
// once had thousands of queued targets does not keep their slots.
func (q *ring[T]) release() {
	if q.n == 0 && len(q.buf) > 64 {
		q.buf, q.head = nil, 0
	}
}
