// Package migrations holds keygate's schema as numbered SQL files per
// dialect: <dialect>/NNNN_name.up.sql. Files are applied in version order,
// each in its own transaction, by sqlstore.Store.Migrate, which records every
// applied file with its SHA-256 so an edited file is detected at start-up.
//
// Rules for new files: never edit an applied file, add the next number; keep
// the version numbers of both dialects in step; timestamps are BIGINT unix
// milliseconds (0 = unset); JSON documents are TEXT.
package migrations

import "embed"

// FS holds sqlite/*.sql and postgres/*.sql.
//
//go:embed sqlite/*.sql postgres/*.sql
var FS embed.FS
