package simweb

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// start runs a server for the test and closes it at the end.
func start(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.MaxLifetime == 0 {
		cfg.MaxLifetime = 2 * time.Minute
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// client returns a client that reaches s for any host name and does not
// follow redirects or decode gzip, so tests see each raw response.
func client(t testing.TB, s *Server) *http.Client {
	t.Helper()
	c := s.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.Transport.(*http.Transport).DisableCompression = true
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// get fetches url and returns the response with its whole body.
func get(t testing.TB, c *http.Client, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp, body
}

func httptestRequest(method, url string) *http.Request {
	return httptest.NewRequest(method, url, nil)
}

// discardWriter is a ResponseWriter that keeps nothing, to measure a
// handler alone.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}
