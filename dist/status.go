package dist

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Status is a run's progress as the cluster sees it. Every count is of
// targets, not of messages.
type Status struct {
	// Meta is the run's record from the fanout_runs bucket.
	Meta Meta
	// Done counts results stored (a result stored twice after its
	// duplicate window, or by a batch that was interrupted and delivered
	// again, counts twice; collect writes it once).
	Done uint64
	// Pending counts targets not yet acknowledged, in flight included.
	Pending uint64
	// InFlight counts targets live workers hold: delivered to them and not
	// yet acknowledged.
	InFlight uint64
	// Unstored counts the targets of InFlight already fetched, whose
	// results wait for the rest of their batch: results are stored a batch
	// at a time, so Done alone stood still during a slow batch.
	Unstored uint64
	// Redelivered counts targets live workers hold that were delivered
	// before (to a worker that died or gave them back); WorkerRedelivered
	// sums the live workers' counts since they started.
	Redelivered       uint64
	WorkerRedelivered int64
	// Leases maps each held partition to its worker.
	Leases map[int]string
	// Workers are the live workers, by ID.
	Workers []WorkerStatus
	// LeasesErr says why the leases and workers could not be read (the
	// bucket's server failing over, say): Leases and Workers are then
	// unknown, not empty.
	LeasesErr error
}

// WorkerStatus is one live worker's heartbeat.
type WorkerStatus struct {
	ID          string    // the worker's WorkerConfig.ID (host-pid by default)
	Done        int64     // results stored since it started on the run
	Fetched     int64     // targets it finished: Done, and results waiting for their batch
	Rate        float64   // targets fetched per second over the last heartbeat
	Redelivered int64     // redelivered targets it received
	Partitions  []int     // partitions it holds
	At          time.Time // when it last reported
}

// RunStatus gathers run's status from its streams, consumers and leases.
func RunStatus(ctx context.Context, c *Conn, run string) (Status, error) {
	var st Status
	meta, _, err := LoadMeta(ctx, c.JS, run)
	if err == nil {
		err = meta.usable()
	}
	if err != nil {
		return st, err
	}
	st.Meta = meta
	ts, err := c.JS.Stream(ctx, targetStream(run))
	if err != nil {
		return st, fmt.Errorf("run %q: %w", run, err)
	}
	if st.Pending, err = countTargets(ctx, ts, targetFilter(run)); err != nil {
		return st, err
	}
	rs, err := c.JS.Stream(ctx, resultStream(run))
	if err != nil {
		return st, fmt.Errorf("run %q: %w", run, err)
	}
	if st.Done, err = countTargets(ctx, rs, resultFilter(run)); err != nil {
		return st, err
	}
	st.Leases = map[int]string{}
	kv, err := c.JS.KeyValue(ctx, leaseBucket(run))
	if err != nil {
		st.LeasesErr = err
		return st, nil
	}
	// A listing waits for the end of the bucket's keys as the server
	// counted them at its start; a lease that expires meanwhile never
	// comes, nor the end: status hung there for good (a test saw it
	// once in CI). The lister ends with its context.
	lctx, cancel := ctxOr(ctx, listWait)
	defer cancel()
	lister, err := kv.ListKeys(lctx)
	if err != nil {
		st.LeasesErr = err
		return st, nil
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	if err := lctx.Err(); err != nil {
		st.LeasesErr = fmt.Errorf("listing the leases: %w", err)
		return st, nil
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
				st.Workers = append(st.Workers, WorkerStatus{ID: ws.ID, Done: ws.Done, Fetched: max(ws.Fetched, ws.Done), Rate: ws.Rate,
					Redelivered: ws.Redelivered, Partitions: ws.Partitions, At: ws.At})
				st.WorkerRedelivered += ws.Redelivered
				st.InFlight += uint64(max(ws.Holding, 0))
				st.Unstored += uint64(max(ws.Fetched-ws.Done, 0))
				st.Redelivered += uint64(max(ws.HoldingRedelivered, 0))
			}
		}
	}
	sort.Slice(st.Workers, func(i, j int) bool { return st.Workers[i].ID < st.Workers[j].ID })
	// Heartbeats are up to a heartbeat old, the streams' counts are not:
	// a worker that held 450 targets at its last beat may have finished
	// them all since, and "0 pending (450 in flight)" would be nonsense.
	st.InFlight = min(st.InFlight, st.Pending)
	st.Unstored = min(st.Unstored, st.InFlight)
	st.Redelivered = min(st.Redelivered, st.InFlight)
	return st, nil
}

// listWait bounds a listing of a bucket's keys (see RunStatus).
const listWait = 10 * time.Second

// countTargets sums the targets (or results) of a stream's messages: each
// subject ends with the count its messages carry.
func countTargets(ctx context.Context, s jetstream.Stream, filter string) (uint64, error) {
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return 0, err
	}
	var n uint64
	for subj, msgs := range info.State.Subjects {
		n += subjectCount(subj) * msgs
	}
	return n, nil
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
	fmt.Fprintf(w, "done         %d", st.Done)
	if st.Done > m.Submitted {
		// Results are counted as stored: a target redelivered after its
		// worker died may have two, of which collect keeps one.
		fmt.Fprintf(w, " results (at least %d of them second results of redelivered targets, which collect skips)", st.Done-m.Submitted)
	}
	if st.Unstored > 0 {
		fmt.Fprintf(w, " (and %d fetched, stored when their batches complete)", st.Unstored)
	}
	fmt.Fprintf(w, "\npending      %d (%d held by workers)\n", st.Pending, st.InFlight)
	fmt.Fprintf(w, "redelivered  %d held again now, %d seen by live workers\n", st.Redelivered, st.WorkerRedelivered)
	if st.LeasesErr != nil {
		// "0 leased, workers 0" would say that no worker serves the run.
		fmt.Fprintf(w, "partitions   %d, leases unknown, lease TTL %v, ack wait %v, replicas %d\n",
			m.Partitions, m.LeaseTTL, m.AckWait, m.Replicas)
		fmt.Fprintf(w, "workers      unknown: the lease bucket cannot be read (%v)\n", st.LeasesErr)
		return
	}
	fmt.Fprintf(w, "partitions   %d, %d leased, lease TTL %v, ack wait %v, replicas %d\n",
		m.Partitions, len(st.Leases), m.LeaseTTL, m.AckWait, m.Replicas)
	fmt.Fprintf(w, "workers      %d\n", len(st.Workers))
	for _, ws := range st.Workers {
		fmt.Fprintf(w, "  %-28s %8.1f/s  fetched %-9d done %-9d redelivered %-6d partitions %-3d reported %s ago\n",
			ws.ID, ws.Rate, ws.Fetched, ws.Done, ws.Redelivered, len(ws.Partitions), max(0, time.Since(ws.At)).Round(time.Second))
	}
}
