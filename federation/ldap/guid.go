package ldap

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// Binary entry ids. Active Directory's objectGUID and eDirectory's guid
// are 16 raw bytes; Keycloak stores them in LDAP_ID as dashed hex, and a
// realm export carries that form, so keygate must produce exactly the
// same string (LDAPUtil.decodeObjectGUID / decodeGuid).

// decodeObjectGUID is Keycloak's string form of an Active Directory
// objectGUID: the first three groups are little-endian in the binary
// value (Microsoft's GUID layout), the last two big-endian.
func decodeObjectGUID(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("objectGUID is %d bytes, not 16", len(b))
	}
	var le [16]byte
	copy(le[:], b)
	swapGUID(&le)
	return uuid.UUID(le).String(), nil
}

// encodeObjectGUID is the inverse of decodeObjectGUID: the binary value
// to search for.
func encodeObjectGUID(s string) ([]byte, error) {
	u, err := parseDashed(s)
	if err != nil {
		return nil, err
	}
	swapGUID((*[16]byte)(&u))
	return u[:], nil
}

// decodeEDirectoryGUID is Keycloak's string form of eDirectory's guid:
// the bytes in order.
func decodeEDirectoryGUID(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("guid is %d bytes, not 16", len(b))
	}
	return uuid.UUID(b).String(), nil
}

// encodeEDirectoryGUID is the inverse of decodeEDirectoryGUID.
func encodeEDirectoryGUID(s string) ([]byte, error) {
	u, err := parseDashed(s)
	if err != nil {
		return nil, err
	}
	return u[:], nil
}

// parseDashed accepts only the 36-character dashed form: uuid.Parse also
// takes braces and urn: prefixes, which LDAP_ID never holds.
func parseDashed(s string) (uuid.UUID, error) {
	if len(s) != 36 {
		return uuid.UUID{}, fmt.Errorf("%q is not a dashed GUID", s)
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return uuid.UUID{}, fmt.Errorf("%q is not a dashed GUID: %w", s, err)
	}
	return u, nil
}

func swapGUID(b *[16]byte) {
	b[0], b[1], b[2], b[3] = b[3], b[2], b[1], b[0]
	b[4], b[5] = b[5], b[4]
	b[6], b[7] = b[7], b[6]
}

// escapeBytes writes every byte of a binary assertion value as \xx, the
// only safe way to put arbitrary octets in a filter (RFC 4515).
func escapeBytes(b []byte) string {
	var sb strings.Builder
	sb.Grow(3 * len(b))
	h := hex.EncodeToString(b)
	for i := 0; i < len(h); i += 2 {
		sb.WriteByte('\\')
		sb.WriteString(h[i : i+2])
	}
	return sb.String()
}
