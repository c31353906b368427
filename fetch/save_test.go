package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// savedFiles lists the regular files under dir (temporary ones too),
// relative to it, sorted.
func savedFiles(t *testing.T, dir string) []string {
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
	sort.Strings(names)
	return names
}

// hashPath is where --save puts a body with hex SHA-256 sum.
func hashPath(sum string) string { return sum[:2] + "/" + sum }

func TestSaveBodies(t *testing.T) {
	t.Parallel()
	long := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/plain", "/same":
			w.Write(page)
		case "/gzip":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(encode(t, "gzip", page))
		case "/long":
			w.Write(long)
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/corrupt":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(encode(t, "gzip", page)[:40])
		case "/redirect":
			http.Redirect(w, r, "/plain", http.StatusFound)
		}
	})
	for _, tc := range []struct {
		name      string
		paths     []string
		maxBody   int64
		want      []byte // the body saved; nil for none
		truncated bool
		kind      ErrorKind
	}{
		{name: "plain", paths: []string{"/plain"}, want: page},
		{name: "identical bodies stored once", paths: []string{"/plain", "/same", "/redirect"}, want: page},
		{name: "gzip saved decoded", paths: []string{"/gzip"}, want: page},
		{name: "larger than kept in memory", paths: []string{"/long", "/long"}, want: long},
		{name: "cut by max-body saved truncated", paths: []string{"/long"}, maxBody: 10000, want: long[:10000], truncated: true},
		{name: "cut by max-body past what is kept in memory", paths: []string{"/long"}, maxBody: 40000, want: long[:40000], truncated: true},
		{name: "empty body not saved", paths: []string{"/empty"}},
		{name: "undecodable body not saved", paths: []string{"/corrupt"}, kind: KindProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "new", "bodies") // made by NewClient
			c := newTestClient(t, func(o *Options) {
				o.SaveDir = dir
				if tc.maxBody > 0 {
					o.MaxBody = tc.maxBody
				}
			})
			for _, p := range tc.paths {
				r := get(c, ts.URL+p)
				wantKind(t, r, tc.kind)
				if r.Saved != (tc.want != nil) || r.Truncated != tc.truncated {
					t.Errorf("%s: saved %v, truncated %v; want %v, %v", p, r.Saved, r.Truncated, tc.want != nil, tc.truncated)
				}
				if tc.want != nil && r.BodySHA256 != sha(tc.want) {
					t.Errorf("%s: body_sha256 %s, want the saved bytes' %s", p, r.BodySHA256, sha(tc.want))
				}
			}
			var want []string
			if tc.want != nil {
				want = []string{hashPath(sha(tc.want))}
			}
			if got := savedFiles(t, dir); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("files in DIR = %q, want %q", got, want)
			}
			if tc.want != nil {
				got, err := os.ReadFile(filepath.Join(dir, hashPath(sha(tc.want))))
				if err != nil || !bytes.Equal(got, tc.want) {
					t.Errorf("saved file: %d bytes (%v), want the %d bytes read", len(got), err, len(tc.want))
				}
			}
		})
	}
}

// TestSaveBodyCutShort: a body that times out or is canceled mid-way
// leaves neither a file under a hash name nor a temporary file.
func TestSaveBodyCutShort(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		cancel bool
		kind   ErrorKind
	}{
		{"timeout", false, KindTimeout},
		{"canceled", true, KindCanceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			started := make(chan struct{})
			ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.Write(bytes.Repeat([]byte("x"), 20000))
				w.(http.Flusher).Flush()
				close(started)
				<-r.Context().Done() // the rest never comes
			})
			dir := t.TempDir()
			c := newTestClient(t, func(o *Options) {
				o.SaveDir = dir
				o.Timeout = 500 * time.Millisecond
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				go func() {
					<-started
					time.Sleep(50 * time.Millisecond) // the first bytes are read, and written
					cancel()
				}()
			}
			r := c.Fetch(ctx, Target{URL: ts.URL + "/", Input: ts.URL + "/"})
			wantKind(t, r, tc.kind)
			if r.Saved || r.Bytes == 0 {
				t.Errorf("saved %v after %d bytes; want false after some bytes", r.Saved, r.Bytes)
			}
			if got := savedFiles(t, dir); len(got) > 0 {
				t.Errorf("files left in DIR: %q, want none", got)
			}
		})
	}
}

// TestSaveConcurrent: many fetches saving at once, with bodies shared
// between them, leave one whole file per distinct body and no temporary
// file (run it with -race).
func TestSaveConcurrent(t *testing.T) {
	t.Parallel()
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		n := r.URL.Query().Get("n")
		w.Write(bytes.Repeat([]byte("body "+n+" "), 3000))
	})
	dir := t.TempDir()
	c := newTestClient(t, func(o *Options) { o.SaveDir = dir })
	const targets, workers, distinct = 200, 50, 20
	jobs := make(chan int)
	results := make([]Result, targets)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				results[i] = get(c, fmt.Sprintf("%s/?n=%d&i=%d", ts.URL, i%distinct, i))
			}
		}()
	}
	for i := range targets {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	want := map[string]bool{}
	for i, r := range results {
		wantKind(t, r, "")
		body := bytes.Repeat([]byte(fmt.Sprintf("body %d ", i%distinct)), 3000)
		if !r.Saved || r.BodySHA256 != sha(body) {
			t.Fatalf("target %d: saved %v, sha %s; want true, %s", i, r.Saved, r.BodySHA256, sha(body))
		}
		want[hashPath(r.BodySHA256)] = true
	}
	got := savedFiles(t, dir)
	if len(got) != distinct {
		t.Fatalf("%d files in DIR (%q), want %d", len(got), got, distinct)
	}
	for _, name := range got {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !want[name] || hashPath(sha(b)) != name {
			t.Errorf("file %s: not a whole body under its hash (err %v)", name, err)
		}
	}
}

// TestSaveFails: a body read whole that cannot be written (its directory
// gone) fails the target with kind local and Error.Save, not retried,
// its status kept.
func TestSaveFails(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "bodies")
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write(page)
	})
	c := newTestClient(t, func(o *Options) { o.SaveDir = dir })
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	r := get(c, ts.URL+"/")
	wantKind(t, r, KindLocal)
	if !r.Error.Save || !r.Error.Permanent || r.Saved || r.Status != 200 || r.BodySHA256 != sha(page) {
		t.Errorf("error %+v, saved %v, status %d; want Save and Permanent set, not saved, 200 and the body's hash", r.Error, r.Saved, r.Status)
	}
	if !strings.Contains(r.Error.Message, "--save "+dir) {
		t.Errorf("message %q does not name --save %s", r.Error.Message, dir)
	}
}

func TestSaveDirValidate(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	file := filepath.Join(base, "afile")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	o := testOptions()
	o.SaveDir = filepath.Join(file, "sub") // under a regular file: even root cannot make it
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "SaveDir "+o.SaveDir) {
		t.Errorf("SaveDir under a file: Validate = %v, want an error naming SaveDir", err)
	}
	o.SaveDir = filepath.Join(base, "a", "b")
	if err := o.Validate(); err != nil {
		t.Fatalf("missing SaveDir: Validate = %v, want nil", err)
	}
	// Validate makes nothing: a command refused after it leaves no
	// empty directory behind (found in review); NewClient makes it.
	if _, err := os.Stat(filepath.Join(base, "a")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Validate made the directory: %v", err)
	}
	if got := savedFiles(t, base); len(got) > 1 { // afile
		t.Errorf("the writability probe left %q", got)
	}
	c, err := NewClient(o)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	c.Close()
	if st, err := os.Stat(o.SaveDir); err != nil || !st.IsDir() {
		t.Errorf("SaveDir not made by NewClient: %v", err)
	}
	if got := savedFiles(t, o.SaveDir); len(got) > 0 {
		t.Errorf("the writability probe left %q", got)
	}
	if os.Geteuid() != 0 {
		ro := filepath.Join(base, "ro")
		if err := os.Mkdir(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		o.SaveDir = ro
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "cannot write") {
			t.Errorf("read-only SaveDir: Validate = %v, want cannot write", err)
		}
	}
}

// TestSaveKeepsExisting: a body whose name is already in DIR (an earlier
// target's, or an earlier run's) is not written again, whether it was
// kept in memory or in a temporary file.
func TestSaveKeepsExisting(t *testing.T) {
	t.Parallel()
	large := bytes.Repeat([]byte("y"), 3*saveInMemory)
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/large" {
			w.Write(large)
			return
		}
		w.Write(page)
	})
	dir := t.TempDir()
	c := newTestClient(t, func(o *Options) { o.SaveDir = dir })
	for _, tc := range []struct {
		path string
		body []byte
	}{{"/small", page}, {"/large", large}} {
		name := filepath.Join(dir, hashPath(sha(tc.body)))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		// Of the body's size: taken for it unread (one stat).
		there := bytes.Repeat([]byte("z"), len(tc.body))
		if err := os.WriteFile(name, there, 0o644); err != nil {
			t.Fatal(err)
		}
		r := get(c, ts.URL+tc.path)
		wantKind(t, r, "")
		if b, _ := os.ReadFile(name); !r.Saved || !bytes.Equal(b, there) {
			t.Errorf("%s: saved %v, file now %d bytes; want saved, and the file left as it was", tc.path, r.Saved, len(b))
		}
		// Of another size: a body torn by a crash (no fsync), replaced.
		if err := os.WriteFile(name, []byte("torn"), 0o644); err != nil {
			t.Fatal(err)
		}
		r = get(c, ts.URL+tc.path)
		if b, _ := os.ReadFile(name); !r.Saved || !bytes.Equal(b, tc.body) {
			t.Errorf("%s: saved %v, file now %d bytes; want the torn file replaced by the %d-byte body", tc.path, r.Saved, len(b), len(tc.body))
		}
	}
	if got := savedFiles(t, dir); len(got) != 2 {
		t.Errorf("files in DIR: %q, want the two there before", got)
	}
}
