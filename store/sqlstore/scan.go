package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Column encodings shared by every table:
//   - times are BIGINT unix milliseconds in UTC; the zero time is stored as
//     0 and reads back as the zero time (the Unix epoch itself does too);
//   - maps, slices and JSON documents are TEXT; empty ones are the empty
//     string.

// ms encodes t for a BIGINT column.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// msTime scans a BIGINT millisecond column into a UTC time.
type msTime struct{ t *time.Time }

func (m msTime) Scan(src any) error {
	var n sql.NullInt64
	if err := n.Scan(src); err != nil {
		return err
	}
	if n.Int64 == 0 {
		*m.t = time.Time{}
	} else {
		*m.t = time.UnixMilli(n.Int64).UTC()
	}
	return nil
}

// jsonText encodes a map or slice for a TEXT column; empty ones become the empty string.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil { // only string maps and slices are stored; they always encode
		panic(fmt.Sprintf("sqlstore: encoding %T: %v", v, err))
	}
	switch s := string(b); s {
	case "null", "{}", "[]":
		return ""
	default:
		return s
	}
}

// jsonCol scans a TEXT column written by jsonText into v (a pointer); an
// empty string leaves v's zero value.
type jsonCol struct{ v any }

func (j jsonCol) Scan(src any) error {
	b := textBytes(src)
	if len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, j.v); err != nil {
		return fmt.Errorf("decoding %T column: %w", j.v, err)
	}
	return nil
}

// rawCol scans a TEXT column into a json.RawMessage without parsing it; an
// empty string gives nil.
type rawCol struct{ v *json.RawMessage }

func (r rawCol) Scan(src any) error {
	*r.v = nil
	switch v := src.(type) {
	case string:
		if v != "" {
			*r.v = json.RawMessage(v)
		}
	case []byte:
		if len(v) > 0 {
			*r.v = append(json.RawMessage(nil), v...) // drivers may reuse v
		}
	}
	return nil
}

func textBytes(src any) []byte {
	switch v := src.(type) {
	case string:
		return []byte(v)
	case []byte:
		return v
	}
	return nil
}

func scanInt(r scanner) (n int, err error) {
	err = r.Scan(&n)
	return n, err
}

// qualify prefixes each of a column list's names with a table alias.
func qualify(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// values is a row already read into driver values, scanned again into a
// table scanner's destinations: lets one joined row feed several of them.
// A NULL (a LEFT JOIN that found nothing) leaves the destination zero.
type values []any

func (v values) Scan(dest ...any) error {
	if len(dest) != len(v) {
		return fmt.Errorf("sqlstore: %d destinations for %d columns", len(dest), len(v))
	}
	for i, d := range dest {
		if err := assign(d, v[i]); err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return nil
}

func assign(dest, src any) error {
	if src == nil {
		return nil
	}
	if s, ok := dest.(sql.Scanner); ok {
		return s.Scan(src)
	}
	d := reflect.ValueOf(dest)
	if d.Kind() != reflect.Pointer {
		return fmt.Errorf("destination %T is not a pointer", dest)
	}
	d = d.Elem()
	switch d.Kind() {
	case reflect.String:
		switch v := src.(type) {
		case string:
			d.SetString(v)
			return nil
		case []byte:
			d.SetString(string(v))
			return nil
		}
	case reflect.Bool:
		switch v := src.(type) {
		case bool:
			d.SetBool(v)
			return nil
		case int64:
			d.SetBool(v != 0)
			return nil
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		if v, ok := src.(int64); ok {
			d.SetInt(v)
			return nil
		}
	}
	return fmt.Errorf("cannot scan %T into %T", src, dest)
}
