package store

import (
	"errors"
	"fmt"
	"math"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// rawConn is the Recorder's own connection to the database: SQLite's C API
// as modernc translates it to Go, called directly instead of through
// database/sql and the driver. Recording is the one place where fanout
// writes at the rate it fetches, and there the driver's generality cost
// more than SQLite itself: every text value was copied into a C allocation
// of its own, bound, bound again to NULL and freed; every call took the
// connection's mutex; every value was boxed on the Go heap. Here a
// statement's texts are copied into one C buffer the connection keeps and
// bound in place (SQLITE_STATIC); the connection has no mutex, since only
// the writer goroutine uses it; and a row allocates nothing.
//
// Other connections, database/sql's, use the same file at the same time;
// SQLite's locking, in the same process as in others, keeps them apart.
type rawConn struct {
	tls  *libc.TLS
	db   uintptr // sqlite3*
	path string
	text uintptr // C buffer for the texts of the statement being run
	cap  int
}

// openRaw opens an existing database for writing, with the settings of
// connPragmas but a smaller page cache (writerCacheSize). WAL mode is the
// file's and needs no setting.
func openRaw(path string) (*rawConn, error) {
	c := &rawConn{tls: libc.NewTLS(), path: path}
	name, err := libc.CString(path)
	if err != nil {
		c.tls.Close()
		return nil, err
	}
	pdb := sqlite3.Xsqlite3_malloc64(c.tls, 8)
	if pdb == 0 {
		libc.Xfree(c.tls, name)
		c.tls.Close()
		return nil, errors.New("out of memory")
	}
	rc := sqlite3.Xsqlite3_open_v2(c.tls, name, pdb,
		sqlite3.SQLITE_OPEN_READWRITE|sqlite3.SQLITE_OPEN_NOMUTEX|sqlite3.SQLITE_OPEN_EXRESCODE, 0)
	c.db = *(*uintptr)(unsafe.Add(nil, pdb))
	sqlite3.Xsqlite3_free(c.tls, pdb)
	libc.Xfree(c.tls, name)
	if rc != sqlite3.SQLITE_OK {
		err := c.err(rc)
		c.close()
		return nil, err
	}
	// foreign_keys: the run's row exists before its results, and nothing
	// deletes runs while one records; checking the key for every row was
	// 8% of recording. (It is off by default; saying so guards against a
	// build that turns it on.)
	pragmas := "PRAGMA foreign_keys = OFF; PRAGMA temp_store = " + writerTempStore + ";"
	for _, p := range connPragmas {
		pragmas += " PRAGMA " + p[0] + " = " + p[1] + ";"
	}
	pragmas += " PRAGMA cache_size = " + writerCacheSize + ";" // after connPragmas' own
	if err := c.exec(pragmas); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// close closes the connection; statements must be finalized first.
func (c *rawConn) close() {
	if c.db != 0 {
		sqlite3.Xsqlite3_close_v2(c.tls, c.db)
		c.db = 0
	}
	if c.text != 0 {
		sqlite3.Xsqlite3_free(c.tls, c.text)
		c.text = 0
	}
	c.tls.Close()
}

// err returns the connection's error for result code rc.
func (c *rawConn) err(rc int32) error {
	msg := ""
	if c.db != 0 {
		msg = libc.GoString(sqlite3.Xsqlite3_errmsg(c.tls, c.db))
	}
	if msg == "" {
		msg = libc.GoString(sqlite3.Xsqlite3_errstr(c.tls, rc))
	}
	return rawError{msg, int(rc)}
}

// rawError is an error of the recorder's connection: SQLite's message and
// result code, which plainError reads as it does the driver's.
type rawError struct {
	msg  string
	code int
}

func (e rawError) Error() string { return fmt.Sprintf("%s (%d)", e.msg, e.code) }
func (e rawError) Code() int     { return e.code }

// exec runs sql, which may hold several statements and binds nothing.
func (c *rawConn) exec(sql string) error {
	s, err := libc.CString(sql)
	if err != nil {
		return err
	}
	defer libc.Xfree(c.tls, s)
	if rc := sqlite3.Xsqlite3_exec(c.tls, c.db, s, 0, 0, 0); rc != sqlite3.SQLITE_OK {
		return c.err(rc)
	}
	return nil
}

// rawStmt is a statement prepared on a rawConn.
type rawStmt struct {
	c *rawConn
	p uintptr // sqlite3_stmt*

	// What each parameter holds since the last run (SQLite keeps
	// bindings across runs): its value, its text, and whether SQLite has
	// its own copy of that text. A parameter given the same value again
	// is not bound again; in a batch of results most are (the status,
	// the NULL error, the content type, the IP...), and a bind cost more
	// than any other part of a row but SQLite's interpreter.
	bound     []value
	boundText []byte
	owned     []bool
}

// prepare prepares one statement, to be run many times.
func (c *rawConn) prepare(sql string) (*rawStmt, error) {
	s, err := libc.CString(sql)
	if err != nil {
		return nil, err
	}
	defer libc.Xfree(c.tls, s)
	pp := sqlite3.Xsqlite3_malloc64(c.tls, 8)
	if pp == 0 {
		return nil, errors.New("out of memory")
	}
	defer sqlite3.Xsqlite3_free(c.tls, pp)
	if rc := sqlite3.Xsqlite3_prepare_v3(c.tls, c.db, s, -1, sqlite3.SQLITE_PREPARE_PERSISTENT, pp, 0); rc != sqlite3.SQLITE_OK {
		return nil, c.err(rc)
	}
	return &rawStmt{c: c, p: *(*uintptr)(unsafe.Add(nil, pp))}, nil
}

// finalize releases the statement.
func (s *rawStmt) finalize() {
	if s != nil && s.p != 0 {
		sqlite3.Xsqlite3_finalize(s.c.tls, s.p)
		s.p = 0
	}
}

// value is one argument of a statement: an integer, a real, NULL, or the
// text at [off, off+n) of the texts passed with it.
type value struct {
	kind   valueKind
	i      int64
	f      float64
	off, n int
}

type valueKind uint8

const (
	valNull valueKind = iota
	valInt
	valReal
	valText
	valUnbound // (rawStmt.bound) not known to be bound to anything
)

func intValue(i int64) value    { return value{kind: valInt, i: i} }
func realValue(f float64) value { return value{kind: valReal, f: f} }
func boolValue(b bool) value {
	if b {
		return intValue(1)
	}
	return intValue(0)
}

// run binds args, whose texts are in texts, and runs the statement to its
// end. The texts are copied once into the connection's C buffer and bound
// there without SQLite copying them (SQLITE_STATIC); they stay put until
// the next run. A parameter whose value is the one it held in the last run
// is not bound again, which for a text needs SQLite's own copy of it: a
// text repeated for the first time is bound with SQLITE_TRANSIENT (SQLite
// copies it), and from then on not bound while it stays the same.
func (s *rawStmt) run(args []value, texts []byte) error {
	c := s.c
	if err := c.grow(len(texts)); err != nil {
		return err
	}
	if len(texts) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Add(nil, c.text)), len(texts)), texts)
	}
	if len(s.bound) != len(args) {
		// The first run, or another statement's shape: bind everything.
		s.bound = make([]value, len(args))
		s.owned = make([]bool, len(args))
		for i := range s.bound {
			s.bound[i].kind = valUnbound
		}
	}
	for i := range args {
		a, b := &args[i], &s.bound[i]
		var rc int32
		switch a.kind {
		case valInt:
			if b.kind == valInt && b.i == a.i {
				continue
			}
			rc = sqlite3.Xsqlite3_bind_int64(c.tls, s.p, int32(i+1), a.i)
		case valReal:
			// Compared by bits: a NaN is the same NaN, and -0 is not 0.
			if b.kind == valReal && math.Float64bits(b.f) == math.Float64bits(a.f) {
				continue
			}
			rc = sqlite3.Xsqlite3_bind_double(c.tls, s.p, int32(i+1), a.f)
		case valText:
			same := b.kind == valText && b.n == a.n &&
				string(s.boundText[b.off:b.off+b.n]) == string(texts[a.off:a.off+a.n])
			if same && s.owned[i] {
				continue
			}
			// Repeated: worth SQLite's copy. New: bound where it lies.
			del := uintptr(0)
			if same {
				del = sqlite3.SQLITE_TRANSIENT
			}
			s.owned[i] = same
			rc = sqlite3.Xsqlite3_bind_text(c.tls, s.p, int32(i+1), c.text+uintptr(a.off), int32(a.n), del)
		default:
			if b.kind == valNull {
				continue
			}
			rc = sqlite3.Xsqlite3_bind_null(c.tls, s.p, int32(i+1))
		}
		if rc != sqlite3.SQLITE_OK {
			// What SQLite holds for the parameters is unknown now.
			s.bound = s.bound[:0]
			return c.err(rc)
		}
	}
	// Every parameter now holds its value of args, including those not
	// bound again: their values (and texts) are equal.
	copy(s.bound, args)
	s.boundText = append(s.boundText[:0], texts...)
	rc := sqlite3.Xsqlite3_step(c.tls, s.p)
	for rc == sqlite3.SQLITE_ROW {
		rc = sqlite3.Xsqlite3_step(c.tls, s.p)
	}
	// reset returns the step's error again, with its message set.
	if rrc := sqlite3.Xsqlite3_reset(c.tls, s.p); rc != sqlite3.SQLITE_DONE {
		if rrc == sqlite3.SQLITE_OK {
			rrc = rc
		}
		return c.err(rrc)
	}
	return nil
}

// grow makes the text buffer hold at least n bytes (and never 0, so that
// an empty text is bound as ” and not as NULL).
func (c *rawConn) grow(n int) error {
	if n <= c.cap && c.text != 0 {
		return nil
	}
	size := max(n, 2*c.cap, 64<<10)
	p := sqlite3.Xsqlite3_realloc64(c.tls, c.text, uint64(size))
	if p == 0 {
		return fmt.Errorf("out of memory for %d bytes of text", size)
	}
	c.text, c.cap = p, size
	return nil
}

// queryInt runs a statement that binds nothing and returns the integer in
// its first row's first column; ok is false when that is NULL or there is
// no row.
func (s *rawStmt) queryInt() (v int64, ok bool, err error) {
	c := s.c
	rc := sqlite3.Xsqlite3_step(c.tls, s.p)
	if rc == sqlite3.SQLITE_ROW && sqlite3.Xsqlite3_column_type(c.tls, s.p, 0) != sqlite3.SQLITE_NULL {
		v, ok = sqlite3.Xsqlite3_column_int64(c.tls, s.p, 0), true
	}
	if rrc := sqlite3.Xsqlite3_reset(c.tls, s.p); rrc != sqlite3.SQLITE_OK {
		return 0, false, c.err(rrc)
	}
	return v, ok, nil
}

// lastInsertID returns the id of the row the connection inserted last.
func (c *rawConn) lastInsertID() int64 {
	return sqlite3.Xsqlite3_last_insert_rowid(c.tls, c.db)
}
