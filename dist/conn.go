package dist

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Embedded is the --nats value that means: use the NATS server on
// EmbeddedAddr, starting one in this process when none answers there.
const Embedded = "embedded"

// EmbeddedAddr is where the embedded server listens.
const EmbeddedAddr = "127.0.0.1:4222"

// Options say how to reach NATS. The secrets (Token, the credentials and
// key files' contents) are never printed; Redact shows a URL safely.
type Options struct {
	// URL is a comma-separated list of nats:// or tls:// URLs, or Embedded.
	URL string
	// Creds is a NATS credentials file (JWT and nkey seed).
	Creds string
	// Token is an authentication token.
	Token string
	// TLSCA, TLSCert and TLSKey are PEM files: the CA that signed the
	// servers' certificates, and this client's certificate and key.
	TLSCA, TLSCert, TLSKey string
	// Name names the connection in the server's monitoring.
	Name string
	// StoreDir is the embedded server's JetStream directory; empty means
	// DefaultStoreDir().
	StoreDir string
}

// Conn is a connection to NATS with JetStream, and the embedded server when
// this process runs it.
type Conn struct {
	NC  *nats.Conn
	JS  jetstream.JetStream
	srv *server.Server
}

// Embedded reports whether this process runs the NATS server.
func (c *Conn) Embedded() bool { return c.srv != nil }

// Close closes the connection, and stops the embedded server, if any,
// after the connection's buffered messages are flushed.
func (c *Conn) Close() {
	c.NC.Drain()
	for i := 0; i < 100 && !c.NC.IsClosed(); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	c.NC.Close()
	if c.srv != nil {
		c.srv.Shutdown()
		c.srv.WaitForShutdown()
	}
}

// DefaultStoreDir is where the embedded server keeps its streams:
// $XDG_STATE_HOME/fanout/nats, or ~/.local/state/fanout/nats.
func DefaultStoreDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "fanout", "nats")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "fanout", "nats")
	}
	return filepath.Join(os.TempDir(), "fanout-nats")
}

// Connect connects to NATS as o says. With o.URL Embedded, it connects to
// EmbeddedAddr, starting a server there in this process (JetStream, file
// storage in o.StoreDir) when nothing answers.
func Connect(ctx context.Context, o Options) (*Conn, error) {
	opts, err := o.natsOptions()
	if err != nil {
		return nil, err
	}
	if o.URL != Embedded {
		if o.URL == "" {
			return nil, errors.New("--nats: give a NATS URL or \"embedded\"")
		}
		nc, err := nats.Connect(o.URL, opts...)
		if err != nil {
			return nil, fmt.Errorf("--nats %s: %w", Redact(o.URL), err)
		}
		return newConn(nc, nil)
	}
	u := "nats://" + EmbeddedAddr
	if nc, err := nats.Connect(u, opts...); err == nil {
		return newConn(nc, nil)
	}
	dir := o.StoreDir
	if dir == "" {
		dir = DefaultStoreDir()
	}
	host, port, _ := net.SplitHostPort(EmbeddedAddr)
	srv, err := StartServer(ServerConfig{Host: host, Port: atoi(port), StoreDir: dir})
	if err != nil {
		// Another process may have started one meanwhile.
		if nc, err2 := nats.Connect(u, opts...); err2 == nil {
			return newConn(nc, nil)
		}
		return nil, fmt.Errorf("--nats embedded: %w", err)
	}
	nc, err := nats.Connect(srv.ClientURL(), opts...)
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("--nats embedded: %w", err)
	}
	return newConn(nc, srv)
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func newConn(nc *nats.Conn, srv *server.Server) (*Conn, error) {
	// Without a timeout, a PubAck lost with a dying server leaves its
	// future waiting for ever, and with it every batch acknowledged after
	// it: a batch whose results are not confirmed in time goes back.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncTimeout(30*time.Second))
	if err != nil {
		nc.Close()
		if srv != nil {
			srv.Shutdown()
		}
		return nil, err
	}
	return &Conn{NC: nc, JS: js, srv: srv}, nil
}

func (o Options) natsOptions() ([]nats.Option, error) {
	name := o.Name
	if name == "" {
		name = "fanout"
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(false),
		// The library prints nothing by itself; errors surface as returned
		// errors, so no callback is needed to keep secrets out of logs.
	}
	var errs []error
	if o.Creds != "" {
		if _, err := os.Stat(o.Creds); err != nil {
			errs = append(errs, fmt.Errorf("--creds %s: %v", o.Creds, unwrapPath(err)))
		}
		opts = append(opts, nats.UserCredentials(o.Creds))
	}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token))
	}
	if o.TLSCA != "" {
		if _, err := os.Stat(o.TLSCA); err != nil {
			errs = append(errs, fmt.Errorf("--tls-ca %s: %v", o.TLSCA, unwrapPath(err)))
		}
		opts = append(opts, nats.RootCAs(o.TLSCA))
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key: give both or neither"))
	} else if o.TLSCert != "" {
		opts = append(opts, nats.ClientCert(o.TLSCert, o.TLSKey))
	}
	return opts, errors.Join(errs...)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Redact returns a --nats value with any user information in its URLs
// replaced, so that it can be printed or stored.
func Redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil || u.User == nil {
			if err != nil && strings.Contains(p, "@") {
				parts[i] = "(unparsable URL)"
			}
			continue
		}
		u.User = url.User("redacted")
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}

// ServerConfig configures a NATS server run in this process.
type ServerConfig struct {
	// Host and Port to listen on for clients (Port -1: any free port).
	Host string
	Port int
	// StoreDir is the JetStream directory (file storage).
	StoreDir string
	// ServerName names the server (required in a cluster).
	ServerName string
	// Cluster, when ClusterPort is set, joins a cluster named Cluster
	// listening on ClusterHost:ClusterPort with the given route URLs.
	Cluster     string
	ClusterHost string
	ClusterPort int
	Routes      []string
}

// StartServer starts a NATS server with JetStream in this process and
// waits until it accepts connections.
func StartServer(c ServerConfig) (*server.Server, error) {
	if err := os.MkdirAll(c.StoreDir, 0o700); err != nil {
		return nil, fmt.Errorf("store dir %s: %v", c.StoreDir, unwrapPath(err))
	}
	opts := &server.Options{
		ServerName: c.ServerName,
		Host:       c.Host, Port: c.Port,
		JetStream: true, StoreDir: c.StoreDir,
		NoSigs: true, NoLog: true,
		MaxPayload: 8 << 20,
	}
	if c.ClusterPort != 0 {
		opts.Cluster = server.ClusterOpts{Name: c.Cluster, Host: c.ClusterHost, Port: c.ClusterPort}
		for _, r := range c.Routes {
			u, err := url.Parse(r)
			if err != nil {
				return nil, fmt.Errorf("route %q: %w", r, err)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, err
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("nats server on %s:%d did not start", c.Host, c.Port)
	}
	return srv, nil
}

// ctxOr returns ctx with a timeout, for the short admin calls.
func ctxOr(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}
