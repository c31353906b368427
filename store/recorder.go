package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fanout/fanout/fetch"
)

// Batching: a batch is handed to the writer once it holds minBatch results
// or is commitEvery old, but only when the writer is idle, so a slow disk
// makes batches bigger (cheaper per row) instead of slowing the run. Only a
// batch of maxBatch results waits for the writer: that bounds memory when
// the database cannot keep up at all. minBatch is small so that the last
// batch, which the run waits for at its end, is small too.
const (
	minBatch    = 500
	maxBatch    = 50000
	commitEvery = 250 * time.Millisecond
	rowsPerStmt = 64 // rows per INSERT statement; fewer statements is faster
)

// RecorderOptions adjust a Recorder.
type RecorderOptions struct {
	// BeforeCommit, if set, is called on the writer goroutine before each
	// commit; the CLI uses it to fsync the output file, so that after a
	// power loss the file is never shorter than a committed offset.
	BeforeCommit func() error
	// Prior is the checkpoint of the run being resumed (nil for a new
	// run): its targets count as done for the low-water mark.
	Prior *Progress
}

// Recorder writes a run's results to the database. Add, Due, Cut and Close
// belong to one goroutine (the one writing the output); the commits happen
// on the Recorder's own writer goroutine, which owns a connection.
//
// Each commit stores a batch of results together with the run's checkpoint
// in one transaction: the low-water mark and the output files' offsets at
// the moment the batch was cut. A caller that writes results to a file and
// calls Add for exactly the results it has written, then flushes the file
// and passes its length to Cut, gets a database and file that agree after
// a crash at any moment: the file past the committed offset holds exactly
// the results that were not committed.
type Recorder struct {
	db    *DB
	runID int64
	opts  RecorderOptions

	batch    *batch
	first    time.Time // when the batch's first result was added
	track    tracker
	idle     chan struct{} // a token: the writer waits for work
	haveTok  bool
	work     chan *batch
	done     chan struct{}
	err      error // set by the writer before done is closed, or by Cut after it
	failed   chan struct{}
	addErr   error // the first target added twice; the others are still committed
	addDue   bool  // addErr is new: Due says so until the next Cut
	closed   bool  // by Close or Abandon; closeErr is what they returned
	closeErr error
}

// errRecorderClosed is what Cut says after Close or Abandon.
var errRecorderClosed = errors.New("recorder already closed")

type batch struct {
	rows      []row
	lowWater  uint64
	aheadFrom int64
	offsets   map[string]int64
}

type row struct {
	r  *fetch.Result
	ok bool
	id int64 // results.id
}

// Recorder starts recording results for run runID.
func (db *DB) Recorder(runID int64, opts RecorderOptions) *Recorder {
	rec := &Recorder{
		db: db, runID: runID, opts: opts,
		batch:  &batch{},
		idle:   make(chan struct{}, 1),
		work:   make(chan *batch, 1),
		done:   make(chan struct{}),
		failed: make(chan struct{}),
	}
	next, err := db.nextResultID(runID)
	if err == nil {
		// Results of a run with no row would be orphans no command shows.
		_, err = db.Run(runID)
	}
	if err == nil {
		err = db.dropInputIndex()
	}
	rec.track.init(opts.Prior, next)
	go rec.writer(err)
	return rec
}

// dropInputIndex drops the index on (run_id, input) that diff made, up to
// fanout 2026-11-29, in the databases it read: diff pairs targets by their
// key now and no longer uses it, and every result recorded kept it up to
// date, about a fifth of the recorder's time per result. Looked up first,
// so that a database without it takes no write lock here.
func (db *DB) dropInputIndex() error {
	var n int
	if err := db.sql.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'results_input'`).Scan(&n); err != nil || n == 0 {
		return err
	}
	_, err := db.sql.Exec(`DROP INDEX IF EXISTS results_input`)
	return err
}

// nextResultID returns the id of run runID's next result: one past its
// last, or the first of its range.
func (db *DB) nextResultID(runID int64) (int64, error) {
	lo, hi := runIDs(runID)
	var last int64
	err := db.sql.QueryRow(`SELECT id FROM results WHERE id BETWEEN ? AND ? ORDER BY id DESC LIMIT 1`, lo, hi).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return lo, nil
	}
	return last + 1, err
}

// Add queues r, which the run did (ok) or did not accept, for the next
// commit. r is kept until then and must not be changed.
//
// A target already recorded (in this session or, for a resumed run, an
// earlier one) is a caller's bug that would break "one result per target":
// it is not added, and the next Cut, Close or Err returns the error (and
// every one after, so that a caller checking only Close sees it too). The
// other results, before and after it, are still recorded: one bad Seq
// must not lose a batch of good ones.
func (rec *Recorder) Add(r *fetch.Result, ok bool) {
	id, err := rec.track.add(r.Seq)
	if err != nil {
		if rec.addErr == nil {
			rec.addErr = fmt.Errorf("--db %s: recording run %d: %w", rec.db.path, rec.runID, err)
			rec.addDue = true
		}
		return
	}
	if len(rec.batch.rows) == 0 {
		rec.first = time.Now()
	}
	rec.batch.rows = append(rec.batch.rows, row{r: r, ok: ok, id: id})
}

// Due reports whether a batch should be cut now: it is big or old enough
// and the writer is idle, or it is so big that the caller must wait, or a
// target was added twice and Cut has not said so yet.
func (rec *Recorder) Due() bool {
	n := len(rec.batch.rows)
	if rec.addDue {
		return true
	}
	if n == 0 {
		return false
	}
	if n >= maxBatch {
		return true
	}
	if n < minBatch && time.Since(rec.first) < commitEvery {
		return false
	}
	if !rec.haveTok {
		select {
		case <-rec.idle:
			rec.haveTok = true
		default:
		}
	}
	return rec.haveTok
}

// Cut hands the queued results to the writer together with the checkpoint:
// offsets are the output files' lengths now, holding exactly the results
// added so far. It waits only if the writer is still busy with the previous
// batch. It returns the writer's error, if a commit failed, or else the
// error of a target added twice (the batch is handed over all the same).
func (rec *Recorder) Cut(offsets map[string]int64) error {
	if rec.closed {
		return errRecorderClosed
	}
	if !rec.haveTok {
		select {
		case <-rec.idle:
		case <-rec.failed:
			return rec.err
		}
	}
	rec.haveTok = false
	rec.addDue = false
	b := rec.batch
	b.lowWater = rec.track.low
	b.aheadFrom = rec.track.aheadFrom()
	b.offsets = offsets
	rec.batch = &batch{rows: make([]row, 0, max(minBatch, len(b.rows)/2))}
	rec.work <- b
	return rec.addErr
}

// Err returns the error of a failed commit or, failing that, of a target
// added twice; nil if there was neither.
func (rec *Recorder) Err() error {
	select {
	case <-rec.failed:
		return rec.err
	default:
		return rec.addErr
	}
}

// Close commits what is queued with the given offsets, waits for the
// writer and returns the first error.
// A second Close (or one after Abandon) returns the first's error and does
// nothing else, so that a deferred Close may follow an explicit one.
func (rec *Recorder) Close(offsets map[string]int64) error {
	if rec.closed {
		return rec.closeErr
	}
	rec.Cut(offsets) // its error, if any, is Err's below
	rec.closed = true
	close(rec.work)
	<-rec.done
	rec.closeErr = rec.Err()
	return rec.closeErr
}

// Abandon drops the results added since the last Cut, waits for the
// writer and returns its error: for when the output failed and those
// results may not be whole in it.
func (rec *Recorder) Abandon() error {
	if rec.closed {
		return rec.closeErr
	}
	rec.closed = true
	close(rec.work)
	<-rec.done
	rec.closeErr = rec.Err()
	return rec.closeErr
}

// LowWater returns the current low-water mark: every target below it has
// been added (in this or an earlier session of the run).
func (rec *Recorder) LowWater() uint64 { return rec.track.low }

func (rec *Recorder) writer(err error) {
	defer close(rec.done)
	var w rowWriter
	var c *rawConn
	if err == nil {
		c, err = openRaw(rec.db.path)
	}
	if err == nil {
		defer c.close()
		defer w.finalize()
		err = w.prepare(c, rec.runID)
	}
	for {
		if err != nil {
			rec.fail(err)
			for range rec.work { // keep Cut from blocking; nothing more is written
			}
			return
		}
		rec.idle <- struct{}{}
		b, ok := <-rec.work
		if !ok {
			return
		}
		err = rec.commit(c, &w, b)
	}
}

// rowWriter is the writer's statements, prepared once, and its reusable
// argument buffer.
type rowWriter struct {
	begin, commit, rollback *rawStmt
	full, one               *rawStmt // rowsPerStmt rows, one row
	lastID                  *rawStmt // the table's last id
	update                  *rawStmt // the run's counts and checkpoint
	rows                    rows
}

func (w *rowWriter) prepare(c *rawConn, runID int64) error {
	for _, p := range []struct {
		s   **rawStmt
		sql string
	}{
		{&w.begin, "BEGIN IMMEDIATE"}, {&w.commit, "COMMIT"}, {&w.rollback, "ROLLBACK"},
		{&w.full, insertSQL(rowsPerStmt, runID)}, {&w.one, insertSQL(1, runID)},
		{&w.lastID, `SELECT max(id) FROM results`},
		{&w.update, `UPDATE runs SET results = results + ?, failed = failed + ?, low_water = ?, ahead_from = ?, offsets = ? WHERE id = ?`},
	} {
		s, err := c.prepare(p.sql)
		if err != nil {
			return err
		}
		*p.s = s
	}
	return nil
}

func (w *rowWriter) finalize() {
	for _, s := range []*rawStmt{w.begin, w.commit, w.rollback, w.full, w.one, w.lastID, w.update} {
		s.finalize()
	}
}

func (rec *Recorder) fail(err error) {
	rec.err = fmt.Errorf("--db %s: recording run %d: %w", rec.db.path, rec.runID, plainError(err))
	close(rec.failed)
	// A Cut waiting for the idle token must not wait forever.
	select {
	case rec.idle <- struct{}{}:
	default:
	}
}

// commit writes one batch and the checkpoint in one transaction.
func (rec *Recorder) commit(c *rawConn, w *rowWriter, b *batch) (err error) {
	if rec.opts.BeforeCommit != nil {
		if err := rec.opts.BeforeCommit(); err != nil {
			return err
		}
	}
	if err := w.begin.run(nil, nil); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			w.rollback.run(nil, nil)
		}
	}()
	// When the table's last row is the one before the batch's first, as
	// it is while the newest run records alone, the ids are bound NULL:
	// SQLite numbers the rows itself and appends each without a search.
	// An id given instead (a resumed older run, two runs recording at
	// once) costs a search of the table from its root for every row.
	auto := false
	if len(b.rows) > 0 {
		last, ok, err := w.lastID.queryInt()
		if err != nil {
			return err
		}
		auto = ok && last+1 == b.rows[0].id
	}
	var failed int64
	for i := 0; i < len(b.rows); {
		// Full statements, then one row at a time: the statements are
		// prepared once, not parsed again for each batch's remainder.
		n, stmt := rowsPerStmt, w.full
		if len(b.rows)-i < rowsPerStmt {
			n, stmt = 1, w.one
		}
		w.rows.reset()
		for _, row := range b.rows[i : i+n] {
			w.rows.add(row.r, row.ok, row.id, !auto)
			if !row.ok {
				failed++
			}
		}
		if err = stmt.run(w.rows.args, w.rows.texts); err != nil {
			return err
		}
		i += n
		if want := b.rows[i-1].id; auto && c.lastInsertID() != want {
			return fmt.Errorf("result ids out of step: SQLite gave %#x, want %#x", c.lastInsertID(), want)
		}
	}
	off, _ := json.Marshal(b.offsets)
	if b.offsets == nil {
		off = []byte("{}")
	}
	w.rows.reset()
	w.rows.int(int64(len(b.rows)))
	w.rows.int(failed)
	w.rows.int(int64(b.lowWater))
	w.rows.int(b.aheadFrom)
	w.rows.text(string(off))
	w.rows.int(rec.runID)
	if err = w.update.run(w.rows.args, w.rows.texts); err != nil {
		return err
	}
	return w.commit.run(nil, nil)
}

// insertSQL is the statement inserting n results of run runID. The run's
// id (the second column) is written in, not bound: one value fewer to bind
// per row. Every column is listed in the table's order, which lets SQLite
// build each row's record where the VALUES put it instead of copying it.
func insertSQL(n int, runID int64) string {
	var sb strings.Builder
	sb.WriteString("INSERT INTO results(" + insertColumns + ") VALUES ")
	one := "(?," + strconv.FormatInt(runID, 10) + strings.Repeat(",?", insertWidth-2) + ")"
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(one)
	}
	return sb.String()
}

// tracker computes the low-water mark from results that arrive out of
// order: done holds the Seqs added above the mark (a bitmap: a map cost
// more per result than any other part of the tracker), prior the ones
// recorded by an earlier session of the run. It numbers the results (results.id)
// and refuses a Seq it has seen, so a target cannot get two results.
//
// It also keeps the ids of the results above the mark, in id order, for
// the checkpoint's aheadFrom: a resume looks for results above the mark
// only from there on. ahead holds this session's, priorAhead the earlier
// sessions'; their fronts may hold results the mark has since passed,
// which aheadFrom drops.
type tracker struct {
	low        uint64
	done       seqSet
	prior      map[uint64]struct{}
	ahead      []aheadRow
	priorAhead []aheadRow
	next       int64 // the id of the next result
}

type aheadRow struct {
	seq uint64
	id  int64
}

func (t *tracker) init(p *Progress, next int64) {
	t.prior = map[uint64]struct{}{}
	t.next = next
	if p != nil {
		t.low = p.LowWater
		t.priorAhead = p.ahead
		for s := range p.Above {
			t.prior[s] = struct{}{}
			if p.ahead == nil { // a Progress made by hand: AheadFrom bounds them all
				t.priorAhead = append(t.priorAhead, aheadRow{s, p.AheadFrom})
			}
		}
	}
	t.done.raise(t.low)
	t.advance()
}

// add counts seq as done and returns its result's id.
func (t *tracker) add(seq uint64) (int64, error) {
	if t.has(seq) {
		return 0, fmt.Errorf("target %d already has a result: give each target its own Seq, from 0 in input order (input.Reader numbers them)", seq)
	}
	if seq-t.low >= maxSeqAhead && seq > t.low {
		return 0, fmt.Errorf("target %d is %d past the first target without a result (%d): Seq numbers a run's targets from 0 in order, as input.Reader does", seq, seq-t.low, t.low)
	}
	id := t.next
	t.next++
	if seq != t.low {
		t.done.add(seq)
		t.ahead = append(t.ahead, aheadRow{seq, id})
		return id, nil
	}
	t.low++
	t.advance()
	return id, nil
}

func (t *tracker) has(seq uint64) bool {
	if seq < t.low {
		return true
	}
	if t.done.has(seq) {
		return true
	}
	if len(t.prior) > 0 {
		_, ok := t.prior[seq]
		return ok
	}
	return false
}

func (t *tracker) advance() {
	for {
		if t.done.has(t.low) {
			// The mark passes it: the set no longer needs it.
		} else if _, ok := t.prior[t.low]; ok {
			delete(t.prior, t.low)
		} else {
			break
		}
		t.low++
	}
	t.done.raise(t.low)
}

// maxSeqAhead bounds how far past the mark a result's Seq may be: the set
// below holds a bit for each Seq between them (512 MiB at this bound). A
// local run's window keeps the distance small; a distributed run's results
// may come far ahead of a partition nobody served yet, up to the run's
// size; a Seq past it is not a numbering from 0 (an id, a count across
// runs), and grew the set until the process ran out of memory.
const maxSeqAhead = 1 << 32

// seqSet is a set of Seqs at or above a floor that only rises: a bitmap
// from the floor's word up to the highest Seq added. Results arrive nearly
// in input order, so it stays a few words long; a target that holds the
// mark back for long costs a bit per target between it and the highest
// Seq recorded meanwhile (ahead costs more then: 16 bytes a result).
type seqSet struct {
	base  uint64 // the Seq of words[0]'s lowest bit, a multiple of 64
	words []uint64
}

func (s *seqSet) has(seq uint64) bool {
	if seq < s.base {
		return false
	}
	i := (seq - s.base) / 64
	return i < uint64(len(s.words)) && s.words[i]&(1<<(seq%64)) != 0
}

// add adds seq, which is at or above the floor.
func (s *seqSet) add(seq uint64) {
	i := (seq - s.base) / 64
	for uint64(len(s.words)) <= i {
		s.words = append(s.words, 0)
	}
	s.words[i] |= 1 << (seq % 64)
}

// raise forgets the Seqs below floor (those of whole words only: has
// answers for the others until the floor passes their word too, which is
// right, since the tracker asks only about Seqs at or above its mark).
func (s *seqSet) raise(floor uint64) {
	n := 0
	for n < len(s.words) && s.base+64 <= floor {
		s.base += 64
		n++
	}
	s.words = s.words[n:]
	if len(s.words) == 0 {
		s.base = floor &^ 63
	}
}

// aheadFrom returns an id that every result above the mark has at least.
func (t *tracker) aheadFrom() int64 {
	from := t.next
	for _, a := range []*[]aheadRow{&t.ahead, &t.priorAhead} {
		rows := *a
		i := 0
		for i < len(rows) && rows[i].seq < t.low {
			i++
		}
		*a = rows[i:]
		if i < len(rows) {
			from = min(from, rows[i].id)
		}
	}
	return from
}
