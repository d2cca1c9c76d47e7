package userimport

import (
	"testing"

	"github.com/keygate/keygate/store"
)

// A record whose username or email strings.ToLower maps onto ASCII
// (U+212A KELVIN SIGN onto k) is another source user than the existing
// ASCII one: it is refused, not merged into it. Before, --on-conflict
// update gave kate the password and email of the file's \u212Aate.
func TestImportRefusesNamesFoldedOntoASCII(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		realm := newRealm(t, st, "r")
		opts := Options{Realm: "r", OnConflict: ConflictUpdate}
		const v1 = "username,email,first_name,password_hash,roles,groups\nkate,kate@x.org,Kate,5f4dcc3b5aa765d61d8327deb882cf99,,\n"
		if _, err := importData(t, st, opts, "v1.csv", v1); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, st, realm.ID)
		for _, data := range []string{
			"username,email,first_name,password_hash,roles,groups\n\u212Aate,mallory@x.org,Mallory,e10adc3949ba59abbe56e057f20f883e,,\n",
			"username,email,first_name,password_hash,roles,groups\nmallory,\u212Aate@x.org,Mallory,e10adc3949ba59abbe56e057f20f883e,,\n",
		} {
			res, err := importData(t, st, opts, "v2.csv", data)
			if err == nil && res.Invalid != 1 {
				t.Errorf("%q: %+v, want the record refused", data, res)
			}
			if snapshot(t, st, realm.ID) != before {
				t.Fatalf("%q changed the store:\n%s", data, snapshot(t, st, realm.ID))
			}
		}
		_ = ctx
	})
}
