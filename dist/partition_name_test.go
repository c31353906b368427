package dist

import "testing"

// TestPartitionNames: status and the worker read a partition back from a
// target subject and from a consumer's name, the inverses of
// targetSubject and consumerName, and nothing from another run's subject
// or a name that only begins like one.
func TestPartitionNames(t *testing.T) {
	for _, p := range []int{0, 7, 63, 1023} {
		if got, ok := subjectPartition("r1", targetSubject("r1", p, 5)); !ok || got != p {
			t.Errorf("subjectPartition(targetSubject(%d)) = %d, %v", p, got, ok)
		}
		if got, ok := consumerPartition(consumerName(p)); !ok || got != p {
			t.Errorf("consumerPartition(consumerName(%d)) = %d, %v", p, got, ok)
		}
	}
	for _, subj := range []string{targetSubject("r2", 3, 1), "fanout.r1.r.3", "fanout.r1.t.x.1", "fanout.r1.t."} {
		if p, ok := subjectPartition("r1", subj); ok {
			t.Errorf("subjectPartition(r1, %q) = %d, want none", subj, p)
		}
	}
	for _, name := range []string{"p12x", "q3", "p", "collect-r1"} {
		if p, ok := consumerPartition(name); ok {
			t.Errorf("consumerPartition(%q) = %d, want none", name, p)
		}
	}
}
