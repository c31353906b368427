package dist

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// A checkpoint refused because another submit saved first is
// ErrConcurrentSubmit whichever code the server used: 10071 from a runs
// bucket of one replica, 10164 from a replicated one (a cluster, where
// submits from several machines happen). kv.Update wraps both with
// ErrKeyRevisionMismatch; only the first matches ErrKeyExists.
func TestRevisionMovedOnReplicatedBucket(t *testing.T) {
	for _, code := range []jetstream.ErrorCode{jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant} {
		api := &jetstream.APIError{Code: 400, ErrorCode: code, Description: "wrong last sequence: 7"}
		err := fmt.Errorf("%w: %w", api, jetstream.ErrKeyRevisionMismatch) // as kv.Update returns it
		if !revisionMoved(err) {
			t.Errorf("code %d: not taken for a moved revision", code)
		}
	}
	if revisionMoved(errors.New("nats: timeout")) || revisionMoved(nil) {
		t.Error("other errors taken for a moved revision")
	}
}
