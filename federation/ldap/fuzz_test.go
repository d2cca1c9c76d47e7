package ldap

import (
	"bytes"
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"
)

// filterValueSeeds are values people type (usernames, emails, search
// strings) and the injections the unit tests try.
var filterValueSeeds = []string{
	"jdoe", "", "*", "**", "jo*", "*doe", "*o*", "a**b", "a*)(uid=*", `x\`, "nul\x00byte",
	"*)(|(objectClass=*", "ünïcødé", "\xff\xfe", "\uFFFD", `\2a`, "(", ")", "=", "~=a", ">=", ":dn:=x",
}

// FuzzFilterValue: a value escaped by eq, or by substring with only its
// stars kept, compiles (go-ldap's CompileFilter, which is what goes on the
// wire) to exactly the assertion it stands for, on the attribute it was
// given, with the value's bytes unchanged: no value can widen, narrow or
// break a search.
func FuzzFilterValue(f *testing.F) {
	for _, v := range filterValueSeeds {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		const attr = "uid"
		flt := eq(attr, v)
		p, err := goldap.CompileFilter(flt)
		if err != nil {
			t.Fatalf("eq(%q) = %s does not compile: %v", v, flt, err)
		}
		checkEquality(t, flt, p, attr, v)

		flt = substring(attr, v)
		p, err = goldap.CompileFilter(flt)
		if err != nil {
			t.Fatalf("substring(%q) = %s does not compile: %v", v, flt, err)
		}
		pieces := strings.Split(v, "*")
		switch {
		case len(pieces) == 1:
			checkEquality(t, flt, p, attr, v)
		case strings.Trim(v, "*") == "":
			if p.Tag != goldap.FilterPresent || p.Data.String() != attr {
				t.Fatalf("substring(%q) = %s: not a presence filter on %s", v, flt, attr)
			}
		default:
			if p.Tag != goldap.FilterSubstrings || len(p.Children) != 2 || p.Children[0].Value != attr {
				t.Fatalf("substring(%q) = %s: not a substrings filter on %s", v, flt, attr)
			}
			var want []string
			for i, piece := range pieces {
				if piece == "" {
					continue
				}
				tag := "any"
				if i == 0 {
					tag = "initial"
				} else if i == len(pieces)-1 {
					tag = "final"
				}
				want = append(want, tag+":"+piece)
			}
			var got []string
			for _, c := range p.Children[1].Children {
				tag := map[ber.Tag]string{goldap.FilterSubstringsInitial: "initial", goldap.FilterSubstringsAny: "any", goldap.FilterSubstringsFinal: "final"}[c.Tag]
				got = append(got, tag+":"+c.Data.String())
			}
			if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
				t.Fatalf("substring(%q) = %s: pieces %q, want %q", v, flt, got, want)
			}
		}
	})
}

func checkEquality(t *testing.T, flt string, p *ber.Packet, attr, v string) {
	t.Helper()
	if p.Tag != goldap.FilterEqualityMatch || len(p.Children) != 2 {
		t.Fatalf("%s: not an equality filter (tag %d)", flt, p.Tag)
	}
	if p.Children[0].Value != attr || p.Children[1].Data.String() != v {
		t.Fatalf("%s: compiles to (%v=%q), want (%s=%q)", flt, p.Children[0].Value, p.Children[1].Data.String(), attr, v)
	}
}

// FuzzUserFilter: whatever a person types, the user query built around
// an administrator's (valid) custom filter compiles, and is the and of
// the object classes, the person's value, as an equality, and the custom
// filter.
func FuzzUserFilter(f *testing.F) {
	for _, custom := range []string{"", "(!(employeeType=disabled))", "memberOf=cn=x,dc=y", "(|(a=1)(b=2))", " (c=*) ", "(&)"} {
		for _, v := range filterValueSeeds[:6] {
			f.Add(custom, v)
		}
	}
	cfg := Config{UserObjectClasses: []string{"inetOrgPerson", "organizationalPerson"}}
	f.Fuzz(func(t *testing.T, custom, v string) {
		cust := customFilter(custom)
		if validFilter(cust) != nil {
			return // the configuration is refused
		}
		cfg := cfg
		cfg.CustomUserSearchFilter = custom
		flt := userFilter(&cfg, eq("uid", v))
		p, err := goldap.CompileFilter(flt)
		if err != nil {
			t.Fatalf("%s does not compile: %v", flt, err)
		}
		want := 3
		if cust != "" {
			want++
		}
		if p.Tag != goldap.FilterAnd || len(p.Children) != want {
			t.Fatalf("%s: not an and of %d", flt, want)
		}
		checkEquality(t, flt, p.Children[2], "uid", v)
		if cust != "" {
			cp, _ := goldap.CompileFilter(cust)
			if !bytes.Equal(cp.Bytes(), p.Children[3].Bytes()) {
				t.Fatalf("%s: the custom filter %s became %x, want %x", flt, cust, p.Children[3].Bytes(), cp.Bytes())
			}
		}
	})
}

// FuzzGUID: a binary GUID read from the directory converts to the dashed
// form and back to the same bytes, and a dashed form accepted as an id
// converts to bytes and back to the same (lower-case) string, both for
// Active Directory's objectGUID and eDirectory's guid; the search
// assertion for it holds those bytes.
func FuzzGUID(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, "03020100-0504-0706-0809-0a0b0c0d0e0f")
	for _, s := range []string{"2f419d1c-6495-479f-b340-9cb419eb9ae7", "2F419D1C-6495-479F-B340-9CB419EB9AE7", "", "not-a-guid",
		"{2f419d1c-6495-479f-b340-9cb419eb9ae7}", "urn:uuid:2f419d1c-6495-479f-b340-9cb419eb9ae7", "2f419d1c6495479fb3409cb419eb9ae7",
		"2f419d1c-6495-479f-b340-9cb419eb9ae\xff", "2f419d1c+6495-479f-b340-9cb419eb9ae7"} {
		f.Add([]byte(s), s)
	}
	f.Fuzz(func(t *testing.T, b []byte, s string) {
		for _, c := range []struct {
			name   string
			decode func([]byte) (string, error)
			encode func(string) ([]byte, error)
		}{
			{"objectGUID", decodeObjectGUID, encodeObjectGUID},
			{"guid", decodeEDirectoryGUID, encodeEDirectoryGUID},
		} {
			str, err := c.decode(b)
			if (err == nil) != (len(b) == 16) {
				t.Fatalf("%s: decode(%x): %v", c.name, b, err)
			}
			if err == nil {
				back, err := c.encode(str)
				if err != nil || !bytes.Equal(back, b) {
					t.Fatalf("%s: %x -> %s -> %x, %v", c.name, b, str, back, err)
				}
			}
			raw, err := c.encode(s)
			if err != nil {
				continue
			}
			if len(raw) != 16 {
				t.Fatalf("%s: %q encodes to %d bytes", c.name, s, len(raw))
			}
			if str, err := c.decode(raw); err != nil || str != strings.ToLower(s) {
				t.Fatalf("%s: %q -> %x -> %q, %v", c.name, s, raw, str, err)
			}
			p, err := goldap.CompileFilter(eqBytes("objectGUID", raw))
			if err != nil || p.Children[1].Data.String() != string(raw) {
				t.Fatalf("%s: the assertion for %q does not hold its bytes: %v", c.name, s, err)
			}
		}
	})
}
