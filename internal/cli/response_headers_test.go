package cli

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestResponseHeadersFlag: --response-headers puts each final response's
// headers in its jsonl record as sent ("headers": name to every value, in
// order), records them in --db so that show -f jsonl gives them back the
// same; without the flag there are none. content_encoding says the body
// was decoded from gzip either way.
func TestResponseHeadersFlag(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("<title>zipped</title>"))
	zw.Close()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("ETag", `"e1"`)
		h.Set("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
		h.Add("Set-Cookie", "a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT")
		h.Add("Set-Cookie", "b=2")
		h.Set("Content-Type", "text/html")
		h.Set("Content-Encoding", "gzip")
		w.Write(gz.Bytes())
	}))
	defer ts.Close()
	input := ts.URL + "/a\n" + ts.URL + "/b\n"
	db := filepath.Join(t.TempDir(), "runs.db")

	// headers decodes the "headers" object of each jsonl line, by input.
	headers := func(out string) map[string]map[string][]string {
		got := map[string]map[string][]string{}
		for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
			var rec struct {
				Input           string              `json:"input"`
				ContentEncoding string              `json:"content_encoding"`
				Title           string              `json:"title"`
				Headers         map[string][]string `json:"headers"`
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			if rec.ContentEncoding != "gzip" || rec.Title != "zipped" {
				t.Errorf("%s: content_encoding %q title %q, want gzip, zipped", rec.Input, rec.ContentEncoding, rec.Title)
			}
			got[rec.Input] = rec.Headers
		}
		return got
	}
	want := map[string][]string{
		"Etag":             {`"e1"`},
		"Last-Modified":    {"Wed, 21 Oct 2015 07:28:00 GMT"},
		"Set-Cookie":       {"a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT", "b=2"},
		"Content-Encoding": {"gzip"},
	}
	check := func(what string, got map[string]map[string][]string) {
		t.Helper()
		if len(got) != 2 {
			t.Fatalf("%s: %d results, want 2", what, len(got))
		}
		for in, h := range got {
			for name, vs := range want {
				if !slices.Equal(h[name], vs) {
					t.Errorf("%s: %s: %s = %q, want %q (all: %q)", what, in, name, h[name], vs, h)
				}
			}
		}
	}

	code, out, errOut := runCLI(t, input, "-q", "-f", "jsonl", "--response-headers", "--db", db)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	run := headers(out)
	check("run", run)
	code, shown, errOut := runCLI(t, "", "show", "--db", db, "last", "-f", "jsonl")
	if code != ExitOK {
		t.Fatalf("show: exit %d: %s", code, errOut)
	}
	check("show", headers(shown))
	// Not only the headers checked: show gives back every one the run wrote.
	if got := headers(shown); !equalHeaders(got, run) {
		t.Errorf("show's headers differ from the run's:\nshow: %q\nrun:  %q", got, run)
	}

	code, out, errOut = runCLI(t, input, "-q", "-f", "jsonl")
	if code != ExitOK {
		t.Fatalf("without the flag: exit %d: %s", code, errOut)
	}
	if strings.Contains(out, `"headers"`) {
		t.Errorf("headers written without --response-headers:\n%s", out)
	}
	headers(out) // content_encoding is there all the same
}

func equalHeaders(a, b map[string]map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, ha := range a {
		hb := b[k]
		if len(ha) != len(hb) {
			return false
		}
		for name, vs := range ha {
			if !slices.Equal(vs, hb[name]) {
				return false
			}
		}
	}
	return true
}
