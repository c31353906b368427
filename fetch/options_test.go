package fetch

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseResolve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Resolve
		wantErr string
	}{
		{in: "example.com:443:127.0.0.1", want: Resolve{"example.com", 443, []string{"127.0.0.1"}}},
		{in: "Example.COM:80:10.0.0.1,10.0.0.2", want: Resolve{"example.com", 80, []string{"10.0.0.1", "10.0.0.2"}}},
		{in: "*:8080:[::1],127.0.0.1", want: Resolve{"*", 8080, []string{"::1", "127.0.0.1"}}},
		{in: "host:443:::1", want: Resolve{"host", 443, []string{"::1"}}},
		{in: "[::1]:443:127.0.0.1", want: Resolve{"::1", 443, []string{"127.0.0.1"}}},
		{in: "+site.test:80:127.0.0.1", want: Resolve{"site.test", 80, []string{"127.0.0.1"}}},
		{in: "example.com:443", wantErr: "want HOST:PORT:ADDR"},
		{in: "example.com", wantErr: "want HOST:PORT:ADDR"},
		{in: "example.com:https:1.2.3.4", wantErr: `invalid port "https"`},
		{in: "example.com:0:1.2.3.4", wantErr: "out of range"},
		{in: "example.com:70000:1.2.3.4", wantErr: "out of range"},
		{in: "example.com:443:", wantErr: "no address"},
		{in: "example.com:443:not-an-ip", wantErr: `invalid address "not-an-ip"`},
		{in: ":443:1.2.3.4", wantErr: "empty host"},
		{in: "-example.com:443", wantErr: "removing entries"},
		{in: "[::1:443:1.2.3.4", wantErr: "missing ]"},
	}
	for _, tt := range tests {
		got, err := ParseResolve(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "--resolve") {
				t.Errorf("ParseResolve(%q) error = %v, want one naming --resolve and %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseResolve(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	o := DefaultOptions()
	o.Timeout = 0
	o.ConnectTimeout = -time.Second
	o.MaxRedirects = -1
	o.MaxBody = -5
	o.Proxy = "ftp://proxy"
	o.Method = "GE T"
	o.Header = http.Header{"Bad Name": {"x"}, "X-Ok": {"line\nbreak"}}
	o.Resolve = []Resolve{{Host: "h", Port: 80, Addrs: []string{"nope"}}}
	err := o.Validate()
	if err == nil {
		t.Fatal("Validate accepted bad options")
	}
	for _, want := range []string{"Timeout must be positive", "ConnectTimeout must be positive",
		"MaxRedirects", "MaxBody", "Proxy", "Method", `Header "Bad Name"`, `Header "X-Ok"`, "Resolve"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q:\n%v", want, err)
		}
	}
	if _, err := NewClient(o); err == nil {
		t.Error("NewClient accepted bad options")
	}
	for _, p := range []string{"http://127.0.0.1:3128", "https://proxy.test", "socks5://127.0.0.1:1080"} {
		o := DefaultOptions()
		o.Proxy = p
		if err := o.Validate(); err != nil {
			t.Errorf("proxy %q: %v", p, err)
		}
	}
}

// A bad Proxy (--proxy) is named in the error without its password, whatever is
// wrong with it (a proxy URL quoted whole went to stderr and CI logs).
func TestBadProxyErrorHidesPassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		proxy, want string
	}{
		{"http://alice:s3cret@127.0.0.1:notaport", `Proxy "http://alice:xxxxx@127.0.0.1:notaport": invalid port`},
		{"http://alice:s3%cret@127.0.0.1:1", `Proxy "http://alice:xxxxx@127.0.0.1:1": invalid URL escape`},
		{"ftp://alice:s3cret@127.0.0.1:1", `Proxy "ftp://alice:xxxxx@127.0.0.1:1": scheme must be`},
		{"socks4://alice:s3cret@127.0.0.1:1", `Proxy "socks4://alice:xxxxx@127.0.0.1:1": scheme must be`},
		{"http://alice:s3cret@", `Proxy "http://alice:xxxxx@": missing host`},
		{"http://alice:s3cret@[::1", `Proxy "http://alice:xxxxx@[::1": missing ']'`},
		{"http://alice:s3cret@127.0.0.1:99999", `Proxy "http://alice:xxxxx@127.0.0.1:99999": port out of range`},
		{"socks5://alice:s3cret@127.0.0.1:0", `Proxy "socks5://alice:xxxxx@127.0.0.1:0": port out of range`},
	} {
		o := DefaultOptions()
		o.Proxy = tc.proxy
		err := o.Validate()
		if err == nil {
			t.Errorf("%s: accepted", tc.want)
			continue
		}
		if strings.Contains(err.Error(), "s3") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("proxy error %q, want it to contain %q and no password", err, tc.want)
		}
	}
}

// A Header (-H) value that is not a valid header value is not quoted in the error,
// only its first bad byte and where it is: the value is often a credential
// (a token read from a file with a Windows line end), and the error goes
// to stderr and CI logs.
func TestBadHeaderErrorHidesValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value, want string
	}{
		{"Bearer s3cret\r", `Header "Authorization": the value has a control character "\r" at byte 13`},
		{"Bearer s3cret\r\nX-Other: y", `Header "Authorization": the value has a control character "\r" at byte 13`},
		{"s3cret\x00", `Header "Authorization": the value has a control character "\x00" at byte 6`},
		{"s3cret\x7f", `Header "Authorization": the value has a control character "\x7f" at byte 6`},
	} {
		o := DefaultOptions()
		o.Header = http.Header{"Authorization": {tc.value}}
		err := o.Validate()
		if err == nil {
			t.Errorf("%q: accepted", tc.value)
			continue
		}
		if strings.Contains(err.Error(), "s3") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("header error %q, want it to contain %q and not the value", err, tc.want)
		}
	}
}

// TestValidateNamesFields: each of Validate's errors is a *FieldError
// naming the field a Go program sets, not the CLI's flag for it ("-X",
// "--timeout" meant nothing to a library user), and says what is wrong.
func TestValidateNamesFields(t *testing.T) {
	t.Parallel()
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field, want string
		set         func(*Options)
	}{
		{"Method", `Method "G T" is not a valid HTTP method`, func(o *Options) { o.Method = "G T" }},
		{"Header", `Header "Bad Name": invalid header name`, func(o *Options) { o.Header = http.Header{"Bad Name": {"x"}} }},
		{"Header", `Header "X-A": the value has a control character "\n" at byte 1`, func(o *Options) { o.Header = http.Header{"X-A": {"a\nb"}} }},
		{"UserAgent", `UserAgent "a\rb": invalid header value`, func(o *Options) { o.UserAgent = "a\rb" }},
		{"Proxy", `Proxy "ftp://127.0.0.1:21": scheme must be http, https or socks5`, func(o *Options) { o.Proxy = "ftp://127.0.0.1:21" }},
		{"Resolve", `Resolve "h.test:0": port 0 out of range 1-65535`, func(o *Options) { o.Resolve = []Resolve{{Host: "h.test", Addrs: []string{"127.0.0.1"}}} }},
		{"MaxRedirects", "MaxRedirects must not be negative (got -1)", func(o *Options) { o.MaxRedirects = -1 }},
		{"MaxBody", "MaxBody must not be negative (got -1)", func(o *Options) { o.MaxBody = -1 }},
		{"Timeout", "Timeout must be positive (got 0s)", func(o *Options) { o.Timeout = 0 }},
		{"ConnectTimeout", "ConnectTimeout must be positive (got -1s)", func(o *Options) { o.ConnectTimeout = -time.Second }},
		{"SaveDir", "SaveDir " + filepath.Join(notDir, "d") + ": cannot make the directory", func(o *Options) { o.SaveDir = filepath.Join(notDir, "d") }},
		{"MaxIdle", "MaxIdle must not be negative (got -1)", func(o *Options) { o.MaxIdle = -1 }},
		{"MaxIdlePerHost", "MaxIdlePerHost must not be negative (got -1)", func(o *Options) { o.MaxIdlePerHost = -1 }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			o := DefaultOptions()
			tc.set(&o)
			err := o.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("Validate() = %v, want a *FieldError for %s", err, tc.field)
			}
			if got := err.Error(); !strings.HasPrefix(got, tc.want) || strings.Contains(got, "--") {
				t.Errorf("Validate() = %q, want %q, with no flag name", got, tc.want)
			}
		})
	}
}

// TestNewClientZeroOptions: Options{} is refused with its fields named
// and a pointer to DefaultOptions, the way to a working value.
func TestNewClientZeroOptions(t *testing.T) {
	t.Parallel()
	_, err := NewClient(Options{})
	want := "Timeout must be positive (got 0s)\nConnectTimeout must be positive (got 0s)\n" +
		"(zero values are not defaults: start from fetch.DefaultOptions(), which has working values, and change what you need)"
	if err == nil || err.Error() != want {
		t.Errorf("NewClient(Options{}) = %v, want\n%s", err, want)
	}
}
