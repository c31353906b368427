package dist

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fanout/fanout/internal/simweb"
)

// freePorts returns n free loopback ports.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// startCluster runs three Debian nats-server processes clustered on
// loopback and returns their client URLs and processes.
func startCluster(t *testing.T) ([]string, []*exec.Cmd) {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nats-server is not installed (.ci/run installs Debian's)")
		}
		t.Skip("nats-server is not installed")
	}
	ports := freePorts(t, 6)
	var routes []string
	for i := range 3 {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[3+i]))
	}
	var urls []string
	var cmds []*exec.Cmd
	for i := range 3 {
		cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", fmt.Sprint(ports[i]),
			"-js", "-sd", filepath.Join(t.TempDir(), "js"), "--server_name", fmt.Sprintf("n%d", i),
			"--cluster_name", "fanout-test", "--cluster", routes[i], "--routes", strings.Join(routes, ","))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		cmds = append(cmds, cmd)
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	for i := range 3 {
		for try := 0; ; try++ {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[i]))
			if err == nil {
				c.Close()
				break
			}
			if try == 200 {
				t.Fatalf("nats-server n%d did not listen: %v", i, err)
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	return urls, cmds
}

// waitClusterReady waits until the cluster can place a stream replicated
// three times. An elected meta leader is not enough: until every server has
// joined the meta group, creating a replicated stream fails with "no
// suitable peers for placement", which is what a CI run once saw.
func waitClusterReady(t *testing.T, c *Conn) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	probe := jetstream.StreamConfig{Name: "fanout_test_probe", Subjects: []string{"fanout_test_probe"}, Replicas: 3, Storage: jetstream.MemoryStorage}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.JS.CreateStream(ctx, probe)
		if err == nil {
			err = c.JS.DeleteStream(ctx, probe.Name)
		}
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not ready: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestClusterServerKilled runs a replicated run on a three-server cluster
// and SIGKILLs one server mid-run: no target and no result is lost, and
// each target is collected once.
func TestClusterServerKilled(t *testing.T) {
	urls, servers := startCluster(t)
	url := strings.Join(urls, ",")
	c := connect(t, url)
	waitClusterReady(t, c)
	deadline := time.Now().Add(30 * time.Second)

	sim := startSim(t, simweb.Config{})
	const n = 2000
	urlsT := manyHosts(sim, n, 100, 5*time.Millisecond)
	rc := testRun("cluster")
	rc.Replicas = 3
	var st SubmitStats
	for try := 0; ; try++ { // the first stream creation may race the election
		var err error
		st, err = Submit(context.Background(), c, rc, inputOf(urlsT), nil)
		if err == nil {
			break
		}
		if try == 20 || !errors.Is(err, jetstream.ErrNoHeartbeat) && try > 5 {
			t.Fatalf("Submit: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if st.Meta.Submitted != n {
		t.Fatalf("submitted %d, want %d", st.Meta.Submitted, n)
	}

	cfg := engineConfig(t, sim, 8, 2)
	var wg sync.WaitGroup
	var workers []*Worker
	for i := range 2 {
		w := newWorker(t, url, WorkerConfig{Engine: cfg, Run: rc.Name, ID: fmt.Sprint("w", i), ExitWhenDone: true})
		workers = append(workers, w)
		wg.Go(func() {
			if err := w.Run(context.Background(), make(chan struct{})); err != nil {
				t.Errorf("worker %d: %v", i, err)
			}
		})
	}
	col := newCollector()
	colDone := make(chan error, 1)
	go func() {
		_, err := Collect(context.Background(), connect(t, url), rc.Name, CollectOptions{Follow: true}, col.emit, func() error { return nil })
		colDone <- err
	}()
	for workers[0].Done()+workers[1].Done() < n/4 && time.Now().Before(deadline.Add(time.Minute)) {
		time.Sleep(10 * time.Millisecond)
	}
	servers[1].Process.Signal(syscall.SIGKILL)
	t.Logf("server n1 killed after %d results", workers[0].Done()+workers[1].Done())
	select {
	case err := <-colDone:
		if err != nil {
			t.Fatalf("Collect: %v", err)
		}
	case <-time.After(3 * time.Minute):
		// Say where the missing targets are: never done, or done and not
		// collected.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var state []string
		for _, name := range []string{targetStream(rc.Name), resultStream(rc.Name)} {
			s, err := c.JS.Stream(ctx, name)
			if err == nil {
				var info *jetstream.StreamInfo
				if info, err = s.Info(ctx); err == nil {
					state = append(state, fmt.Sprintf("%s: %d messages", name, info.State.Msgs))
					continue
				}
			}
			state = append(state, fmt.Sprintf("%s: %v", name, err))
		}
		col.mu.Lock()
		got := len(col.count)
		var missing []uint64
		for i := range uint64(n) {
			if col.count[i] == 0 && len(missing) < 20 {
				missing = append(missing, i)
			}
		}
		col.mu.Unlock()
		t.Fatalf("collect --follow did not finish after a server died: %d of %d collected (missing %v...), workers done %d+%d; %s",
			got, n, missing, workers[0].Done(), workers[1].Done(), strings.Join(state, "; "))
	}
	wg.Wait()
	col.check(t, n, urlsT)
}
