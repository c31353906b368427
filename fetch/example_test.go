package fetch_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/input"
)

// Fetch one URL that redirects once: the result has the final status, the
// title, the decoded size and the redirect hop, and no error.
func ExampleClient_Fetch() {
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/new", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<title>  A new\n  home </title>")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c, err := fetch.NewClient(fetch.DefaultOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	r := c.Fetch(context.Background(), input.Parse(srv.URL+"/old"))
	fmt.Println("status:", r.Status, r.Proto, r.Method)
	fmt.Printf("title: %q\n", r.Title)
	fmt.Println("bytes:", r.Bytes, "truncated:", r.Truncated)
	fmt.Println("final:", strings.TrimPrefix(r.FinalURL, srv.URL))
	for _, h := range r.Redirects {
		fmt.Println("redirect:", strings.TrimPrefix(h.URL, srv.URL), h.Status)
	}
	fmt.Println("error:", r.Error)
	// Output:
	// status: 200 HTTP/1.1 GET
	// title: "A new home"
	// bytes: 30 truncated: false
	// final: /new
	// redirect: /old 301
	// error: <nil>
}

// A failed request is not a returned error: it is in the result, classified
// by kind. Here nothing listens on the port, and the second line is not an
// http(s) target at all.
func ExampleClient_Fetch_errors() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	closed := "http://" + ln.Addr().String() + "/"
	ln.Close() // nothing listens there now

	c, err := fetch.NewClient(fetch.DefaultOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	for _, line := range []string{closed, "ftp://files.invalid/"} {
		r := c.Fetch(context.Background(), input.Parse(line))
		fmt.Println(r.Status, r.Error.Kind)
	}
	// Output:
	// 0 refused
	// 0 invalid_url
}
