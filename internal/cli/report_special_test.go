//go:build unix

package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportToSpecialFiles: -o that is not a regular file (a FIFO here;
// /dev/null and /dev/stdout alike) is written in place, never renamed
// over: as root, a rename replaced /dev/null with the page. A symbolic
// link keeps pointing to the page it names.
func TestReportToSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	jsonl := filepath.Join(dir, "in.jsonl")
	var b bytes.Buffer
	for _, r := range reportResults() {
		line, _ := json.Marshal(r)
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(jsonl, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	fifo := mkfifo(t)
	got := make(chan int, 1)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- -1
			return
		}
		defer f.Close()
		n, _ := io.Copy(io.Discard, f)
		got <- int(n)
	}()
	code, _, stderr := runReport(t, "", "--from", jsonl, "-o", fifo)
	if code != ExitOK {
		t.Fatalf("-o FIFO: exit %d, stderr %q", code, stderr)
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		// Its reader waits for a writer that will never come.
		t.Fatalf("-o FIFO: it was replaced: now %v %v", st.Mode(), err)
	}
	if n := <-got; n < 1000 {
		t.Errorf("the FIFO's reader got %d bytes, want the page", n)
	}

	page := filepath.Join(dir, "page.html")
	if err := os.WriteFile(page, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.html")
	if err := os.Symlink(page, link); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runReport(t, "", "--from", jsonl, "-o", link); code != ExitOK {
		t.Fatalf("-o symlink: exit %d, stderr %q", code, stderr)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("-o symlink: the link was replaced (%v %v)", st.Mode(), err)
	}
	if b, _ := os.ReadFile(page); !strings.Contains(string(b), "<html") {
		t.Errorf("-o symlink: the file it points to holds %.20q, want the page", b)
	}
}
