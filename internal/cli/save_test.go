package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// bodyFiles lists the regular files under dir, temporary ones too,
// relative to it.
func bodyFiles(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestSaveBodies: 200 targets at -c 50, with 18 distinct bodies and some
// empty ones, leave one file per distinct body under its hash, and each
// record (jsonl, csv) says whether its body was saved.
func TestSaveBodies(t *testing.T) {
	body := func(n string) []byte { return bytes.Repeat([]byte("page "+n+"\n"), 500) }
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/empty" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Write(body(r.URL.Query().Get("n")))
	}))
	defer ts.Close()
	var lines []string
	for i := range 200 {
		if i%10 == 9 {
			lines = append(lines, fmt.Sprintf("%s/empty?i=%d", ts.URL, i))
			continue
		}
		lines = append(lines, fmt.Sprintf("%s/?n=%d&i=%d", ts.URL, i%20, i))
	}
	input := strings.Join(lines, "\n") + "\n"
	dir := filepath.Join(t.TempDir(), "bodies")
	code, out, stderr := runCLI(t, input, "-q", "-f", "jsonl", "-c", "50", "--per-host", "50", "--save", dir)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rs := decodeLines(t, out)
	if len(rs) != len(lines) {
		t.Fatalf("%d results, want %d", len(rs), len(lines))
	}
	names := map[string]bool{}
	for _, r := range rs {
		empty := strings.Contains(r.URL, "/empty")
		if r.Saved == empty || !empty && r.BodySHA256 == "" {
			t.Fatalf("%s: saved %v, body_sha256 %q; want saved for a body, not for an empty one", r.URL, r.Saved, r.BodySHA256)
		}
		if r.Saved {
			names[r.BodySHA256[:2]+"/"+r.BodySHA256] = true
		}
	}
	files := bodyFiles(t, dir)
	// (n = 9 and 19 fall on the empty ones.)
	if len(files) != 18 || len(names) != 18 {
		t.Fatalf("%d files (%q) for %d distinct bodies named, want 18", len(files), files, len(names))
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || !names[f] || !strings.HasSuffix(f, "/"+hexSHA(b)) {
			t.Errorf("file %s: not a body named by a record, under its hash (%v)", f, err)
		}
	}

	// csv: the same, in the column after accepted.
	code, out, stderr = runCLI(t, lines[0]+"\n"+lines[9]+"\n", "-q", "-f", "csv", "--ordered", "--save", dir)
	if code != ExitOK {
		t.Fatalf("csv: exit %d: %s", code, stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("csv: %d rows (%v), want 3:\n%s", len(rows), err, out)
	}
	col := slices.Index(rows[0], "saved")
	if col < 0 || rows[0][col-1] != "accepted" || rows[1][col] != "true" || rows[2][col] != "false" {
		t.Errorf("csv header %q, saved column %d: want it after accepted, and true, false", rows[0], col)
	}
}

// TestSaveDirNotWritable: a --save DIR that cannot be made is a usage
// error, in one line, before anything is fetched. (A path under a regular
// file: mode bits would not stop root.)
func TestSaveDirNotWritable(t *testing.T) {
	var hits atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("hello"))
	}))
	defer ts.Close()
	file := filepath.Join(t.TempDir(), "afile")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(file, "sub")
	code, out, stderr := runCLI(t, "", "-q", "--save", dir, ts.URL+"/")
	if code != ExitUsage || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "--save "+dir) || out != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want %d and one line naming --save %s", code, out, stderr, ExitUsage, dir)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests made, want none", n)
	}
}

// TestSaveFailureStopsRun: a body that cannot be saved (DIR removed
// under the run, as a disk that fills up) stops it as an output that
// cannot be written does: exit 3, one line saying why, the results before
// it written and recorded, its own neither, so that a resume fetches it.
func TestSaveFailureStopsRun(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "bodies")
	var removed atomic.Bool
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/gone" && !removed.Swap(true) {
			os.RemoveAll(dir)
		}
		w.Write([]byte("hello " + r.URL.Path))
	}))
	defer ts.Close()
	lines := []string{ts.URL + "/a", ts.URL + "/gone"}
	for i := range 20 {
		lines = append(lines, fmt.Sprintf("%s/later/%d", ts.URL, i))
	}
	in, out, db := filepath.Join(tmp, "urls.txt"), filepath.Join(tmp, "out.jsonl"), filepath.Join(tmp, "runs.db")
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "", "-q", "-c", "1", "-f", "jsonl", "--ordered", "--retries", "0",
		"-i", in, "-o", out, "--db", db, "--save", dir)
	if code != ExitIncomplete || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "could not be saved under --save "+dir) ||
		!strings.Contains(stderr, "the run stopped there") || !strings.Contains(stderr, "fanout resume --db "+db) {
		t.Errorf("exit %d, stderr %q; want %d, one line saying the body could not be saved and how to resume", code, stderr, ExitIncomplete)
	}
	b, _ := os.ReadFile(out)
	if rs := decodeLines(t, string(b)); len(rs) != 1 || !strings.HasSuffix(rs[0].URL, "/a") || !rs[0].Saved {
		t.Fatalf("results written: %+v; want /a's alone, saved", rs)
	}
	// The same command with bodies going elsewhere does not continue it.
	code, _, stderr = runCLI(t, "", "-q", "-c", "1", "-f", "jsonl", "--ordered", "--retries", "0",
		"-i", in, "-o", out, "--db", db, "--save", filepath.Join(tmp, "elsewhere"))
	if code != ExitUsage || !strings.Contains(stderr, "--save") || !strings.Contains(stderr, "bodies saved in two places") {
		t.Errorf("the run continued with another --save: exit %d, stderr %q; want %d naming --save", code, stderr, ExitUsage)
	}
	code, _, stderr = runCLI(t, "", "resume", "-q", "--db", db, "last")
	b, _ = os.ReadFile(out)
	rs := decodeLines(t, string(b))
	if code != ExitOK || len(rs) != len(lines) {
		t.Fatalf("resume: exit %d, %d results (%s); want 0 and %d", code, len(rs), stderr, len(lines))
	}
	for _, r := range rs {
		if !r.Saved {
			t.Errorf("%s: not saved after the resume", r.URL)
		}
	}
}

// TestSaveInterruptLeavesNoTempFiles: bodies cut by Ctrl-C twice leave
// neither a body file nor a temporary one.
func TestSaveInterruptLeavesNoTempFiles(t *testing.T) {
	const n = 10
	var midBody atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("x"), 30000))
		w.(http.Flusher).Flush()
		midBody.Add(1)
		<-r.Context().Done()
	}))
	defer ts.Close()
	var input string
	for i := range n {
		input += fmt.Sprintf("%s/%d\n", ts.URL, i)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	interrupt := make(chan struct{})
	go func() {
		for deadline := time.Now().Add(10 * time.Second); midBody.Load() < n && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // the first bytes read, and written to temporary files
		close(interrupt)                   // Ctrl-C: drain
		time.Sleep(50 * time.Millisecond)
		cancel() // Ctrl-C again: abort
	}()
	var out, errb bytes.Buffer
	code := Main(ctx, Env{Stdin: strings.NewReader(input), Stdout: &out, Stderr: &errb, Interrupt: interrupt},
		[]string{"-q", "-f", "jsonl", "-c", "20", "--per-host", "20", "--timeout", "30s", "--save", dir})
	if code != ExitInterrupted {
		t.Fatalf("exit %d, want %d: %s", code, ExitInterrupted, errb.String())
	}
	if midBody.Load() != n {
		t.Fatalf("%d bodies begun, want %d", midBody.Load(), n)
	}
	if files := bodyFiles(t, dir); len(files) > 0 {
		t.Errorf("files left in DIR after Ctrl-C twice: %q, want none", files)
	}
}

// TestSaveComparedAsAPlace: an unfinished --db run is continued by the
// same command only if its bodies go to the same place: "--save bodies"
// typed in another directory is another place (it was compared as typed,
// and continued the run with its bodies split over two directories), and
// the run's directory written out in full is the same one.
func TestSaveComparedAsAPlace(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello " + r.URL.Path))
	}))
	defer ts.Close()
	tmp := t.TempDir()
	a, b := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
	for _, d := range []string{a, b} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	db, out := filepath.Join(tmp, "runs.db"), filepath.Join(tmp, "out.jsonl")
	args := func(save string) []string {
		as := []string{"-q", "-c", "1", "-f", "jsonl", "-o", out, "--db", db, "--save", save}
		for i := range 20 {
			as = append(as, fmt.Sprintf("%s/p/%d", ts.URL, i))
		}
		return as
	}
	t.Chdir(a)
	interrupt := make(chan struct{})
	close(interrupt) // Ctrl-C at once: the run is left unfinished
	var stderr strings.Builder
	env := Env{Stdin: strings.NewReader(""), Stdout: new(strings.Builder), Stderr: &stderr, Interrupt: interrupt}
	if code := Main(t.Context(), env, args("bodies")); code != ExitInterrupted {
		t.Fatalf("interrupted run: exit %d: %s", code, stderr.String())
	}
	t.Chdir(b)
	if code, _, errOut := runCLI(t, "", args("bodies")...); code != ExitUsage || !strings.Contains(errOut, "--save") {
		t.Errorf("--save bodies in another directory: exit %d, stderr %q; want %d naming --save", code, errOut, ExitUsage)
	}
	if code, _, errOut := runCLI(t, "", args(filepath.Join(a, "bodies"))...); code != ExitOK {
		t.Fatalf("--save with the run's directory in full: exit %d, stderr %q; want the run continued", code, errOut)
	}
	b2, _ := os.ReadFile(out)
	if rs := decodeLines(t, string(b2)); len(rs) != 20 {
		t.Errorf("%d results after the run was continued, want 20", len(rs))
	}
	// The refused command made nothing there (it made an empty
	// directory before: Validate made it before the run was chosen).
	if _, err := os.Stat(filepath.Join(b, "bodies")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the refused command made b/bodies: %v", err)
	}
}
