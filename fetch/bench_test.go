package fetch

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkFetchSmallPage fetches a 1 KiB HTML page over loopback with a
// warm connection pool: the per-fetch CPU cost of the client side plus the
// test server.
func BenchmarkFetchSmallPage(b *testing.B) {
	body := []byte("<!doctype html><html><head><title>Small page</title></head><body>" +
		strings.Repeat("x", 1024-90) + "</body></html>")
	ts := serve(b, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(body)
	})
	c := newTestClient(b, nil)
	t := Target{URL: ts.URL + "/page", HostKey: "k"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r := c.Fetch(ctx, t)
		if r.Error != nil || r.Title != "Small page" {
			b.Fatalf("result %+v", r)
		}
	}
}

// BenchmarkTitle measures title extraction on a small UTF-8 page.
func BenchmarkTitle(b *testing.B) {
	body := []byte("<!doctype html><html><head><meta charset=utf-8><title>Small page</title></head><body>" +
		strings.Repeat("x", 1024) + "</body></html>")
	b.ReportAllocs()
	for b.Loop() {
		if Title(body, "text/html; charset=utf-8") != "Small page" {
			b.Fatal("wrong title")
		}
	}
}

// BenchmarkTitleDecoded is a title that is not ASCII, so its charset is
// determined and decoded (BenchmarkTitle's skips that).
func BenchmarkTitleDecoded(b *testing.B) {
	body := []byte("<!doctype html><html><head><title>Caf\xc3\xa9 page</title></head><body>" +
		strings.Repeat("x", 1024) + "</body></html>")
	b.ReportAllocs()
	for b.Loop() {
		if Title(body, "text/html; charset=utf-8") != "Café page" {
			b.Fatal("wrong title")
		}
	}
}
