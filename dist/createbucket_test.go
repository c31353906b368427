package dist

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// unansweredCreate is a JetStream whose first creates of a bucket never
// answer, as a concurrent create sometimes does on nats-server 2.9; after
// the hang-th one the bucket exists (madeBy says which create made it:
// the hung one, made late, or a later one). Other methods are not used.
type unansweredCreate struct {
	jetstream.JetStream
	hang, madeBy int // creates that hang; the create that makes the bucket
	creates      int
}

type stubKV struct{ jetstream.KeyValue }

func (f *unansweredCreate) CreateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	f.creates++
	if f.creates <= f.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return stubKV{}, nil
}

func (f *unansweredCreate) KeyValue(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	if f.madeBy > 0 && f.creates >= f.madeBy {
		return stubKV{}, nil
	}
	return nil, jetstream.ErrBucketNotFound
}

func TestCreateBucketUnansweredCreate(t *testing.T) {
	defer func(d time.Duration) { createWait = d }(createWait)
	createWait = 20 * time.Millisecond
	for _, tc := range []struct {
		name         string
		hang, madeBy int
		ctxWait      time.Duration
		wantErr      error
		wantCreates  int
	}{
		// The other process's create made it: used, not created again.
		{"made by the other create", 1, 1, time.Second, nil, 1},
		// Not there after the first: tried again, and the second answers.
		{"second create answers", 1, 2, time.Second, nil, 2},
		{"two unanswered", 2, 3, time.Second, nil, 3},
		// Never answered, never made: the caller's deadline ends it.
		{"never", 1 << 30, 0, 100 * time.Millisecond, context.DeadlineExceeded, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &unansweredCreate{hang: tc.hang, madeBy: tc.madeBy}
			ctx, cancel := context.WithTimeout(context.Background(), tc.ctxWait)
			defer cancel()
			kv, err := createBucket(ctx, f, jetstream.KeyValueConfig{Bucket: "b"})
			if !errors.Is(err, tc.wantErr) || (err == nil) != (kv != nil) {
				t.Fatalf("createBucket = %v, %v; want error %v", kv, err, tc.wantErr)
			}
			if tc.wantCreates >= 0 && f.creates != tc.wantCreates {
				t.Errorf("%d creates, want %d", f.creates, tc.wantCreates)
			}
		})
	}
}
