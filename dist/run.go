package dist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/nats-io/nats.go/jetstream"
)

// RunConfig says how a new run's streams are laid out. Submit uses it only
// when the run does not exist yet; a re-submit keeps the stored layout.
type RunConfig struct {
	// Name names the run: letters, digits, '-' and '_' (at most 64).
	Name string
	// Partitions is the number of target subjects; a host's targets all go
	// to one partition, consumed by one worker at a time. It bounds how
	// many workers a run can use, and each busy partition costs the server
	// a consumer, a lease and pull requests per run (see
	// DefaultRunConfig).
	Partitions int
	// Replicas is the JetStream replication factor of the run's streams
	// and buckets (1 for one server, 3 for a three-server cluster).
	Replicas int
	// LeaseTTL is how long a partition lease lives without renewal: a dead
	// worker's partitions are taken over after at most this long.
	LeaseTTL time.Duration
	// AckWait is how long a delivered target may go without an ack or a
	// progress signal before JetStream delivers it again.
	AckWait time.Duration
	// DupWindow is how long the streams remember message ids.
	DupWindow time.Duration
	// Batch is the most targets one work message carries. A partition's
	// targets are cut into batches by input order alone (see Submit), so
	// the same input always gives the same messages.
	Batch int
	// DedupeKey is the key, in hex, of the hash the targets were
	// deduplicated with (input.Options.DedupeKey), kept with the run so
	// that a re-submit of the same input skips the same duplicates and
	// numbers its targets the same. Empty when the source did not
	// deduplicate so; a re-submit keeps the run's.
	DedupeKey string `json:",omitempty"`
}

// DefaultRunConfig returns the layout used when flags do not say otherwise.
//
// 16 partitions: politeness does not depend on the number (a host is in
// exactly one partition whatever it is), but the server's cost per run
// does: each partition with targets costs a consumer, a lease created and
// deleted and its own pull requests and batches, and with 64 these were
// about a third of the server's CPU on a 20,000-target run. 16 still
// gives each of up to 16 workers a partition, and several each to the
// usual two to four (the fair share counts partitions, not hosts, so the
// shares of hosts are uneven with any number); a run meant for more
// workers, or whose hosts are few and heavy, wants --partitions set
// higher. Fewer partitions also mix more hosts in each batch.
func DefaultRunConfig() RunConfig {
	return RunConfig{Partitions: 16, Replicas: 1, LeaseTTL: 30 * time.Second,
		AckWait: 60 * time.Second, DupWindow: 10 * time.Minute, Batch: 500}
}

// validRunName reports whether name is 1 to 64 letters, digits, '-' or
// '_'. (A regexp's {1,64} compiled to 64 copies of the class at every
// process's start: most of this package's init time.)
func validRunName(name string) bool {
	if len(name) < 1 || len(name) > 64 {
		return false
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Validate reports every problem with c, each naming its flag.
func (c RunConfig) Validate() error {
	var errs []error
	if !validRunName(c.Name) {
		errs = append(errs, fmt.Errorf("--run %q: want 1 to 64 letters, digits, '-' or '_'", c.Name))
	}
	if c.Partitions < 1 || c.Partitions > 4096 {
		errs = append(errs, fmt.Errorf("--partitions %d: want 1 to 4096", c.Partitions))
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("--replicas %d: want 1 to 5", c.Replicas))
	}
	if c.LeaseTTL < time.Second {
		errs = append(errs, fmt.Errorf("--lease-ttl %v: want at least 1s", c.LeaseTTL))
	}
	if c.AckWait < time.Second {
		errs = append(errs, fmt.Errorf("--ack-wait %v: want at least 1s", c.AckWait))
	}
	if c.Batch < 1 || c.Batch > 10_000 {
		errs = append(errs, fmt.Errorf("--batch %d: want 1 to 10000", c.Batch))
	}
	if c.DupWindow < time.Second {
		errs = append(errs, fmt.Errorf("--dup-window %v: want at least 1s", c.DupWindow))
	}
	return errors.Join(errs...)
}

// Meta is what the fanout_runs bucket stores for a run. Submit updates
// Submitted at each checkpoint (every target numbered below it is queued
// and acknowledged by JetStream), and sets Complete with the final count;
// Submitted is then the number of targets, whose sequence numbers are 0 to
// Submitted-1.
type Meta struct {
	RunConfig
	// Created is when the run was first submitted (UTC).
	Created time.Time `json:"created"`
	// Submitted is how many targets are queued for certain: those with
	// sequence numbers below it, as of the last checkpoint.
	Submitted uint64 `json:"submitted"`
	// Complete is set when the whole input was submitted; Submitted is
	// then the number of targets.
	Complete bool `json:"complete"`
	// InputTargets and InputHash fingerprint the input the run was
	// submitted from: InputHash is the xxhash, in hex, of the records of
	// its first InputTargets targets, saved with each checkpoint. A
	// re-submit must read the same there, or it is another input. Runs
	// submitted before fingerprints (or that died before their first
	// checkpoint) have none, and any input continues them.
	InputTargets uint64 `json:"input_targets,omitempty"`
	InputHash    string `json:"input_hash,omitempty"`
}

// ErrOldLayout is returned for a run submitted by a fanout from before
// batches (one target per message), whose streams this one does not read.
var ErrOldLayout = errors.New("submitted by an older fanout (one target per message), which this one cannot serve: " +
	"submit the input again under a new --run name")

// ErrOtherInput is wrapped by Submit's error for an input that is not the
// one the run was submitted from.
var ErrOtherInput = errors.New("was submitted from a different input")

// ErrConcurrentSubmit is wrapped by Submit's error when another submit to
// the same run created it or saved its checkpoint first: the run's
// metadata is saved by one submit at a time. What this one queued is
// queued once (batch ids); submitting again after the other finished
// checks the input and continues or says it is all queued.
var ErrConcurrentSubmit = errors.New("another submit to this run is running (it saved the run's metadata first): " +
	"wait for it to finish, then submit the same input again to check that everything is queued")

// ErrSeq is wrapped by Submit's error for a target whose Seq is not its
// position in the source: collect keeps one result per Seq, so a repeated
// one loses results and a gap waits for a result that never comes.
var ErrSeq = errors.New("targets must be numbered 0, 1, 2, ... in the order the source gives them, " +
	"as input.Reader numbers them")

// ErrReplicas is wrapped by Submit's error when the server cannot keep the
// --replicas asked for: a server outside a cluster keeps one copy only.
// Submitting again would fail the same way.
var ErrReplicas = errors.New("the NATS server is not part of a cluster, so it keeps one copy of each stream: " +
	"submit with --replicas 1, or to a cluster of at least that many servers")

// replicasErr wraps ErrReplicas around err when the server refused a
// stream or bucket because it is not clustered (JetStream's error 10074).
func replicasErr(replicas int, err error) error {
	var ae *jetstream.APIError
	switch {
	case errors.As(err, &ae) && ae.ErrorCode == jsErrReplicasNotSupported:
		return fmt.Errorf("--replicas %d: %w", replicas, ErrReplicas)
	case errors.As(err, &ae) && ae.ErrorCode == jsErrNoPeers:
		// Not ErrReplicas: the same submit succeeds once the servers are
		// up, so the caller's "submit again" advice stays right.
		return fmt.Errorf("%w (fewer than %d JetStream servers of the cluster are up, or the cluster is still forming: "+
			"wait for them, or submit with a lower --replicas)", err, replicas)
	}
	return err
}

// jsErrNoPeers is JetStream's "no suitable peers for placement": a
// replicated stream needs as many servers up as it has replicas.
const jsErrNoPeers jetstream.ErrorCode = 10005

// jsErrReplicasNotSupported is JetStream's "replicas > 1 not supported in
// non-clustered mode".
const jsErrReplicasNotSupported jetstream.ErrorCode = 10074

// ErrNoRun is wrapped by the errors about a run that does not exist.
var ErrNoRun = errors.New("no such run")

// ErrRunDeleted is wrapped by the errors of a collect whose run was deleted
// under it.
var ErrRunDeleted = errors.New("was deleted")

// usable reports whether this fanout can serve, collect or continue the run.
func (m Meta) usable() error {
	if m.Batch == 0 {
		return fmt.Errorf("run %q: %w", m.Name, ErrOldLayout)
	}
	return nil
}

const runsBucket = "fanout_runs"

func targetStream(run string) string { return "FANOUT_T_" + run }
func resultStream(run string) string { return "FANOUT_R_" + run }
func leaseBucket(run string) string  { return "fanout_L_" + run }

// Subjects end in the number of targets (or results) the message carries,
// so that a stream's per-subject message counts give counts of targets:
// status needs no message read.

// targetSubject is the subject of a work message of n targets of
// partition p.
func targetSubject(run string, p, n int) string {
	return "fanout." + run + ".t." + strconv.Itoa(p) + "." + strconv.Itoa(n)
}
func partitionFilter(run string, p int) string {
	return "fanout." + run + ".t." + strconv.Itoa(p) + ".*"
}
func targetFilter(run string) string { return "fanout." + run + ".t.*.*" }

// subjectPartition is the partition of a target subject of run, the
// inverse of targetSubject; ok is false for another subject.
func subjectPartition(run, subj string) (p int, ok bool) {
	rest, ok := strings.CutPrefix(subj, "fanout."+run+".t.")
	if !ok {
		return 0, false
	}
	s, _, _ := strings.Cut(rest, ".")
	p, err := strconv.Atoi(s)
	return p, err == nil
}

// resultSubject is the subject of a result message of n results.
func resultSubject(run string, n int) string { return "fanout." + run + ".r." + strconv.Itoa(n) }
func resultFilter(run string) string         { return "fanout." + run + ".r.*" }

// subjectCount is the count a subject ends with.
func subjectCount(subj string) uint64 {
	n, _ := strconv.ParseUint(subj[strings.LastIndexByte(subj, '.')+1:], 10, 64)
	return n
}

func partitionKey(p int) string { return "p." + strconv.Itoa(p) }
func consumerName(p int) string { return "p" + strconv.Itoa(p) }

// consumerPartition is the partition of a consumer consumerName named;
// ok is false for another name.
func consumerPartition(name string) (p int, ok bool) {
	s, ok := strings.CutPrefix(name, "p")
	if !ok {
		return 0, false
	}
	p, err := strconv.Atoi(s)
	return p, err == nil
}

// batchID is a work message's id: the run, the partition and the sequence
// number of its first target. Batches are cut deterministically, so a
// re-submit gives the same ids and the stream drops what it already has.
func batchID(run string, p int, first uint64) string {
	return run + "." + strconv.Itoa(p) + "." + strconv.FormatUint(first, 10)
}

// Partition returns the partition of a target's host key among n.
func Partition(hostKey string, n int) int {
	return int(xxhash.Sum64String(hostKey) % uint64(n))
}

func runsKV(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, runsBucket)
	if err == nil {
		return kv, nil
	}
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, err
	}
	// Created once, by the first submit to this server; one made at the
	// same moment by another submit (with other replicas) is used as it is
	// (see createOrUpdateStream for why never an update).
	kv, err = createBucket(ctx, js, jetstream.KeyValueConfig{
		Bucket: runsBucket, Storage: jetstream.FileStorage, Replicas: replicas,
		Description: "fanout runs"})
	if errors.Is(err, jetstream.ErrBucketExists) {
		return js.KeyValue(ctx, runsBucket)
	}
	return kv, err
}

// createWait bounds one attempt of createBucket (a variable for its test).
var createWait = 5 * time.Second

// createBucket is js.CreateKeyValue, each attempt bounded. A create of a
// replicated bucket at the same moment as another process's create of it
// sometimes never answers on Debian's nats-server 2.9
// (TestClusterConcurrentEnsureRun failed so in CI, after its 20 s): so an
// attempt waits createWait at most, then looks whether the other create
// made the bucket (and uses it), and tries again if not, until ctx ends.
// Like CreateKeyValue it returns ErrBucketExists when the create says the
// bucket exists with another configuration.
func createBucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, createWait)
		kv, err := js.CreateKeyValue(actx, cfg)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return kv, err
		}
		kv, err = js.KeyValue(ctx, cfg.Bucket)
		if !errors.Is(err, jetstream.ErrBucketNotFound) {
			return kv, err
		}
	}
}

// LoadMeta reads run's Meta and its revision in the fanout_runs bucket.
func LoadMeta(ctx context.Context, js jetstream.JetStream, run string) (Meta, uint64, error) {
	kv, err := openRuns(ctx, js, run)
	if err != nil {
		return Meta{}, 0, err
	}
	return metaIn(ctx, kv, run)
}

// openRuns returns the fanout_runs bucket, for a caller that reads run's
// Meta again and again with metaIn: opening the bucket costs the server a
// stream info request answered in JSON, which collect and idle workers
// made several times a second for nothing.
func openRuns(ctx context.Context, js jetstream.JetStream, run string) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, runsBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("run %q: %w (nothing was submitted)", run, ErrNoRun)
	}
	return kv, err
}

// metaIn reads run's Meta and its revision in kv, the fanout_runs bucket.
func metaIn(ctx context.Context, kv jetstream.KeyValue, run string) (Meta, uint64, error) {
	e, err := kv.Get(ctx, run)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return Meta{}, 0, fmt.Errorf("run %q: %w", run, ErrNoRun)
		}
		return Meta{}, 0, fmt.Errorf("run %q: %w", run, err)
	}
	var m Meta
	if err := json.Unmarshal(e.Value(), &m); err != nil {
		return Meta{}, 0, fmt.Errorf("run %q: bad metadata: %w", run, err)
	}
	return m, e.Revision(), nil
}

// Runs lists the names of the runs in the fanout_runs bucket, oldest
// first.
func Runs(ctx context.Context, js jetstream.JetStream) ([]Meta, error) {
	rs, err := runsWithRevisions(ctx, js)
	ms := make([]Meta, len(rs))
	for i, r := range rs {
		ms[i] = r.Meta
	}
	return ms, err
}

// revMeta is a run's Meta and the revision of its key in fanout_runs.
type revMeta struct {
	Meta
	rev uint64
}

// runsWithRevisions is Runs with each Meta's revision.
func runsWithRevisions(ctx context.Context, js jetstream.JetStream) ([]revMeta, error) {
	kv, err := js.KeyValue(ctx, runsBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	lctx, cancel := ctxOr(ctx, listWait) // see RunStatus
	defer cancel()
	lister, err := kv.ListKeys(lctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for k := range lister.Keys() {
		names = append(names, k)
	}
	if err := lctx.Err(); err != nil {
		return nil, fmt.Errorf("listing the runs: %w", err)
	}
	var rs []revMeta
	for _, n := range names {
		m, rev, err := metaIn(ctx, kv, n)
		if err != nil {
			continue // deleted meanwhile
		}
		rs = append(rs, revMeta{m, rev})
	}
	slices.SortStableFunc(rs, func(a, b revMeta) int { return a.Created.Compare(b.Created) })
	return rs, nil
}

// ensureRun creates the run's streams and buckets, or checks they exist.
func ensureRun(ctx context.Context, js jetstream.JetStream, c RunConfig) error {
	err := createOrUpdateStream(ctx, js, jetstream.StreamConfig{
		Name:        targetStream(c.Name),
		Description: "fanout targets of run " + c.Name,
		Subjects:    []string{targetFilter(c.Name)},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
		Duplicates:  c.DupWindow,
	})
	if err != nil {
		return fmt.Errorf("create stream %s: %w", targetStream(c.Name), err)
	}
	err = createOrUpdateStream(ctx, js, jetstream.StreamConfig{
		Name:        resultStream(c.Name),
		Description: "fanout results of run " + c.Name,
		Subjects:    []string{resultFilter(c.Name)},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
		Duplicates:  c.DupWindow,
	})
	if err != nil {
		return fmt.Errorf("create stream %s: %w", resultStream(c.Name), err)
	}
	kvc := jetstream.KeyValueConfig{
		Bucket: leaseBucket(c.Name), Storage: jetstream.FileStorage,
		Replicas: c.Replicas, TTL: c.LeaseTTL, Description: "fanout leases of run " + c.Name}
	if _, err = createBucket(ctx, js, kvc); errors.Is(err, jetstream.ErrBucketExists) {
		_, err = js.UpdateKeyValue(ctx, kvc)
	}
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", leaseBucket(c.Name), err)
	}
	return nil
}

// createOrUpdateStream creates the stream, or updates it when it exists
// with another configuration. A create of a stream that exists as
// configured succeeds, so the update is rare: two concurrent updates of one
// replicated stream (jetstream's CreateOrUpdateStream starts with an
// update) never answer on Debian's nats-server 2.9, and two submits of one
// new run both failed after their timeout, leaving streams behind.
func createOrUpdateStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) error {
	_, err := js.CreateStream(ctx, cfg)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		_, err = js.UpdateStream(ctx, cfg)
	}
	return err
}

// DeleteRun removes a run's streams, buckets and metadata. It returns an
// error wrapping ErrNoRun when none of them existed, so that a mistyped
// name is not taken for a deleted run.
func DeleteRun(ctx context.Context, js jetstream.JetStream, run string) error {
	var errs []error
	found := false
	for _, s := range []string{targetStream(run), resultStream(run)} {
		err := js.DeleteStream(ctx, s)
		found = found || err == nil
		if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			errs = append(errs, err)
		}
	}
	err := js.DeleteKeyValue(ctx, leaseBucket(run))
	found = found || err == nil
	if err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
		errs = append(errs, err)
	}
	if kv, err := js.KeyValue(ctx, runsBucket); err == nil {
		// Purging a key that is not there succeeds (and leaves a marker),
		// so a name that has nothing is not purged. The Get alone does
		// not decide: it may be answered by a replica that is behind.
		_, err := kv.Get(ctx, run)
		found = found || err == nil
		if found {
			if err := kv.Purge(ctx, run); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if !found && len(errs) == 0 {
		return fmt.Errorf("run %q: %w", run, ErrNoRun)
	}
	return errors.Join(errs...)
}
