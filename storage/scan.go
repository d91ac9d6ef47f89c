package storage

import (
	"database/sql"

	"gorm.io/gorm"
)

// scanOne runs a query expected to return at most one row and scans it into
// dest; no row is sql.ErrNoRows. It goes through Rows rather than gorm's
// Row: with PrepareStmt, a statement that cannot be prepared (a database
// that is down or closed) makes Row return an empty *sql.Row whose Scan
// panics, where Rows returns the error.
func scanOne(db *gorm.DB, dest ...any) error {
	rows, err := db.Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}
