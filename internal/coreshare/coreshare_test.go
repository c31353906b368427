//go:build unix

package coreshare

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestProcs(t *testing.T) {
	for _, c := range []struct{ base, busy, want int }{
		{2, 0, 2}, {2, 1, 2}, {2, 2, 1}, {2, 3, 1},
		{8, 2, 4}, {8, 3, 3}, {8, 8, 1}, {8, 20, 1},
		{1, 4, 1}, {0, 1, 1},
	} {
		if got := Procs(c.base, c.busy); got != c.want {
			t.Errorf("Procs(%d, %d) = %d, want %d", c.base, c.busy, got, c.want)
		}
	}
}

func count(t *testing.T, m *member) int {
	t.Helper()
	n, err := m.count()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCountBusyOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "share")
	a, err := join(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := &member{dir: dir, name: "other"} // a second process, as far as the files go
	defer a.leave()
	defer b.leave()
	if got := count(t, a); got != 0 {
		t.Fatalf("nobody busy: count %d, want 0", got)
	}
	for _, step := range []struct {
		a, b bool
		want int
	}{{true, false, 1}, {true, true, 2}, {true, true, 2}, {false, true, 1}, {true, true, 2}, {false, false, 0}} {
		if err := a.hold(step.a); err != nil {
			t.Fatal(err)
		}
		if err := b.hold(step.b); err != nil {
			t.Fatal(err)
		}
		if got := count(t, a); got != step.want {
			t.Fatalf("a busy %v, b busy %v: a counts %d, want %d", step.a, step.b, got, step.want)
		}
		if got := count(t, b); got != step.want {
			t.Fatalf("a busy %v, b busy %v: b counts %d, want %d", step.a, step.b, got, step.want)
		}
	}
	// A file nobody holds (its process died) is not counted, and goes.
	stale := filepath.Join(dir, "999999.lock")
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	a.hold(true)
	if got := count(t, a); got != 1 {
		t.Fatalf("with a dead process's file: count %d, want 1", got)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("a dead process's file was kept: %v", err)
	}
}

// TestSamePIDInTwoNamespaces: two processes in containers that share
// one /tmp can have the same PID (both 1) and member number; each is
// still counted, and one leaving does not take the other's file.
func TestSamePIDInTwoNamespaces(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "share")
	if _, err := join(dir); err != nil {
		t.Fatal(err)
	}
	a := &member{dir: dir, name: "1-1"}
	b := &member{dir: dir, name: "1-1"}
	defer a.leave()
	defer b.leave()
	for _, m := range []*member{a, b} {
		if err := m.hold(true); err != nil {
			t.Fatal(err)
		}
	}
	if got := count(t, a); got != 2 {
		t.Fatalf("both busy: a counts %d, want 2", got)
	}
	a.leave()
	if got := count(t, b); got != 1 {
		t.Fatalf("a left, b busy: b counts %d, want 1", got)
	}
}

// TestDeadProcessNotCounted kills a busy process: the kernel drops its
// lock, and the next count neither counts nor keeps its file.
func TestDeadProcessNotCounted(t *testing.T) {
	if dir := os.Getenv("CORESHARE_HELPER_DIR"); dir != "" {
		m, err := join(dir)
		if err == nil {
			err = m.hold(true)
		}
		if err != nil {
			os.Stdout.WriteString("error " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("held\n")
		time.Sleep(time.Minute) // until killed
		os.Exit(0)
	}
	dir := filepath.Join(t.TempDir(), "share")
	cmd := exec.Command(os.Args[0], "-test.run=^TestDeadProcessNotCounted$")
	cmd.Env = append(os.Environ(), "CORESHARE_HELPER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		if s != "held\n" {
			t.Fatalf("helper said %q", s)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("helper did not take its lock within 20s")
	}
	m, err := join(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.leave()
	m.hold(true)
	if got := count(t, m); got != 2 {
		t.Fatalf("with the helper busy: count %d, want 2", got)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if got := count(t, m); got != 1 {
		t.Fatalf("after the helper died: count %d, want 1", got)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.lock"))
	if len(files) != 1 {
		t.Fatalf("files left: %v, want this process's only", files)
	}
}

// TestRunSharesAndGivesBack runs two sharers in one directory: both busy,
// each takes half; one idle, the other takes all again; stopped, each
// ends at its base.
func TestRunSharesAndGivesBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "share")
	type proc struct {
		busy atomic.Bool
		cur  atomic.Int32 // its Ps, as the last Set left them
		set  chan int
		done chan error
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := func() *proc {
		p := &proc{set: make(chan int, 100), done: make(chan error, 1)}
		p.busy.Store(true)
		p.cur.Store(4)
		go func() {
			p.done <- Run(ctx, Config{Dir: dir, Base: 4, Busy: p.busy.Load, Every: 5 * time.Millisecond,
				Set: func(n int) { p.cur.Store(int32(n)); p.set <- n }})
		}()
		return p
	}
	waitSet := func(p *proc, want int, why string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case n := <-p.set:
				if n == want {
					return
				}
			case err := <-p.done:
				t.Fatalf("%s: Run returned %v", why, err)
			case <-deadline:
				t.Fatalf("%s: Ps never set to %d within 10s", why, want)
			}
		}
	}
	a := start()
	b := start()
	waitSet(a, 2, "both busy, a")
	waitSet(b, 2, "both busy, b")
	b.busy.Store(false)
	waitSet(b, 4, "b idle, b")
	waitSet(a, 4, "b idle, a")
	b.busy.Store(true)
	waitSet(a, 2, "b busy again, a")
	cancel()
	for name, p := range map[string]*proc{"a": a, "b": b} {
		select {
		case err := <-p.done:
			if err != nil {
				t.Fatalf("%s: Run: %v", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: Run did not return within 10s of its context's end", name)
		}
		if got := p.cur.Load(); got != 4 {
			t.Fatalf("%s: left at %d Ps after the end, want its base 4", name, got)
		}
	}
}

func TestRunUnusableDir(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	err := Run(context.Background(), Config{Dir: filepath.Join(f, "share"), Base: 2, Busy: func() bool { return true },
		Set: func(int) { t.Error("Set called for a directory that cannot be made") }})
	if err == nil {
		t.Fatal("Run with a directory under a file returned nil")
	}
}

// TestJoinRefusesUnsafeDir: count removes the unlocked *.lock files in
// its directory, so a directory someone else could have made or could
// swap (another user's /tmp/fanout-UID, a symbolic link) is refused, and
// no file of this user's elsewhere goes.
func TestJoinRefusesUnsafeDir(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, parent, dir, victim string)
	}{
		{"dir a symbolic link", func(t *testing.T, parent, dir, victim string) {
			mkdir(t, parent, 0o700)
			symlink(t, victim, dir)
		}},
		{"parent a symbolic link", func(t *testing.T, parent, dir, victim string) {
			symlink(t, filepath.Dir(victim), parent)
		}},
		{"parent writable by others", func(t *testing.T, parent, dir, victim string) {
			mkdir(t, parent, 0o777) // the others could swap dir for a link later
		}},
		{"dir writable by others", func(t *testing.T, parent, dir, victim string) {
			mkdir(t, parent, 0o700)
			mkdir(t, dir, 0o777)
		}},
		{"parent another user's", func(t *testing.T, parent, dir, victim string) {
			if os.Getuid() != 0 {
				t.Skip("needs root to give a directory to another user")
			}
			mkdir(t, parent, 0o755)
			if err := os.Chown(parent, 4242, 4242); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent, dir, victim, kept := victimSetup(t)
			tc.setup(t, parent, dir, victim)
			m, err := join(dir)
			if err == nil {
				m.count()
				t.Errorf("join(%s) = nil error, want a refusal", dir)
			}
			if _, err := os.Stat(kept); err != nil {
				t.Errorf("a file outside the directory went: %v", err)
			}
		})
	}
}

// TestDirRemovedWhileJoined: a cleaner of /tmp removes the directory
// (and a busy process's file) under running processes. They make it
// anew and count again, and refuse it if someone else made it first.
func TestDirRemovedWhileJoined(t *testing.T) {
	for _, tc := range []struct {
		name    string
		busy    bool                                      // a holds its file when the directory goes
		remake  func(t *testing.T, parent, victim string) // what takes its place, if anything
		refused bool
	}{
		{"idle", false, nil, false},
		{"busy", true, nil, false},
		{"idle, a link in its place", false, func(t *testing.T, parent, victim string) {
			symlink(t, filepath.Dir(victim), parent)
		}, true},
		{"busy, a link in its place", true, func(t *testing.T, parent, victim string) {
			symlink(t, filepath.Dir(victim), parent)
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent, dir, victim, kept := victimSetup(t)
			a, err := join(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer a.leave()
			if err := a.hold(tc.busy); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(parent); err != nil {
				t.Fatal(err)
			}
			if tc.remake != nil {
				tc.remake(t, parent, victim)
			}
			holdErr := a.hold(true)
			n, countErr := a.count()
			if _, err := os.Stat(kept); err != nil {
				t.Errorf("a file outside the directory went: %v", err)
			}
			if tc.refused {
				if holdErr == nil || countErr == nil {
					t.Fatalf("hold: %v, count: %v; want both to refuse the directory", holdErr, countErr)
				}
				return
			}
			if holdErr != nil || countErr != nil {
				t.Fatalf("hold: %v, count: %v; want the directory made anew", holdErr, countErr)
			}
			if n != 1 {
				t.Fatalf("a busy again: count %d, want 1", n)
			}
			b := &member{dir: dir, name: "other"}
			if got := count(t, b); got != 1 {
				t.Fatalf("a busy again: another process counts %d, want 1", got)
			}
		})
	}
}

func mkdir(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// TestCountSkipsOtherFiles: a FIFO, a directory or a symbolic link named
// like a lock file is neither counted nor opened (opening the FIFO blocked
// the count for ever) nor removed.
func TestCountSkipsOtherFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "share")
	m, err := join(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.leave()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.lock"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "dir.lock"), 0o700); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "Cargo.lock")
	os.WriteFile(target, nil, 0o600)
	if err := os.Symlink(target, filepath.Join(dir, "link.lock")); err != nil {
		t.Fatal(err)
	}
	m.hold(true)
	got := make(chan int, 1)
	go func() {
		n, _ := m.count()
		got <- n
	}()
	select {
	case n := <-got:
		if n != 1 {
			t.Fatalf("count %d, want 1 (this process's own)", n)
		}
	case <-time.After(10 * time.Second):
		// Unblock the open so the goroutine ends.
		if f, err := os.OpenFile(filepath.Join(dir, "fifo.lock"), os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("count blocked for 10s on a FIFO named like a lock file")
	}
	for _, name := range []string{"fifo.lock", "dir.lock", "link.lock"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v, want it left alone", name, err)
		}
	}
	if _, err := os.Stat(target); err != nil {
		t.Errorf("the link's target: %v, want it left alone", err)
	}
}

// TestRunWithoutSetCountsOnly: a process without Set (a worker hosting
// the NATS server) counts for a busy neighbour, which takes half, and
// keeps its own Ps.
func TestRunWithoutSetCountsOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "share")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	host := make(chan error, 1)
	go func() {
		host <- Run(ctx, Config{Dir: dir, Base: 4, Busy: func() bool { return true }, Every: 5 * time.Millisecond})
	}()
	set := make(chan int, 100)
	other := make(chan error, 1)
	go func() {
		other <- Run(ctx, Config{Dir: dir, Base: 4, Busy: func() bool { return true }, Every: 5 * time.Millisecond,
			Set: func(n int) { set <- n }})
	}()
	select {
	case n := <-set:
		if n != 2 {
			t.Fatalf("the neighbour took %d Ps, want 2", n)
		}
	case err := <-host:
		t.Fatalf("Run without Set returned %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the neighbour of a process without Set never took half its Ps within 10s")
	}
	cancel()
	for _, c := range []chan error{host, other} {
		select {
		case err := <-c:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return within 10s of its context's end")
		}
	}
}

// victimSetup makes, in a new temporary directory, a folder of someone
// else's with a Cargo.lock in it (victim, kept), and names the parent and
// directory (not made) where processes would share cores.
func victimSetup(t *testing.T) (parent, dir, victim, kept string) {
	root := t.TempDir()
	victim = filepath.Join(root, "project", "workers")
	mkdir(t, filepath.Dir(victim), 0o700)
	mkdir(t, victim, 0o700)
	kept = filepath.Join(victim, "Cargo.lock")
	if err := os.WriteFile(kept, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	parent = filepath.Join(root, "fanout-0")
	return parent, filepath.Join(parent, "workers"), victim, kept
}
