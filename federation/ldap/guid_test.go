package ldap

import (
	"bytes"
	"testing"
)

// The byte order of Microsoft's GUID structure: new Guid(byte[]{0, 1,
// ..., 15}) in .NET, and so an objectGUID with those bytes, reads
// 03020100-0504-0706-0809-0a0b0c0d0e0f.
func TestObjectGUIDKnownVector(t *testing.T) {
	raw := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	const want = "03020100-0504-0706-0809-0a0b0c0d0e0f"
	got, err := decodeObjectGUID(raw)
	if err != nil || got != want {
		t.Fatalf("decode: %q, %v; want %q", got, err, want)
	}
	back, err := encodeObjectGUID(want)
	if err != nil || !bytes.Equal(back, raw) {
		t.Fatalf("encode: %x, %v; want %x", back, err, raw)
	}
	if f := eqBytes("objectGUID", back); f != `(objectGUID=\00\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f)` {
		t.Fatalf("filter %s", f)
	}
}

// Keycloak's own LDAPUtilTest vectors round-trip.
func TestGUIDRoundTrips(t *testing.T) {
	for _, s := range []string{"2f419d1c-6495-479f-b340-9cb419eb9ae7", "bcdf4a91-ccb1-ae49-a18f-bcdf4a91ccff"} {
		b, err := encodeObjectGUID(s)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := decodeObjectGUID(b); got != s {
			t.Errorf("objectGUID %s -> %x -> %s", s, b, got)
		}
		b, err = encodeEDirectoryGUID(s)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := decodeEDirectoryGUID(b); got != s {
			t.Errorf("eDirectory guid %s -> %x -> %s", s, b, got)
		}
	}
	// Upper-case input (as an admin may paste it) encodes to the same bytes.
	a, _ := encodeObjectGUID("2F419D1C-6495-479F-B340-9CB419EB9AE7")
	b, _ := encodeObjectGUID("2f419d1c-6495-479f-b340-9cb419eb9ae7")
	if !bytes.Equal(a, b) {
		t.Error("case changes the encoding")
	}
}

func TestGUIDRefusesOtherShapes(t *testing.T) {
	for _, s := range []string{"", "not-a-guid", "{2f419d1c-6495-479f-b340-9cb419eb9ae7}", "urn:uuid:2f419d1c-6495-479f-b340-9cb419eb9ae7",
		"2f419d1c6495479fb3409cb419eb9ae7"} {
		if _, err := encodeObjectGUID(s); err == nil {
			t.Errorf("%q encoded", s)
		}
	}
	for _, n := range []int{0, 15, 17} {
		if _, err := decodeObjectGUID(make([]byte, n)); err == nil {
			t.Errorf("%d bytes decoded", n)
		}
	}
}
