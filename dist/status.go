package dist

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Status is a run's progress as the cluster sees it.
type Status struct {
	Meta Meta
	// Done counts results stored (a result stored twice after its
	// duplicate window counts twice; collect writes it once).
	Done uint64
	// Pending counts targets not yet acknowledged, in flight included.
	Pending uint64
	// InFlight counts targets delivered to a worker and not acknowledged:
	// JetStream keeps counting a target handed back (a negative
	// acknowledgement, as a worker stopping does) until it is delivered
	// again, so with no worker running it is not work in progress.
	InFlight uint64
	// Redelivered counts targets delivered more than once and not yet
	// acknowledged, from the consumers' state; WorkerRedelivered sums the
	// live workers' counts since they started.
	Redelivered       uint64
	WorkerRedelivered int64
	// Leases maps each held partition to its worker.
	Leases map[int]string
	// Workers are the live workers, by ID.
	Workers []WorkerStatus
}

// WorkerStatus is one live worker's heartbeat.
type WorkerStatus struct {
	ID          string
	Done        int64     // results published since the worker started
	Rate        float64   // results per second over the last heartbeat
	Redelivered int64     // redelivered targets it received
	Partitions  []int     // partitions it holds
	At          time.Time // when it last reported
}

// RunStatus gathers run's status from its streams, consumers and leases.
func RunStatus(ctx context.Context, c *Conn, run string) (Status, error) {
	var st Status
	meta, _, err := LoadMeta(ctx, c.JS, run)
	if err != nil {
		return st, err
	}
	st.Meta = meta
	ts, err := c.JS.Stream(ctx, targetStream(run))
	if err != nil {
		return st, fmt.Errorf("run %q: %w", run, err)
	}
	info, err := ts.Info(ctx)
	if err != nil {
		return st, err
	}
	st.Pending = info.State.Msgs
	for ci := range ts.ListConsumers(ctx).Info() {
		st.InFlight += uint64(ci.NumAckPending)
		st.Redelivered += uint64(ci.NumRedelivered)
	}
	rs, err := c.JS.Stream(ctx, resultStream(run))
	if err != nil {
		return st, fmt.Errorf("run %q: %w", run, err)
	}
	if ri, err := rs.Info(ctx); err == nil {
		st.Done = ri.State.Msgs
	}
	st.Leases = map[int]string{}
	kv, err := c.JS.KeyValue(ctx, leaseBucket(run))
	if err != nil {
		return st, nil
	}
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return st, nil
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	for _, k := range keys {
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(k, "p."):
			var n int
			fmt.Sscanf(k, "p.%d", &n)
			st.Leases[n] = string(e.Value())
		case strings.HasPrefix(k, "w."):
			var ws workerStat
			if json.Unmarshal(e.Value(), &ws) == nil {
				sort.Ints(ws.Partitions)
				st.Workers = append(st.Workers, WorkerStatus{ID: ws.ID, Done: ws.Done, Rate: ws.Rate,
					Redelivered: ws.Redelivered, Partitions: ws.Partitions, At: ws.At})
				st.WorkerRedelivered += ws.Redelivered
			}
		}
	}
	sort.Slice(st.Workers, func(i, j int) bool { return st.Workers[i].ID < st.Workers[j].ID })
	return st, nil
}

// Write prints st for people.
func (st Status) Write(w io.Writer) {
	m := st.Meta
	state := "submitting"
	if m.Complete {
		state = "submitted"
		if st.Pending == 0 {
			state = "done"
		}
	}
	fmt.Fprintf(w, "run          %s (%s, created %s)\n", m.Name, state, m.Created.Local().Format(time.DateTime))
	fmt.Fprintf(w, "submitted    %d\n", m.Submitted)
	fmt.Fprintf(w, "done         %d\n", st.Done)
	fmt.Fprintf(w, "pending      %d (%d delivered and not acknowledged: in flight, or handed back)\n", st.Pending, st.InFlight)
	fmt.Fprintf(w, "redelivered  %d now pending again, %d seen by live workers\n", st.Redelivered, st.WorkerRedelivered)
	fmt.Fprintf(w, "partitions   %d, %d leased, lease TTL %v, ack wait %v, replicas %d\n",
		m.Partitions, len(st.Leases), m.LeaseTTL, m.AckWait, m.Replicas)
	fmt.Fprintf(w, "workers      %d\n", len(st.Workers))
	for _, ws := range st.Workers {
		fmt.Fprintf(w, "  %-28s %8.1f/s  done %-9d redelivered %-6d partitions %d\n",
			ws.ID, ws.Rate, ws.Done, ws.Redelivered, len(ws.Partitions))
	}
}
