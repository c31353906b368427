package store_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/store"
)

// record stores results as one run, the way the command does: create the
// run, add each result with its accept verdict, close the recorder (which
// commits), and mark the run done.
func record(db *store.DB, results []fetch.Result) (int64, error) {
	id, err := db.CreateRun([]string{"-i", "urls.txt"}, store.Config{Dedupe: true, Format: "jsonl", Accept: "200..=399"})
	if err != nil {
		return 0, err
	}
	rec := db.Recorder(id, store.RecorderOptions{})
	for i := range results {
		r := &results[i]
		rec.Add(r, r.Error == nil && r.Status >= 200 && r.Status <= 399)
	}
	if err := rec.Close(nil); err != nil {
		return 0, err
	}
	return id, db.SetState(id, store.StateDone)
}

// Record two runs over the same targets, read one back in input order, and
// list what got worse from the first to the second.
func Example() {
	dir, err := os.MkdirTemp("", "fanout-store-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	db, err := store.Open(filepath.Join(dir, "runs.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()

	monday := []fetch.Result{
		{Seq: 1, Input: "http://127.0.0.1:8080/b", Status: 200, Attempts: 1},
		{Seq: 0, Input: "http://127.0.0.1:8080/a", Status: 200, Attempts: 1},
	}
	tuesday := []fetch.Result{
		{Seq: 0, Input: "http://127.0.0.1:8080/a", Status: 200, Attempts: 1},
		{Seq: 1, Input: "http://127.0.0.1:8080/b", Attempts: 3,
			Error: &fetch.Error{Kind: fetch.KindRefused, Message: "connection refused"}},
	}
	a, err := record(db, monday)
	if err != nil {
		fmt.Println(err)
		return
	}
	b, err := record(db, tuesday)
	if err != nil {
		fmt.Println(err)
		return
	}

	for r, err := range db.Results(a) { // in input order, whatever order they were recorded in
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(a, r.Seq, r.Input, r.Status)
	}
	st, err := db.Diff(a, b, store.DefaultDiffOptions(), func(c store.Change) error {
		fmt.Printf("%s %s worse=%v: %d -> %d %s\n", c.Kind, c.Input, c.Worse, c.A.Status, c.B.Status, c.B.ErrorKind)
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("compared %d, worse %d\n", st.Compared, st.Worse)
	run, _ := db.Run(b)
	fmt.Println(run.State, run.Results, run.Failed)
	// Output:
	// 1 0 http://127.0.0.1:8080/a 200
	// 1 1 http://127.0.0.1:8080/b 200
	// failing http://127.0.0.1:8080/b worse=true: 200 -> 0 refused
	// compared 2, worse 1
	// done 2 1
}
