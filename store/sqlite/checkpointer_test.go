package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

// TestCheckpointsInBackground: writes are copied back into the file by
// the background checkpoint, without housekeeping and below the writer's
// own threshold, so the WAL restarts instead of growing by each burst.
func TestCheckpointsInBackground(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cp.db")
	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateRealm(ctx, store.Realm{ID: "r", Name: "r", Settings: []byte(`{}`), Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	req, _ := json.Marshal(map[string]string{"payload": strings.Repeat("x", 1500)})
	walSize := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	var first int64
	for b := range 6 {
		for i := range 150 {
			now := time.Now()
			err := st.CreateToken(ctx, store.Token{Kind: store.KindRefresh, Signature: fmt.Sprintf("b%d-%d", b, i), RequestID: "q",
				RealmID: "r", ClientID: "c", Subject: "u", Active: true, Requested: now, Expires: now.Add(time.Hour), Request: req})
			if err != nil {
				t.Fatal(err)
			}
		}
		if b == 0 {
			first = walSize()
		}
		time.Sleep(400 * time.Millisecond) // the checkpoint runs 100 ms after the writes
	}
	// 6 bursts of 150 commits stay far below the writer's own 4,000-page
	// threshold: only the background checkpoint lets the WAL restart.
	if last := walSize(); last > 2*first {
		t.Fatalf("the WAL grew from %d bytes after the first burst to %d after six: no background checkpoint", first, last)
	}
	if first < 1<<20 {
		t.Fatalf("a burst wrote only %d bytes of WAL: the test does not exercise the threshold", first)
	}
}
