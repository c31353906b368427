// Package store records fanout runs in a SQLite database (modernc.org/sqlite,
// pure Go, WAL mode) so that a run can be queried afterwards with the sqlite3
// shell, re-emitted, compared with another run, and resumed after any
// interruption, a SIGKILL included, with every result recorded exactly once.
//
// One database holds many runs. The runs table has one row per run (its
// command line, configuration, counts, state and resume checkpoint); the
// results table one row per result, with the fields people filter on as
// columns and the rest of the documented result schema as JSON. Writes go
// through a Recorder: one goroutine that owns a connection and commits
// results in batches, each batch together with the run's checkpoint.
//
// Open a database with Open, start a run with DB.CreateRun, record its
// results with DB.Recorder (Add each, then Close) and end it with
// DB.SetState. DB.Runs, DB.Run and DB.LastRun list runs, DB.Results reads a
// run's results back in input order, and DB.Diff compares two runs.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// Run states, as stored in runs.state.
const (
	StateRunning     = "running"     // started; a process may still be running it, or it was killed
	StateInterrupted = "interrupted" // stopped by Ctrl-C, SIGTERM or an error; resumable
	StateDone        = "done"        // every target has a result
)

// schema creates the tables and indexes of a new database, layout 2
// (PRAGMA user_version; see setUp and migrateResults for layout 1).
//
// A result's id is its run's id shifted left by idBits, plus the result's
// place in the order the run recorded (and wrote) its results. So a run's
// results are one range of ids, read without an index, and a recording
// run only ever appends to the end of the table: the cheapest insert
// SQLite has. A key on (run_id, seq) instead, which inputs arrive at out of
// order, cost a quarter of the recording's time per result. That a target
// has at most one result is the Recorder's to keep, and it refuses a
// second one (see tracker); seq is the target's input position.
//
// runs.ahead_from is part of the resume checkpoint: every result of the
// run at or past its low_water has an id of at least ahead_from, so a
// resume reads only the tail of the run to find them.
var schema = `
CREATE TABLE IF NOT EXISTS runs (
  id          INTEGER PRIMARY KEY,
  started_at  TEXT NOT NULL,
  finished_at TEXT,
  state       TEXT NOT NULL,
  command     TEXT NOT NULL,
  config      TEXT NOT NULL,
  results     INTEGER NOT NULL DEFAULT 0,
  failed      INTEGER NOT NULL DEFAULT 0,
  low_water   INTEGER NOT NULL DEFAULT 0,
  offsets     TEXT NOT NULL DEFAULT '{}',
  ahead_from  INTEGER NOT NULL DEFAULT 0
);
` + resultsTable + resultsIndexes + `
PRAGMA user_version = ` + strconv.Itoa(layout) + `;
`

// layout is the database layout this fanout makes and reads (PRAGMA
// user_version).
const layout = 2

const resultsTable = `
CREATE TABLE IF NOT EXISTS results (
  id           INTEGER PRIMARY KEY,
  run_id       INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  seq          INTEGER NOT NULL,
  input        TEXT NOT NULL,
  url          TEXT NOT NULL,
  host         TEXT NOT NULL,
  final_url    TEXT NOT NULL,
  status       INTEGER NOT NULL,
  ok           INTEGER NOT NULL,
  error_kind   TEXT,
  error        TEXT,
  total_ms     REAL NOT NULL,
  bytes        INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  title        TEXT NOT NULL,
  ip           TEXT NOT NULL,
  attempts     INTEGER NOT NULL,
  started_at   TEXT NOT NULL,
  extra        TEXT NOT NULL
);
`

const resultsIndexes = `
CREATE INDEX IF NOT EXISTS results_error ON results(run_id, error_kind) WHERE error_kind IS NOT NULL;
`

// idBits is how many low bits of a result's id number it within its run:
// a run holds up to 2^40 (about 10^12) results, a database 2^23 runs.
const idBits = 40

// runIDs returns the range of result ids of run runID, both ends included.
func runIDs(runID int64) (lo, hi int64) {
	return runID << idBits, runID<<idBits | (1<<idBits - 1)
}

// migrateResults brings the results table of layout 1 (before
// user_version was set), keyed by (run_id, seq), to layout 2: each run's
// results get ids in input order, which for a finished run is as good as
// any; the runs' ahead_from is 0, which makes a resume read the run's whole
// range. Results whose run is gone (deleted in the sqlite3 shell, where
// foreign keys are off) are left behind; triggers on the old table go with
// it, while views that name results name the new table (setUp renames
// with legacy_alter_table on, so their text is not rewritten).
var migrateResults = `
ALTER TABLE results RENAME TO results_v1;
` + resultsTable + `
INSERT INTO results(` + insertColumns + `)
SELECT (run_id << ` + strconv.Itoa(idBits) + `) + row_number() OVER (PARTITION BY run_id ORDER BY seq) - 1,
  ` + strings.TrimPrefix(insertColumns, "id, ") + `
FROM results_v1 WHERE run_id IN (SELECT id FROM runs) ORDER BY run_id, seq;
DROP TABLE results_v1;
`

// DB is an open fanout database. Its read methods may be used from any
// goroutine, also while a Recorder writes.
type DB struct {
	sql      *sql.DB
	path     string
	lockFile *os.File // LockRun's, once it is called
}

// connPragmas are the settings of every connection to a database: the
// pool's, through the DSN, and the recorder's own (openRaw).
var connPragmas = [][2]string{
	{"synchronous", "NORMAL"}, {"busy_timeout", "10000"}, {"cache_size", "-32768"},
	{"wal_autocheckpoint", "128"},
}

// Temporary storage: the recorder's statement journals stay in memory;
// the pool's sorts (show sorts a run into input order) spill to files
// beyond cache_size, so that sorting a run of any size takes bounded memory.
const (
	writerTempStore = "MEMORY"
	poolTempStore   = "FILE"
)

// writerCacheSize is the recorder's page cache (PRAGMA cache_size, KiB
// when negative), in place of connPragmas' 32 MiB. The recorder only
// appends, so the pages it touches again are the few on the table's right
// edge; every other page it writes is a new one. While the cache is not
// full, each new page was a new allocation, which modernc's allocator
// maps fresh from the kernel and the first write faults in: a third of
// the writer's CPU in profiles of a run, over half in BenchmarkRecorder
// (6.1-6.5 to 2.8-3.1 µs per result; BENCHMARKS.md), and in a run of
// 20,000 results, 8 MB in all, every page was new. A small cache is full
// after a few batches and then reuses its pages. A batch bigger than the
// cache (over ~5,000 results, when the writer falls behind) is written to
// the WAL in part before its commit, as SQLite spills dirty pages; readers
// and a crash see none of it until the commit makes it whole
// (TestSpilledBatchAllOrNothing).
const writerCacheSize = "-2048"

// Open opens the database at path, creating it and its tables if needed.
// A connection of its pool keeps up to 32 MiB of pages, for the reads and
// sorts of show, diff and report.
// The database uses WAL journaling with synchronous=NORMAL: a commit
// survives the death of the process (SIGKILL, OOM kill) at once, and a
// power loss or reboot may lose only the last commits, never consistency.
//
// A new database gets 16 KiB pages (page_size must come before WAL mode,
// which setUp applies): a quarter of the WAL frames, and so of the writes,
// of 4 KiB pages for the same rows. The WAL is checkpointed every 128
// pages (2 MiB), so closing the database at the end of a run, which
// checkpoints what is left, takes milliseconds.
func Open(path string) (*DB, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, fmt.Errorf("--db %s: is a directory: give the database's file name, such as %s", path, filepath.Join(path, "fanout.db"))
	}
	var dsn strings.Builder
	dsn.WriteString("file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=page_size(16384)")
	for _, p := range connPragmas {
		dsn.WriteString("&_pragma=" + p[0] + "(" + p[1] + ")")
	}
	dsn.WriteString("&_pragma=temp_store(" + poolTempStore + ")&_pragma=foreign_keys(ON)&_txlock=immediate")
	db, err := sql.Open("sqlite", dsn.String())
	if err != nil {
		return nil, fmt.Errorf("--db %s: %w", path, err)
	}
	if err := setUp(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("--db %s: %w", path, plainError(err))
	}
	return &DB{sql: db, path: path}, nil
}

// plainError says what SQLite's commonest failures to open a database mean
// for the user, in place of its terse text and number ("unable to open
// database file (14)"); the *sqlite.Error stays wrapped for errors.As.
func plainError(err error) error {
	var se coded // the driver's *sqlite.Error, or the recorder's rawError
	if !errors.As(err, &se) {
		return err
	}
	var msg string
	switch se.Code() & 0xff { // the primary result code
	case sqlite3.SQLITE_CANTOPEN:
		msg = "cannot open or create the file: check that its directory exists and is writable"
	case sqlite3.SQLITE_NOTADB:
		msg = "not a SQLite database: give a fanout database, or a new file name"
	case sqlite3.SQLITE_READONLY:
		msg = "the database is read-only: fanout needs to write to it (and to the -wal and -shm files beside it)"
		if se.Code() == sqlite3.SQLITE_READONLY_DIRECTORY {
			msg = "its directory is not writable, and SQLite keeps the -wal and -shm files beside the database, " +
				"also to read it: copy it somewhere writable"
		}
	case sqlite3.SQLITE_CORRUPT:
		msg = "the database is damaged (sqlite3 FILE .recover can save what is left)"
	case sqlite3.SQLITE_FULL:
		msg = "the disk is full"
	case sqlite3.SQLITE_BUSY:
		msg = "the database stayed locked by another process for 10 s"
	default:
		return err
	}
	return plainErr{msg, se}
}

// coded is an SQLite error with its result code.
type coded interface {
	error
	Code() int
}

type plainErr struct {
	msg string
	err coded
}

func (e plainErr) Error() string { return e.msg }
func (e plainErr) Unwrap() error { return e.err }

// setUp creates the tables of a new database or brings an older one to
// the current layout, in one transaction (the DSN makes it immediate, so
// two processes opening one new file do not both create it). The layout
// is read from the tables' columns, not from user_version alone: a dump
// loaded into a new file has the current layout and user_version 0, and an
// older fanout killed while creating a database left runs without results.
func setUp(db *sql.DB) error {
	var version int
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil {
		return err
	}
	if err := ownedByFanout(db); err != nil {
		return err
	}
	// WAL is the file's own setting, made once: here, after the check,
	// rather than in the DSN, which switched another program's database
	// before fanout refused it. (A new file takes the DSN's page_size as
	// long as it has no table yet.)
	var mode string
	err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode)
	if err != nil {
		return err
	}
	if mode != "wal" {
		if mode, err = switchToWAL(db); err != nil {
			return err
		}
		if mode != "wal" {
			return fmt.Errorf("cannot switch the database to WAL journaling (it stays %q)", mode)
		}
	}
	if version >= layout {
		return checkLayout(version) // the common case takes no lock: a run may be recording
	}
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA legacy_alter_table = ON`); err != nil {
		return err
	}
	defer conn.ExecContext(ctx, `PRAGMA legacy_alter_table = OFF`)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Again under the write lock: another process may have set it up.
	if err := tx.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil {
		return err
	}
	if version >= layout {
		return checkLayout(version)
	}
	has := func(table, column string) (tableExists, columnExists bool, err error) {
		var n, c int
		err = tx.QueryRow(`SELECT count(*), count(*) FILTER (WHERE name = ?) FROM pragma_table_info(?)`, column, table).Scan(&n, &c)
		return n > 0, c > 0, err
	}
	steps := []struct {
		table, column, sql string
	}{
		{"runs", "ahead_from", `ALTER TABLE runs ADD COLUMN ahead_from INTEGER NOT NULL DEFAULT 0`},
		{"results", "id", migrateResults},
	}
	for _, st := range steps {
		exists, current, err := has(st.table, st.column)
		if err != nil {
			return err
		}
		if exists && !current {
			if _, err := tx.Exec(st.sql); err != nil {
				return fmt.Errorf("bringing table %s to this fanout's layout: %w", st.table, err)
			}
		}
	}
	if _, err := tx.Exec(schema); err != nil {
		return err
	}
	return tx.Commit()
}

// switchToWAL switches a new database to WAL journaling. The switch needs
// the file to itself, and SQLite does not wait for it (busy_timeout does
// not apply: the statement already holds a read lock, and waiting with one
// could deadlock), so the second of two processes opening a new file at
// the same moment got SQLITE_BUSY at once. It tries again, as long as
// busy_timeout would have waited; the other process may have switched it.
func switchToWAL(db *sql.DB) (string, error) {
	deadline := time.Now().Add(10 * time.Second) // busy_timeout, connPragmas
	for {
		var mode string
		err := db.QueryRow(`PRAGMA journal_mode = WAL`).Scan(&mode)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return mode, err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ownedByFanout refuses a database that some other program made: fanout
// would add its tables to it (and switch it to WAL), and a reader such as
// fanout runs would fail on its own table of the same name. An empty
// database is a new one; fanout's has a runs table with its columns.
func ownedByFanout(q interface {
	QueryRow(string, ...any) *sql.Row
}) error {
	var others string
	var tables, runCols int
	err := q.QueryRow(`SELECT count(*), coalesce(group_concat(name, ', '), '') FROM
		(SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name LIMIT 5)`).Scan(&tables, &others)
	if err != nil || tables == 0 {
		return err
	}
	if err := q.QueryRow(`SELECT count(*) FROM pragma_table_info('runs') WHERE name IN ('state', 'command', 'config')`).Scan(&runCols); err != nil {
		return err
	}
	if runCols < 3 {
		return fmt.Errorf("not a fanout database (its tables: %s): give a fanout database, or a new file name", others)
	}
	return nil
}

func checkLayout(version int) error {
	if version > layout {
		return fmt.Errorf("database layout %d is newer than this fanout knows (%d); use a newer fanout", version, layout)
	}
	return nil
}

// Close closes the database, and releases the runs LockRun locked.
func (db *DB) Close() error {
	if db.lockFile != nil {
		db.lockFile.Close()
		db.lockFile = nil
	}
	return db.sql.Close()
}

// Path returns the file name the database was opened with.
func (db *DB) Path() string { return db.path }

// Config is what a run was started with, stored as JSON in runs.config. It
// holds what resume needs to number targets the same way again.
type Config struct {
	// Dir is the working directory the run was started in; relative
	// names in Command are relative to it.
	Dir string `json:"dir"`
	// Inputs are the -i files as absolute names ("-" for stdin), in order.
	Inputs []string `json:"inputs"`
	// Args are the targets given as arguments, in order.
	Args []string `json:"args"`
	// InputFiles identifies each regular -i file's content at the start,
	// so a resume can refuse a file that changed.
	InputFiles []FileStamp `json:"input_files,omitempty"`
	// Dedupe is true unless --no-dedupe was given: duplicates got no
	// Seq of their own.
	Dedupe bool `json:"dedupe"`
	// Output is the -o file as an absolute name, "" for stdout.
	Output string `json:"output"`
	// Format is the output format, one of output.Formats.
	Format string `json:"format"`
	// Ordered is --ordered: results were written in input order.
	Ordered bool `json:"ordered"`
	// Accept is the --accept rule the results' ok column was computed with.
	Accept string `json:"accept"`
	// Flags are every flag set on the command line, for the record.
	Flags map[string]string `json:"flags,omitempty"`
	// DedupeKey is the key, in hex, of the hash dedupe kept of each URL
	// (input.Options.DedupeKey): a resume reads the input with it again,
	// to skip the same duplicates. Empty in runs recorded before it.
	DedupeKey string `json:"dedupe_key,omitempty"`
}

// FileStamp identifies a file's content cheaply: its size and modification
// time.
type FileStamp struct {
	// Name is the file's absolute name, as in Config.Inputs.
	Name string `json:"name"`
	// Size is its length in bytes.
	Size int64 `json:"size"`
	// ModTime is its modification time.
	ModTime time.Time `json:"mtime"`
}

// Run is one recorded run.
type Run struct {
	ID         int64     // the run's id, from 1 (fanout runs lists them)
	StartedAt  time.Time // when the run was first started
	FinishedAt time.Time // zero while running or when killed
	State      string    // StateRunning, StateInterrupted or StateDone
	Command    []string  // the command line, without the program name
	Config     Config    // what the run was started with
	Results    int64     // results recorded
	Failed     int64     // results not accepted by Config.Accept
	// LowWater is the resume checkpoint: every target with a lower
	// sequence number has a result.
	LowWater uint64
	// Offsets maps each output file to its size at the last commit: the
	// bytes that hold exactly the recorded results.
	Offsets map[string]int64
	// AheadFrom completes the checkpoint: every result at or past
	// LowWater has an id (results.id) of at least AheadFrom.
	AheadFrom int64
}

// CreateRun records the start of a run and returns its id.
func (db *DB) CreateRun(command []string, cfg Config) (int64, error) {
	cmd, _ := json.Marshal(command)
	c, _ := json.Marshal(cfg)
	res, err := db.sql.Exec(`INSERT INTO runs(started_at, state, command, config) VALUES (?, ?, ?, ?)`,
		time.Now().UTC().Format(time.RFC3339Nano), StateRunning, string(cmd), string(c))
	if err != nil {
		return 0, fmt.Errorf("--db %s: recording the run: %w", db.path, plainError(err))
	}
	return res.LastInsertId()
}

// SetState sets a run's state; a finished state (done or interrupted)
// also sets finished_at. Resuming a run sets it back to running.
func (db *DB) SetState(id int64, state string) error {
	var fin any
	if state != StateRunning {
		fin = time.Now().UTC().Format(time.RFC3339Nano)
	}
	_, err := db.sql.Exec(`UPDATE runs SET state = ?, finished_at = ? WHERE id = ?`, state, fin, id)
	if err != nil {
		return fmt.Errorf("--db %s: run %d: %w", db.path, id, plainError(err))
	}
	return nil
}

// SetTimes sets a run's started_at and finished_at: collect records a
// run's as its results' span, the time the run took, not its own.
func (db *DB) SetTimes(id int64, started, finished time.Time) error {
	_, err := db.sql.Exec(`UPDATE runs SET started_at = ?, finished_at = ? WHERE id = ?`,
		started.UTC().Format(time.RFC3339Nano), finished.UTC().Format(time.RFC3339Nano), id)
	if err != nil {
		return fmt.Errorf("--db %s: run %d: %w", db.path, id, plainError(err))
	}
	return nil
}

const runColumns = `id, started_at, coalesce(finished_at, ''), state, command, config, results, failed, low_water, offsets, ahead_from`

// ErrNoRun is returned for a run id the database does not hold.
var ErrNoRun = errors.New("no such run")

// Runs returns every recorded run, oldest first.
func (db *DB) Runs() ([]Run, error) {
	rows, err := db.sql.Query(`SELECT ` + runColumns + ` FROM runs ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("--db %s: %w", db.path, err)
	}
	defer rows.Close()
	var runs []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("--db %s: %w", db.path, err)
		}
		runs = append(runs, r)
	}
	return runs, rows.Err()
}

// Run returns the run with id, or an error wrapping ErrNoRun.
func (db *DB) Run(id int64) (Run, error) {
	r, err := scanRun(db.sql.QueryRow(`SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("--db %s: run %d: %w", db.path, id, ErrNoRun)
	}
	if err != nil {
		return Run{}, fmt.Errorf("--db %s: run %d: %w", db.path, id, err)
	}
	return r, nil
}

// LastRun returns the most recent run, or an error wrapping ErrNoRun.
func (db *DB) LastRun() (Run, error) {
	var id int64
	err := db.sql.QueryRow(`SELECT coalesce(max(id), 0) FROM runs`).Scan(&id)
	if err != nil {
		return Run{}, fmt.Errorf("--db %s: %w", db.path, err)
	}
	if id == 0 {
		return Run{}, fmt.Errorf("--db %s: no runs recorded: %w", db.path, ErrNoRun)
	}
	return db.Run(id)
}

// ParseRunID reads a run reference: a number; "last" for the most recent
// run; or "last~N" for the Nth run before it, as git's HEAD~N ("last~1"
// is the run before the last, "last~0" the last, "last~" "last~1"). Runs
// are counted as the database holds them, in the order of their ids.
func (db *DB) ParseRunID(s string) (int64, error) {
	name, back, rel := strings.Cut(s, "~")
	if name == "last" || name == "latest" {
		n := int64(0)
		if rel {
			var err error
			if n, err = parseBack(back); err != nil {
				return 0, fmt.Errorf("run %q: %w", s, err)
			}
		}
		if n == 0 {
			r, err := db.LastRun()
			return r.ID, err
		}
		return db.runBack(s, n)
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("run %q: want a run id (see fanout runs), last, or last~N for the Nth run before the last", s)
	}
	return id, nil
}

// parseBack reads the N of "last~N"; "" is 1, as in git.
func parseBack(s string) (int64, error) {
	if s == "" {
		return 1, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || s[0] == '+' {
		return 0, fmt.Errorf("want last~N with N a whole number of runs back (last~1 is the run before the last)")
	}
	return n, nil
}

// runBack returns the id of the nth run before the last; ref is how the
// user wrote it, for the error.
func (db *DB) runBack(ref string, n int64) (int64, error) {
	var id, runs int64
	err := db.sql.QueryRow(`SELECT coalesce((SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?), 0), count(*) FROM runs`, n).Scan(&id, &runs)
	switch {
	case err != nil:
		return 0, fmt.Errorf("--db %s: %w", db.path, err)
	case id != 0:
		return id, nil
	case runs == 0:
		return 0, fmt.Errorf("--db %s: no runs recorded: %w", db.path, ErrNoRun)
	}
	held := strconv.FormatInt(runs, 10) + " runs"
	if runs == 1 {
		held = "1 run"
	}
	return 0, fmt.Errorf("--db %s: run %q: the database holds %s, so the oldest is last~%d (fanout runs lists them): %w",
		db.path, ref, held, runs-1, ErrNoRun)
}

type scanner interface{ Scan(...any) error }

func scanRun(s scanner) (Run, error) {
	var r Run
	var started, finished, cmd, cfg, offsets string
	var low int64
	if err := s.Scan(&r.ID, &started, &finished, &r.State, &cmd, &cfg, &r.Results, &r.Failed, &low, &offsets, &r.AheadFrom); err != nil {
		return r, err
	}
	r.StartedAt, _ = time.Parse(time.RFC3339Nano, started)
	if finished != "" {
		r.FinishedAt, _ = time.Parse(time.RFC3339Nano, finished)
	}
	r.LowWater = uint64(low)
	if err := json.Unmarshal([]byte(cmd), &r.Command); err != nil {
		return r, fmt.Errorf("run %d: command: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(cfg), &r.Config); err != nil {
		return r, fmt.Errorf("run %d: config: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(offsets), &r.Offsets); err != nil {
		return r, fmt.Errorf("run %d: offsets: %w", r.ID, err)
	}
	return r, nil
}
