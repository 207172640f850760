// Package migrations embeds the reviewed, versioned schema migrations, one directory per dialect.
// New files are generated from the ent schema: make migration NAME=what_changed.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed postgres sqlite
var files embed.FS

// For returns the migration files of a dialect ("postgres" or "sqlite").
func For(dialect string) (fs.FS, error) { return fs.Sub(files, dialect) }
