package admin

import (
	"slices"
	"strconv"
	"testing"
)

// TestFilterValues: a caller's list filter reaches the store deduplicated,
// as one of a few lengths (powers of two) with the same set of values, and
// past maxFilterValues distinct values not at all.
func TestFilterValues(t *testing.T) {
	shapes := map[int]bool{}
	for n := 1; n <= maxFilterValues; n++ {
		var in []string
		for i := range n {
			in = append(in, "v"+strconv.Itoa(i), "v"+strconv.Itoa(i)) // each twice
		}
		out, err := filterValues("type", in)
		if err != nil {
			t.Fatalf("%d values: %v", n, err)
		}
		shapes[len(out)] = true
		got := slices.Compact(slices.Sorted(slices.Values(out)))
		want := slices.Compact(slices.Sorted(slices.Values(in)))
		if !slices.Equal(got, want) {
			t.Fatalf("%d values: set %v, want %v", n, got, want)
		}
	}
	if len(shapes) > 9 {
		t.Errorf("%d statement shapes for one list, want at most 9", len(shapes))
	}
	var many []string
	for i := range maxFilterValues + 1 {
		many = append(many, strconv.Itoa(i))
	}
	if _, err := filterValues("type", many); err == nil {
		t.Error("more than maxFilterValues distinct values accepted")
	}
	if out, err := filterValues("type", nil); out != nil || err != nil {
		t.Errorf("no filter: %v %v", out, err)
	}
}
