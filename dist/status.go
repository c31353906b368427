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
	// Stranded counts targets delivered to a worker that stopped and not
	// acknowledged: JetStream gives them out again only after the run's
	// ack wait, by RedeliverBy, and meanwhile nothing fetches them (a
	// status that showed pending targets, no worker holding any and every
	// rate at 0/s looked like a hang). StrandedAbout says the count is
	// estimated from the partition's average targets per message.
	Stranded      uint64
	StrandedAbout bool
	RedeliverBy   time.Time
	// Leases maps each held partition to its worker.
	Leases map[int]string
	// Workers are the workers with a heartbeat, by ID: the live ones and
	// those that stopped reporting (Stopped), whose heartbeat lasts until
	// it expires after the lease TTL.
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
	// Stopped: no report for two heartbeats (half the lease TTL), the
	// rule by which workers take a lease nobody renews for a dead one's.
	// Its counts are left out of Status's sums.
	Stopped bool
	holding int64 // targets it held at its last report
}

// beatEvery is how often a worker of a run with lease TTL ttl sends its
// heartbeat and renews its leases.
func beatEvery(ttl time.Duration) time.Duration { return max(ttl/4, 100*time.Millisecond) }

// stoppedAfter is how long a worker goes without a report before status
// takes it for stopped: two heartbeats.
func stoppedAfter(ttl time.Duration) time.Duration { return 2 * beatEvery(ttl) }

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
	subjects, err := subjectCounts(ctx, ts, targetFilter(run))
	if err != nil {
		return st, err
	}
	st.Pending = sumTargets(subjects)
	rs, err := c.JS.Stream(ctx, resultStream(run))
	if err != nil {
		return st, fmt.Errorf("run %q: %w", run, err)
	}
	results, err := subjectCounts(ctx, rs, resultFilter(run))
	if err != nil {
		return st, err
	}
	st.Done = sumTargets(results)
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
				stopped := time.Since(ws.At) > stoppedAfter(meta.LeaseTTL)
				st.Workers = append(st.Workers, WorkerStatus{ID: ws.ID, Done: ws.Done, Fetched: max(ws.Fetched, ws.Done), Rate: ws.Rate,
					Redelivered: ws.Redelivered, Partitions: ws.Partitions, At: ws.At, Stopped: stopped, holding: ws.Holding})
				if stopped {
					continue // what it held is what it stranded
				}
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
	if st.Pending > 0 {
		st.stranded(ctx, ts, subjects)
	}
	return st, nil
}

// stranded finds the targets delivered to a worker that stopped and not
// acknowledged, from the partitions' consumers (their deliveries waiting
// for an ack, and when they last delivered) and the heartbeats. A
// partition's unacknowledged messages are a stopped worker's when no live
// worker lists the partition, or when the live one that does held no
// target at a report made after the consumer's last delivery (a worker
// holding targets may have more of them buffered than it counts). The
// targets of a partition's messages are read from the stream's subjects
// (each ends with its count). What cannot be read leaves Stranded at 0.
func (st *Status) stranded(ctx context.Context, ts jetstream.Stream, subjects map[string]uint64) {
	m := st.Meta
	owner := map[int]*WorkerStatus{}
	lastAlive := time.Now().Add(-m.LeaseTTL) // a heartbeat gone has expired
	for i := range st.Workers {
		w := &st.Workers[i]
		if w.Stopped {
			lastAlive = later(lastAlive, w.At)
			continue
		}
		for _, n := range w.Partitions {
			owner[n] = w
		}
	}
	msgs, targets := map[int]uint64{}, map[int]uint64{}
	for subj, k := range subjects {
		if n, ok := subjectPartition(m.Name, subj); ok {
			msgs[n] += k
			targets[n] += k * subjectCount(subj)
		}
	}
	lctx, cancel := ctxOr(ctx, listWait)
	defer cancel()
	l := ts.ListConsumers(lctx)
	for info := range l.Info() {
		n, ok := consumerPartition(info.Name)
		if !ok || info.NumAckPending == 0 || msgs[n] == 0 {
			continue
		}
		var delivered time.Time
		if info.Delivered.Last != nil {
			delivered = *info.Delivered.Last
		}
		if w := owner[n]; w != nil && (w.holding > 0 || !delivered.Before(w.At)) {
			continue
		}
		if owner[n] == nil && time.Since(delivered) < beatEvery(m.LeaseTTL) {
			continue // just taken by a worker that has not said so yet
		}
		k := uint64(info.NumAckPending)
		if k >= msgs[n] {
			st.Stranded += targets[n]
		} else {
			st.Stranded += (k*targets[n] + msgs[n]/2) / msgs[n]
			st.StrandedAbout = true
		}
	}
	if l.Err() != nil || lctx.Err() != nil {
		st.Stranded, st.StrandedAbout = 0, false
		return
	}
	st.Stranded = min(st.Stranded, st.Pending)
	// A worker renews its batches' ack wait (in-progress signals) at the
	// latest until it stops, a heartbeat after its last report.
	st.RedeliverBy = lastAlive.Add(beatEvery(m.LeaseTTL) + m.AckWait)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// listWait bounds a listing of a bucket's keys (see RunStatus).
const listWait = 10 * time.Second

// subjectCounts returns the messages a stream holds by subject, of those
// filter matches.
func subjectCounts(ctx context.Context, s jetstream.Stream, filter string) (map[string]uint64, error) {
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return nil, err
	}
	return info.State.Subjects, nil
}

// sumTargets sums the targets (or results) of messages counted by
// subject: each subject ends with the count its messages carry.
func sumTargets(subjects map[string]uint64) uint64 {
	var n uint64
	for subj, msgs := range subjects {
		n += subjectCount(subj) * msgs
	}
	return n
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
	if st.Stranded > 0 {
		st.writeStranded(w)
	}
	// Most redeliveries are no trouble: a worker that gives partitions
	// back when another joins hands back their queued targets, which
	// count as delivered again (JetStream does not tell the two apart).
	fmt.Fprintf(w, "redelivered  %d held again now, %d received by live workers "+
		"(handed back when partitions move between workers, or delivered again after --ack-wait)\n",
		st.Redelivered, st.WorkerRedelivered)
	if st.LeasesErr != nil {
		// "0 leased, workers 0" would say that no worker serves the run.
		fmt.Fprintf(w, "partitions   %d, leases unknown, lease TTL %v, ack wait %v, replicas %d\n",
			m.Partitions, m.LeaseTTL, m.AckWait, m.Replicas)
		fmt.Fprintf(w, "workers      unknown: the lease bucket cannot be read (%v)\n", st.LeasesErr)
		return
	}
	fmt.Fprintf(w, "partitions   %d, %d leased, lease TTL %v, ack wait %v, replicas %d\n",
		m.Partitions, len(st.Leases), m.LeaseTTL, m.AckWait, m.Replicas)
	live := 0
	for _, ws := range st.Workers {
		if !ws.Stopped {
			live++
		}
	}
	fmt.Fprintf(w, "workers      %d", live)
	if stopped := len(st.Workers) - live; stopped > 0 {
		fmt.Fprintf(w, " (and %d stopped: no report for over %v; listed until its heartbeat expires, the lease TTL after its last report)",
			stopped, stoppedAfter(m.LeaseTTL))
	}
	fmt.Fprintln(w)
	for _, ws := range st.Workers {
		fmt.Fprintf(w, "  %-28s %8.1f/s  fetched %-9d done %-9d redelivered %-6d partitions %-3d reported %s ago",
			ws.ID, ws.Rate, ws.Fetched, ws.Done, ws.Redelivered, len(ws.Partitions), ago(ws.At))
		if ws.Stopped {
			fmt.Fprint(w, "  STOPPED")
		}
		fmt.Fprintln(w)
	}
}

// writeStranded says why targets pending wait with no worker holding them.
func (st Status) writeStranded(w io.Writer) {
	about := ""
	if st.StrandedAbout {
		about = "about "
	}
	var who []string
	for _, ws := range st.Workers {
		if ws.Stopped {
			who = append(who, fmt.Sprintf("%s, last report %s ago", ws.ID, ago(ws.At)))
		}
	}
	whom := "a worker that stopped (its heartbeat has expired)"
	if len(who) > 0 {
		whom = "a worker that stopped (" + strings.Join(who, "; ") + ")"
	}
	when := "by " + st.RedeliverBy.Local().Format(time.TimeOnly)
	if !st.RedeliverBy.After(time.Now()) {
		when = "now"
	}
	fmt.Fprintf(w, "waiting      %s%d targets were delivered to %s and not acknowledged: "+
		"JetStream gives them out again %s (--ack-wait %v at submit)\n", about, st.Stranded, whom, when, st.Meta.AckWait)
}

// ago is how long ago t was, to the second.
func ago(t time.Time) time.Duration { return max(0, time.Since(t)).Round(time.Second) }
