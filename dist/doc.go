// Package dist runs fanout across many machines on NATS JetStream.
//
// Connect (with Options; Embedded starts a server in this process when none
// answers, StartServer runs one explicitly) gives a Conn. Submit queues the
// targets of an engine.Source as a named run (RunConfig), NewWorker and
// Worker.Run fetch the runs' targets with an engine, Collect reads each
// target's result once, and RunStatus reports a run's progress.
//
// A run is a pair of streams and two key-value buckets named after it:
//
//   - FANOUT_T_<run>, a work-queue stream of batches of targets on the
//     subjects fanout.<run>.t.<partition>.<n>, where the partition is a
//     hash of the targets' host and port and n is the number of targets in
//     the message (at most the run's Batch, 500 by default); each batch has
//     the message id "<run>.<partition>.<first seq>";
//   - FANOUT_R_<run>, the results, one message per batch on
//     fanout.<run>.r.<n>, whose id derives from its batch's;
//   - the bucket fanout_runs, which holds every run's Meta (so workers can
//     find runs), and fanout_L_<run>, the partition leases and the workers'
//     heartbeats, whose entries expire after the run's lease TTL.
//
// Submit cuts each partition's targets into batches as a function of the
// input alone, so a re-submit of the same input publishes the same
// messages and the stream drops the ones it has. Subjects end in their
// message's count so that status counts targets from per-subject message
// counts. Bodies are S2-compressed lines: targets as tab-separated
// records, results as their JSON Lines record behind the few fields a
// summary needs, so collect -f jsonl writes them through undecoded.
//
// A partition is consumed by one worker at a time, the one holding its
// lease, so a host's requests all come from one engine and the per-host
// limits hold for the whole cluster. A worker serves a run with one engine
// run fed by all its partitions; giving one partition back stops its pulls
// and answers its queued targets as canceled without a request, and they
// go back to the stream. Workers acknowledge a batch only after JetStream
// acknowledged its results; the results stream drops a second results
// message for the same batch within its duplicate window, and the
// collector keys on each target's sequence number, so each target is
// written once.
package dist
