package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

// TestCheckpointsInBackground: writes are copied back into the file by
// the background checkpoint, without housekeeping and below the writer's
// own threshold (1,000 pages), so the WAL restarts instead of growing by
// each burst. Writes on their own and writes in transactions (the refresh
// path's) each wake it.
func TestCheckpointsInBackground(t *testing.T) {
	for _, inTx := range []bool{false, true} {
		t.Run(fmt.Sprintf("in transaction %v", inTx), func(t *testing.T) {
			// The first burst also holds the schema's setup and one
			// checkpoint (the setup's writes): five bursts, so that later
			// bursts with no checkpoint of their own would outgrow it.
			const bursts = 5
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "cp.db")
			st, req := openTokenStore(t, path)
			walSize := func() int64 {
				fi, err := os.Stat(path + "-wal")
				if err != nil {
					t.Fatal(err)
				}
				return fi.Size()
			}
			var first int64
			for b := range bursts {
				for i := range 25 {
					now := time.Now()
					create := func(ctx context.Context) error {
						return st.CreateToken(ctx, store.Token{Kind: store.KindRefresh, Signature: fmt.Sprintf("b%d-%d", b, i), RequestID: "q",
							RealmID: "r", ClientID: "c", Subject: "u", Active: true, Requested: now, Expires: now.Add(time.Hour), Request: req})
					}
					var err error
					if inTx {
						err = st.Tx(ctx, create)
					} else {
						err = create(ctx)
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				if b == 0 {
					first = walSize()
				}
				time.Sleep(400 * time.Millisecond) // the checkpoint runs 100 ms after the writes
			}
			// 5 bursts of 25 commits stay below the writer's own 1,000-page
			// threshold: only the background checkpoint lets the WAL
			// restart, and a restarted WAL is rewritten from its start
			// instead of growing.
			if last := walSize(); last-first > first/4 {
				t.Fatalf("the WAL grew from %d bytes after the first burst to %d after five: no background checkpoint", first, last)
			}
			if first < 512<<10 {
				t.Fatalf("a burst wrote only %d bytes of WAL: the test does not exercise the threshold", first)
			}
		})
	}
}
