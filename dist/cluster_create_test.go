package dist

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestClusterConcurrentEnsureRun: two submits of one new replicated run at
// once, on a new cluster, create the runs bucket and the run's streams and
// bucket at the same moment. On Debian's
// nats-server 2.9, two concurrent stream updates (CreateOrUpdateStream
// starts with one) never answer, and both submits failed after their
// timeout, leaving streams behind.
func TestClusterConcurrentEnsureRun(t *testing.T) {
	urls, _ := startCluster(t)
	c := connect(t, strings.Join(urls, ","))
	waitClusterReady(t, c)
	rc := testRun("twice")
	rc.Replicas = 3
	var wg sync.WaitGroup
	errs := make([]error, 2)
	start := time.Now()
	for i := range 2 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if _, err := runsKV(ctx, c.JS, rc.Replicas); err != nil {
				errs[i] = err
				return
			}
			errs[i] = ensureRun(ctx, c.JS, rc)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("ensureRun %d: %v (after %v)", i, err, time.Since(start))
		}
	}
}
