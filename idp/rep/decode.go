package rep

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// decodeAt decodes data into v (a pointer) the way Keycloak's Jackson reads
// a representation, and names the JSON path of the first invalid value, e.g.
// `clients[2].redirectUris: expected array of strings, got string`.
// encoding/json alone cannot: its errors name struct fields but not array
// indices, so arrays, objects and maps are walked element by element here and
// only the leaves go through encoding/json.
//
// Like Jackson (and unlike encoding/json) object keys match field names
// exactly, and scalars are coerced as Jackson does by default: "true" and
// "42" are accepted for booleans and numbers, and booleans and numbers for
// strings (hand-written exports put `"use.refresh.tokens": true` in string
// maps). Unknown keys are ignored. Errors are reported in field declaration
// order, so the same input always names the same path.
//
// Each level re-reads its part of the input, so nesting is capped at
// maxDepth containers (real exports nest groups a few levels deep); deeper
// input is an error instead of quadratic work.
//
// The re-reading is also capped in bytes: all containers together may hold
// reReadFactor times the input (plus reReadSlack). Real exports re-read
// theirs about six times (users' credentials and attributes sit five or six
// containers deep); without the cap a 32 MiB body nesting its bulk 128
// levels deep is read 128 times over, 4 GiB of copies and a minute of CPU.
func decodeAt(data []byte, v any, path string) error {
	data = bytes.TrimSpace(data)
	budget := reReadFactor*len(data) + reReadSlack
	return decodeValue(data, reflect.ValueOf(v).Elem(), path, 0, &budget)
}

const (
	maxDepth     = 128
	reReadFactor = 12
	reReadSlack  = 1 << 20
)

func decodeValue(data []byte, v reflect.Value, path string, depth int, budget *int) error {
	if len(data) == 0 || string(data) == "null" {
		return nil // v keeps its zero value, as with encoding/json
	}
	t := v.Type()
	if depth > maxDepth {
		return fmt.Errorf("%s: nested more than %d levels deep", path, maxDepth)
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Slice, reflect.Map:
		if *budget -= len(data); *budget < 0 {
			return fmt.Errorf("%s: too much data nested too deep", path)
		}
	}
	switch t.Kind() {
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		if err := decodeValue(data, p.Elem(), path, depth, budget); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if data[0] != '{' || json.Unmarshal(data, &obj) != nil {
			return typeError(path, t, data)
		}
		for _, f := range structFields(t) {
			raw, ok := obj[f.name]
			if !ok {
				continue
			}
			if err := decodeValue(bytes.TrimSpace(raw), v.Field(f.index), joinPath(path, f.name), depth+1, budget); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		var arr []json.RawMessage
		if data[0] != '[' || json.Unmarshal(data, &arr) != nil {
			return typeError(path, t, data)
		}
		s := reflect.MakeSlice(t, len(arr), len(arr))
		for i, raw := range arr {
			if err := decodeValue(bytes.TrimSpace(raw), s.Index(i), fmt.Sprintf("%s[%d]", path, i), depth+1, budget); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.Map:
		var obj map[string]json.RawMessage
		if t.Key().Kind() != reflect.String || data[0] != '{' || json.Unmarshal(data, &obj) != nil {
			return typeError(path, t, data)
		}
		m := reflect.MakeMapWithSize(t, len(obj))
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			e := reflect.New(t.Elem()).Elem()
			if err := decodeValue(bytes.TrimSpace(obj[k]), e, keyPath(path, k), depth+1, budget); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), e)
		}
		v.Set(m)
		return nil
	}
	if json.Unmarshal(data, v.Addr().Interface()) == nil {
		return nil
	}
	if coerceScalar(data, v) {
		return nil
	}
	return typeError(path, t, data)
}

// coerceScalar applies Jackson's default scalar coercions.
func coerceScalar(data []byte, v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		if data[0] == 't' || data[0] == 'f' || data[0] == '-' || (data[0] >= '0' && data[0] <= '9') {
			v.SetString(string(data)) // literal true/false/number, already valid JSON
			return true
		}
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Float32, reflect.Float64:
		var s string
		if json.Unmarshal(data, &s) != nil {
			return false
		}
		s = strings.TrimSpace(s)
		switch v.Kind() {
		case reflect.Bool:
			b, err := strconv.ParseBool(s)
			if err != nil || (s != "true" && s != "false") {
				return false
			}
			v.SetBool(b)
		case reflect.Float32, reflect.Float64:
			f, err := strconv.ParseFloat(s, v.Type().Bits())
			if err != nil {
				return false
			}
			v.SetFloat(f)
		default:
			n, err := strconv.ParseInt(s, 10, v.Type().Bits())
			if err != nil {
				return false
			}
			v.SetInt(n)
		}
		return true
	}
	return false
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// keyPath appends a map key: `.key` when it reads well in a path, else
// `["org.keycloak.keys.KeyProvider"]`.
func keyPath(path, key string) string {
	plain := key != ""
	for _, r := range key {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			plain = false
			break
		}
	}
	if plain {
		return joinPath(path, key)
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// typeError says what was expected at path and what the JSON holds instead.
func typeError(path string, t reflect.Type, data []byte) error {
	got := "number"
	switch data[0] {
	case '"':
		got = "string"
	case '{':
		got = "object"
	case '[':
		got = "array"
	case 't', 'f':
		got = "boolean"
	}
	if got == "number" && isInteger(t) {
		got = "number " + string(data) // say which, e.g. 1.5 or an out-of-range value
	}
	if path == "" {
		path = "(document)"
	}
	return fmt.Errorf("%s: expected %s, got %s", path, jsonTypeName(t), got)
}

func isInteger(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

func jsonTypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case isInteger(t):
		return "integer"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		switch e := jsonTypeName(t.Elem()); e {
		case "string", "boolean", "integer", "number", "object":
			return "array of " + e + "s"
		default:
			return "array"
		}
	}
	return t.String()
}

type jsonField struct {
	name  string
	index int
}

var fieldCache sync.Map // reflect.Type -> []jsonField

// structFields lists t's JSON-visible fields in declaration order.
func structFields(t reflect.Type) []jsonField {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]jsonField)
	}
	var fields []jsonField
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		fields = append(fields, jsonField{name, i})
	}
	fieldCache.Store(t, fields)
	return fields
}
