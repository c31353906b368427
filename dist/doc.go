// Package dist runs fanout across many machines on NATS JetStream.
//
// A run is a pair of streams and two key-value buckets named after it:
//
//   - FANOUT_T_<run>, a work-queue stream of targets on the subjects
//     fanout.<run>.t.<partition>, where the partition is a hash of the
//     target's host and port;
//   - FANOUT_R_<run>, the results, one message per target on
//     fanout.<run>.r, each with the message id "<run>.<seq>";
//   - the bucket fanout_runs, which holds every run's Meta (so workers can
//     find runs), and fanout_L_<run>, the partition leases and the workers'
//     heartbeats, whose entries expire after the run's lease TTL.
//
// A partition is consumed by one worker at a time, the one holding its
// lease, so a host's requests all come from one engine and the per-host
// limits hold for the whole cluster. Workers acknowledge a target only after
// JetStream acknowledged its result; the results stream drops a second
// result for the same target within its duplicate window, and the collector
// keys on the target's sequence number, so each target is written once.
package dist
