package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
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
